/**
 * `trailguard exempt add|list|remove`: the exemptions in SSM Parameter Store (shared/live-config/layout.ts), one
 * parameter each, which the functions read within their configuration cache time, so an exemption needs no deploy.
 * `add` creates (never overwrites: an existing one is a conflict) and reads back, `add --replace` overwrites one in
 * place (renewal without a gap in which the resource is not exempt); `remove` deletes exactly one parameter (or, with
 * --expired, each expired one, re-read just before); `list` shows the store's and the deploy-time ones, with who last
 * changed each parameter as IAM recorded it. Every value read from the store is attacker-controlled: it is parsed
 * with the schema, and shown only made terminal-safe.
 */
import { DeleteParameterCommand, GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import * as v from 'valibot';
import { baseClientConfig } from '../shared/aws/client-options.js';
import { stsClient } from '../shared/aws/sts.js';
import { RULE_IDS, type Config, type Exemption, type RuleId } from '../shared/config.js';
import { consoleOut } from '../shared/log.js';
import { awsCall, classifyAwsError, errorCodeOf } from '../shared/aws/errors.js';
import { broadness } from '../shared/exemption-breadth.js';
import { dayOf, lastModifiers, parseStored, statusOf, storedExemptions, type ListedExemption } from '../shared/exemption-store.js';
import { exemptionParameter, exemptionsRoot, StoredExemption } from '../shared/live-config/layout.js';
import { wrap } from './output.js';
import { EXIT } from './replay.js';
import { count, type Shown, type Terminal } from './terminal.js';
import { closest, UsageProblem } from './usage.js';

/** Judged in shared/ (the config-store-change alert uses it too); exported here for the CLI's tests. */
export { broadness };

/** SSM Standard tier holds values of at most 4 KB. */
const STANDARD_VALUE_BYTES = 4096;
/** Controls and format characters: no resource id or name holds one, and in a reason they hide or reorder text. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** What every `exempt` action works with: the store, who the caller is, the clock and where output goes. */
export interface ExemptContext {
  readonly ssm: SSMClient;
  /** `<prefix>` of the stack (config parameterPrefix, stack output ParameterPrefix). */
  readonly prefix: string;
  /** The deploy-time exemptions (TRAILGUARD_EXEMPTIONS or --config), listed beside the store's. */
  readonly deployed: readonly Exemption[];
  /** How long the functions cache their configuration (configMaxAgeSeconds): when a change takes effect. */
  readonly cacheSeconds: number;
  /** The caller's ARN (STS GetCallerIdentity), recorded as `addedBy`. */
  readonly callerArn: () => Promise<string>;
  readonly now: () => number;
  readonly terminal: Terminal;
  readonly err: (text: string) => void;
}

// ------------------------------------------------------------------------------------------ validation

/** `--rule`: a rule id or `*`, with a guess for a typo. */
export function ruleOption(text: string | undefined): RuleId | '*' {
  if (text === undefined) throw new UsageProblem('--rule RULE (a rule id, or * for every rule) is required', true);
  if (text === '*') return '*';
  const rule = RULE_IDS.find((id) => id === text);
  if (rule) return rule;
  const guess = closest(text, RULE_IDS);
  throw new UsageProblem(`--rule must be * or one of ${RULE_IDS.join(', ')}, got "${text}"${guess ? ` (did you mean ${guess}?)` : ''}`);
}

/** `--resource`: a glob as the schema takes it, and nothing a resource name never holds. */
function resourceOption(text: string | undefined): string {
  if (text === undefined || text === '') throw new UsageProblem('--resource GLOB (a resource id or name; * and ? allowed) is required', true);
  if (UNSAFE.test(text)) throw new UsageProblem('--resource holds a control or format character: no resource id or name has one');
  const checked = v.safeParse(StoredExemption.entries.resource, text);
  if (!checked.success) throw new UsageProblem(`--resource: ${checked.issues[0].message}`);
  return text;
}

/** `--expires`: a real calendar day, today or later (an exemption holds through its expiry day). */
function expiresOption(text: string | undefined, today: string): string | undefined {
  if (text === undefined) return undefined;
  const [, y, m, d] = ISO_DATE.exec(text) ?? [];
  const date = y && m && d ? new Date(Date.UTC(Number(y), Number(m) - 1, Number(d))) : undefined;
  if (!date || dayOf(date.getTime()) !== text) throw new UsageProblem(`--expires must be a date YYYY-MM-DD, got "${text}"`);
  if (text < today) throw new UsageProblem(`--expires ${text} is in the past (today is ${today}, UTC): an exemption holds through its expiry day`);
  return text;
}

/** The parameter's current value and version, or undefined when there is none. */
async function currentParameter(
  ssm: SSMClient,
  name: string,
): Promise<{ readonly value: string | undefined; readonly version: number | undefined } | undefined> {
  try {
    const answer = await ssm.send(new GetParameterCommand({ Name: name }));
    return { value: answer.Parameter?.Value, version: answer.Parameter?.Version };
  } catch (error) {
    if (errorCodeOf(error) === 'ParameterNotFound') return undefined;
    throw classifyAwsError(error, 'SSM.GetParameter', name);
  }
}

/** The parameter's current value, or undefined when there is none. */
async function currentValue(ssm: SSMClient, name: string): Promise<string | undefined> {
  return (await currentParameter(ssm, name))?.value;
}

/** The one-line description of a stored exemption for messages: reason and expiry, made safe by the caller. */
function described(exemption: StoredExemption | undefined): string {
  if (!exemption) return 'an invalid value';
  return `${exemption.reason}, ${exemption.expires ? `expires ${exemption.expires}` : 'no expiry'}`;
}

// ------------------------------------------------------------------------------------------ add

export interface AddArgs {
  readonly rule: string | undefined;
  readonly resource: string | undefined;
  readonly reason: string | undefined;
  readonly expires: string | undefined;
  readonly dryRun: boolean;
  readonly yes: boolean;
  /** Overwrite the exemption of this rule and glob in place (renewal): the resource stays exempt throughout. */
  readonly replace?: boolean;
}

/** Checks the arguments of `exempt add` (before any AWS call): the rule, glob, reason and expiry. */
export function addRequest(args: AddArgs, today: string): { rule: RuleId | '*'; resource: string; reason: string; expires: string | undefined } {
  const rule = ruleOption(args.rule);
  const resource = resourceOption(args.resource);
  const reason = args.reason?.trim() ?? '';
  if (reason === '') throw new UsageProblem('--reason TEXT is required: why the resource is exempt (the ticket that approves it)', true);
  if (UNSAFE.test(reason)) throw new UsageProblem('--reason holds a control or format character: write it as plain text');
  const checked = v.safeParse(StoredExemption.entries.reason, reason);
  if (!checked.success) throw new UsageProblem(`--reason: ${checked.issues[0].message}`);
  return { rule, resource, reason, expires: expiresOption(args.expires, today) };
}

/** `exempt add`: shows the parameter it creates, then (unless --dry-run) creates it and reads it back. */
export async function exemptAdd(args: AddArgs, ctx: ExemptContext): Promise<number> {
  const t = ctx.terminal;
  const now = ctx.now();
  const request = addRequest(args, dayOf(now));
  const broad = broadness(request.rule, request.resource);
  if (broad && !args.yes && !args.dryRun) {
    // Refused, not only warned: a broad exemption silences remediation for many resources at once.
    ctx.err(`trailguard: refused: ${t.value(broad)}. Check it with --dry-run; pass --yes to add it anyway\n`);
    return EXIT.badInput;
  }
  const name = exemptionParameter(ctx.prefix, request.rule, request.resource);
  const stored: StoredExemption = {
    resource: request.resource,
    reason: request.reason,
    ...(request.expires ? { expires: request.expires } : {}),
    addedBy: await ctx.callerArn(),
    addedAt: new Date(now).toISOString(),
  };
  const value = JSON.stringify(stored);
  if (Buffer.byteLength(value) > STANDARD_VALUE_BYTES)
    throw new UsageProblem(
      `the exemption's value is ${Buffer.byteLength(value)} bytes, past the ${STANDARD_VALUE_BYTES} a Standard parameter holds: shorten --reason or --resource`,
    );
  if (args.replace) return replaceExemption(ctx, name, value, args.dryRun, broad, request);
  t.write(t.text(`${args.dryRun ? 'Would create' : 'Creating'} (SSM Parameter Store, String, Standard tier):\n`));
  t.write(`+ ${t.value(name)}\n+   ${t.value(value)}\n` as Shown);
  if (broad) t.write(`${t.paint('warn', `WARNING: ${broad}.`)}\n` as Shown);
  if (args.dryRun) {
    const existing = await currentValue(ctx.ssm, name);
    if (existing !== undefined) return conflict(ctx, name, existing);
    t.write(t.text('Dry run: nothing was written.\n'));
    return EXIT.ok;
  }
  const written = await writeAndReadBack(ctx, name, value, false);
  if (written === 'exists') return conflict(ctx, name, await currentValue(ctx.ssm, name));
  if (written !== 'read back') return written;
  t.write(t.text(`Added and read back: ${skipsText(ctx, request)}. It takes effect within ${ctx.cacheSeconds} s (the functions' configuration cache).\n`));
  return EXIT.ok;
}

/**
 * PutParameter (String, Standard) and read it back: 'exists' when a create finds one there, the exit code when the
 * value read back is not the one written (said on stderr), 'read back' when it is.
 */
async function writeAndReadBack(ctx: ExemptContext, name: string, value: string, overwrite: boolean): Promise<'exists' | 'read back' | number> {
  const t = ctx.terminal;
  try {
    await ctx.ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Tier: 'Standard', Overwrite: overwrite }));
  } catch (error) {
    if (!overwrite && errorCodeOf(error) === 'ParameterAlreadyExists') return 'exists';
    throw classifyAwsError(error, 'SSM.PutParameter', name);
  }
  const readBack = await currentValue(ctx.ssm, name);
  if (readBack === value) return 'read back';
  ctx.err(
    `trailguard: ${t.value(name)} was written but reads back ${readBack === undefined ? 'as absent' : 'with another value (written by someone else meanwhile?)'}: check it with trailguard exempt list\n`,
  );
  return EXIT.remediationFailed;
}

/** "public-bucket skips 'site-*' through 2027-01-31 (UTC)": what an exemption written does, for the confirmation. */
function skipsText(ctx: ExemptContext, request: { readonly rule: RuleId | '*'; readonly resource: string; readonly expires: string | undefined }): Shown {
  const expiry = request.expires ? ` through ${request.expires} (UTC)` : ' with no expiry';
  return `${request.rule === '*' ? 'every rule' : request.rule} skips ${ctx.terminal.value(request.resource)}${expiry}` as Shown;
}

/** "already exempt: <name> (<reason>, expires …); --replace to change it", exit 2. */
function conflict(ctx: ExemptContext, name: string, existing: string | undefined): number {
  const t = ctx.terminal;
  const parsed = existing === undefined ? undefined : parseStored(ctx.prefix, { Name: name, Value: existing }).exemption;
  ctx.err(
    `trailguard: already exempt: ${t.value(name)} (${t.value(described(parsed))}); to change or renew it, run the same command with --replace (it stays exempt throughout), or remove it first\n`,
  );
  return EXIT.badInput;
}

/**
 * `exempt add --replace`: shows the change old → new, overwrites the parameter in place (PutParameter Overwrite) and
 * reads it back. Renewal this way leaves no moment in which the resource is not exempt (remove then add does, and a
 * function may cache that moment for its whole cache time), and a concurrent `remove --expired` re-reads before it
 * deletes, so it skips the renewed value.
 */
async function replaceExemption(
  ctx: ExemptContext,
  name: string,
  value: string,
  dryRun: boolean,
  broad: string | undefined,
  request: { readonly rule: RuleId | '*'; readonly resource: string; readonly expires: string | undefined },
): Promise<number> {
  const t = ctx.terminal;
  const existing = await currentValue(ctx.ssm, name);
  t.write(t.text(`${dryRun ? 'Would replace' : 'Replacing'} (SSM Parameter Store, String, Standard tier, overwrite):\n`));
  if (existing === undefined) t.write(t.text('  (no exemption there yet: it is created)\n'));
  else t.write(`- ${t.value(name)}\n-   ${t.value(existing)}\n` as Shown);
  t.write(`+ ${t.value(name)}\n+   ${t.value(value)}\n` as Shown);
  if (broad) t.write(`${t.paint('warn', `WARNING: ${broad}.`)}\n` as Shown);
  if (dryRun) {
    t.write(t.text('Dry run: nothing was written.\n'));
    return EXIT.ok;
  }
  const written = await writeAndReadBack(ctx, name, value, true);
  if (written !== 'read back') return written === 'exists' ? EXIT.remediationFailed : written;
  t.write(
    t.text(
      `Replaced and read back: ${skipsText(ctx, request)}. The functions see the new value within ${ctx.cacheSeconds} s (the functions' configuration cache); the old one holds until then.\n`,
    ),
  );
  return EXIT.ok;
}

// ------------------------------------------------------------------------------------------ remove

export interface RemoveArgs {
  readonly rule: string | undefined;
  readonly resource: string | undefined;
  readonly expired: boolean;
  readonly dryRun: boolean;
}

/** `exempt remove`: deletes exactly the parameter of one rule and glob, or (--expired) every expired one. */
export async function exemptRemove(args: RemoveArgs, ctx: ExemptContext): Promise<number> {
  if (args.expired) {
    if (args.rule !== undefined || args.resource !== undefined)
      throw new UsageProblem('exempt remove --expired takes no --rule or --resource: it removes every expired exemption of the store');
    return removeExpired(args.dryRun, ctx);
  }
  const t = ctx.terminal;
  const rule = ruleOption(args.rule);
  const resource = resourceOption(args.resource);
  const name = exemptionParameter(ctx.prefix, rule, resource);
  const existing = await currentValue(ctx.ssm, name);
  if (existing === undefined) {
    const deployed = ctx.deployed.some((e) => e.rule === rule && e.resource === resource);
    ctx.err(
      `trailguard: no exemption of ${rule} for ${t.value(resource)} in the store (${t.value(name)})${
        deployed ? '; it is a deploy-time exemption: remove it from TRAILGUARD_EXEMPTIONS (the stack parameter "exemptions") and deploy' : ''
      }\n`,
    );
    return EXIT.badInput;
  }
  const what = described(parseStored(ctx.prefix, { Name: name, Value: existing }).exemption);
  if (args.dryRun) {
    t.write(`Would delete:\n- ${t.value(name)}\n-   ${t.value(existing)}\nDry run: nothing was deleted.\n` as Shown);
    return EXIT.ok;
  }
  try {
    await ctx.ssm.send(new DeleteParameterCommand({ Name: name }));
  } catch (error) {
    // Removed by someone else between the read and the delete: the end state is the one asked for, but say so.
    if (errorCodeOf(error) !== 'ParameterNotFound') throw classifyAwsError(error, 'SSM.DeleteParameter', name);
    ctx.err(`trailguard: ${t.value(name)} was removed by someone else meanwhile\n`);
    return EXIT.badInput;
  }
  t.write(
    t.text(
      `Removed ${t.value(name)} (${t.value(what)}). The rule acts on ${t.value(resource)} again within ${ctx.cacheSeconds} s (the functions' configuration cache).\n`,
    ),
  );
  return EXIT.ok;
}

async function removeExpired(dryRun: boolean, ctx: ExemptContext): Promise<number> {
  const t = ctx.terminal;
  const today = dayOf(ctx.now());
  const expired = (await storedExemptions(ctx.ssm, ctx.prefix)).filter((e) => e.exemption && statusOf(e.exemption.expires, today).expired);
  const deployExpired = ctx.deployed.filter((e) => statusOf(e.expires, today).expired).length;
  if (expired.length === 0) t.write(t.text('No expired exemption in the store.\n'));
  let skipped = 0;
  for (const listed of expired) {
    const name = listed.parameter ?? '';
    if (!dryRun) {
      // Re-read just before deleting: a renewal (exempt add --replace) since the listing is kept, not deleted.
      // SSM has no conditional delete, so a write in the moment between this read and the delete is still lost.
      const now = await currentParameter(ctx.ssm, name);
      if (now === undefined) continue;
      const still = now.value === undefined ? undefined : parseStored(ctx.prefix, { Name: name, Value: now.value }).exemption;
      if (now.version !== listed.version || !still || !statusOf(still.expires, today).expired) {
        skipped += 1;
        t.write(`skipped ${t.value(name)}: changed since it was listed (now ${t.value(described(still))}), not deleted\n` as Shown);
        continue;
      }
      try {
        await ctx.ssm.send(new DeleteParameterCommand({ Name: name }));
      } catch (error) {
        if (errorCodeOf(error) !== 'ParameterNotFound') throw classifyAwsError(error, 'SSM.DeleteParameter', name);
      }
    }
    t.write(`${dryRun ? 'would delete' : 'deleted'} ${t.value(name)} (${t.value(described(listed.exemption))})\n` as Shown);
  }
  if (skipped > 0) t.write(t.text(`${count(skipped, 'exemption')} changed meanwhile and stay.\n`));
  if (dryRun && expired.length > 0) t.write(t.text(`Dry run: nothing was deleted (${count(expired.length, 'expired exemption')}).\n`));
  if (deployExpired > 0)
    t.write(
      t.text(
        `${count(deployExpired, 'expired deploy-time exemption')} (TRAILGUARD_EXEMPTIONS) stay: remove them from the stack parameter "exemptions" and deploy.\n`,
      ),
    );
  return EXIT.ok;
}

// ------------------------------------------------------------------------------------------ list

/** `exempt list`: the store's exemptions (and any INVALID value) and the deploy-time ones, as text or JSON. */
export async function exemptList(args: { readonly rule: string | undefined; readonly format: string }, ctx: ExemptContext): Promise<number> {
  if (args.format !== 'text' && args.format !== 'json') throw new UsageProblem(`--format must be text or json, got "${args.format}"`);
  const only = args.rule === undefined ? undefined : ruleOption(args.rule);
  const today = dayOf(ctx.now());
  const deployed: ListedExemption[] = ctx.deployed.map((e) => ({
    source: 'deploy',
    rule: e.rule,
    parameter: undefined,
    exemption: { resource: e.resource, reason: e.reason, ...(e.expires ? { expires: e.expires } : {}) },
    problem: undefined,
  }));
  // --rule R: what applies to R, its own and every-rule (`*`) ones; an INVALID one is always shown.
  const applies = (e: ListedExemption) => only === undefined || e.rule === undefined || e.exemption === undefined || e.rule === only || e.rule === '*';
  const all = [...(await storedExemptions(ctx.ssm, ctx.prefix)), ...deployed].filter(applies);
  const t = ctx.terminal;
  // Who last changed each parameter as IAM recorded it; `addedBy` in the value is whatever its writer typed.
  let modifiers: ReadonlyMap<string, string> = new Map();
  try {
    modifiers = await lastModifiers(ctx.ssm, ctx.prefix);
  } catch (error) {
    ctx.err(
      `trailguard: note: who last changed each parameter is unknown (ssm:DescribeParameters failed: ${t.value(classifyAwsError(error, 'SSM.DescribeParameters', ctx.prefix).code)})\n`,
    );
  }
  if (args.format === 'json') {
    const rows = all.map(({ exemption, ...e }) => ({
      source: e.source,
      rule: e.rule ?? null,
      parameter: e.parameter ?? null,
      ...(e.parameter
        ? { lastModifiedBy: modifiers.get(e.parameter) ?? null, lastModified: e.lastModified ? new Date(e.lastModified).toISOString() : null }
        : {}),
      ...(exemption
        ? {
            resource: exemption.resource,
            reason: exemption.reason,
            ...(exemption.expires ? { expires: exemption.expires } : {}),
            // Self-declared by whoever wrote the value: a claim, not an attribution.
            ...(exemption.addedBy ? { claimedBy: exemption.addedBy } : {}),
            ...(exemption.addedAt ? { claimedAt: exemption.addedAt } : {}),
            status: statusOf(exemption.expires, today).text,
          }
        : { status: 'INVALID', problem: e.problem }),
    }));
    // JSON as the person's terminal may show it: controls inside strings become \uXXXX escapes, the same JSON value.
    t.write(t.text(`${JSON.stringify(rows, null, 2)}\n`));
    return EXIT.ok;
  }
  printTable(all, today, modifiers, ctx);
  return EXIT.ok;
}

const RULE_WIDTH = Math.max(...RULE_IDS.map((id) => id.length));
const STATUS_WIDTH = 'expires in 999 days'.length;

function printTable(all: readonly ListedExemption[], today: string, modifiers: ReadonlyMap<string, string>, ctx: ExemptContext): void {
  const t = ctx.terminal;
  if (all.length === 0) {
    t.write(t.text(`No exemption in the store (${t.value(exemptionsRoot(ctx.prefix))}) or the deploy-time configuration.\n`));
    return;
  }
  // Rule, status and source have known widths; the resource takes what the terminal has left (whole when piped).
  const fixed = RULE_WIDTH + 2 + STATUS_WIDTH + 2 + 'deploy'.length + 2;
  const resourceWidth = t.width === undefined ? undefined : Math.max(12, t.width - fixed);
  t.write(
    `${t.paint('bold', 'RULE')}${' '.repeat(RULE_WIDTH - 4)}  ${t.paint('bold', 'STATUS')}${' '.repeat(STATUS_WIDTH - 6)}  ${t.paint('bold', 'SOURCE')}  ${t.paint('bold', 'RESOURCE')}\n` as Shown,
  );
  const detail = (text: string) => (t.width === undefined ? [text] : wrap(text, t.width - 4)).map((line) => `    ${line}\n`).join('');
  let expired = 0;
  let invalid = 0;
  for (const e of all) {
    const rule = (e.rule ?? '?').padEnd(RULE_WIDTH);
    if (!e.exemption) {
      invalid += 1;
      t.write(`${rule}  ${t.paint('bad', 'INVALID'.padEnd(STATUS_WIDTH))}  ${e.source.padEnd(6)}  ${t.fitted(e.parameter ?? '', resourceWidth)}\n` as Shown);
      t.write(detail(`${t.value(e.problem ?? 'invalid')}: the functions ignore it`) as Shown);
      continue;
    }
    const status = statusOf(e.exemption.expires, today);
    if (status.expired) expired += 1;
    const style = status.expired ? 'bad' : status.days !== undefined && status.days <= 14 ? 'warn' : undefined;
    const statusText = status.text.padEnd(STATUS_WIDTH);
    t.write(
      `${rule}  ${style ? t.paint(style, statusText) : t.value(statusText)}  ${e.source.padEnd(6)}  ${t.fitted(e.exemption.resource, resourceWidth)}\n` as Shown,
    );
    const expiry = e.exemption.expires ? `through ${t.value(e.exemption.expires)}` : 'no expiry';
    const by = e.parameter ? modifiers.get(e.parameter) : undefined;
    const changed =
      e.source === 'store' ? `; last changed by ${by ? t.value(by) : 'unknown'}${e.lastModified ? ` at ${new Date(e.lastModified).toISOString()}` : ''}` : '';
    // The value's own `addedBy` is whatever its writer typed: shown only as a claim.
    const claimed = e.exemption.addedBy ? `; claimed by ${t.value(e.exemption.addedBy)} (self-declared)` : '';
    t.write(detail(`${t.value(e.exemption.reason)} (${expiry}${changed}${claimed})`) as Shown);
  }
  t.write(
    t.text(
      `\n${count(all.length, 'exemption')}${expired > 0 ? `, ${expired} expired (trailguard exempt remove --expired deletes the store's)` : ''}${invalid > 0 ? `, ${invalid} INVALID (the functions ignore them)` : ''}.\n`,
    ),
  );
}

// ------------------------------------------------------------------------------------------ prefix

/** The parameter prefix, or a usage problem naming where it comes from. */
export function prefixOf(prefix: string | undefined): string {
  if (!prefix)
    throw new UsageProblem(
      'exempt needs the stack\'s parameter prefix: set TRAILGUARD_PARAMETER_PREFIX (stack output ParameterPrefix, e.g. /trailguard/prod) or "parameterPrefix" in --config',
    );
  return prefix;
}

// ------------------------------------------------------------------------------------------ the command

type Env = Readonly<Record<string, string | undefined>>;

/** The parsed options of `trailguard exempt` (cli/commands.ts EXEMPT). */
export interface ExemptValues {
  readonly rule?: string | undefined;
  readonly resource?: string | undefined;
  readonly reason?: string | undefined;
  readonly expires?: string | undefined;
  readonly 'dry-run'?: boolean | undefined;
  readonly yes?: boolean | undefined;
  readonly expired?: boolean | undefined;
  readonly replace?: boolean | undefined;
  readonly format?: string | undefined;
}

const ACTIONS = ['add', 'list', 'remove'] as const;

/** `trailguard exempt ACTION [options]`: checks the action and its options, then runs it against the store. */
export async function exemptCommand(
  positionals: readonly string[],
  values: ExemptValues,
  config: Config,
  env: Env,
  terminal: Terminal,
  overrides: Partial<ExemptContext> = {},
): Promise<number> {
  const [action, extra] = positionals;
  const known = ACTIONS.find((a) => a === action);
  if (!known) {
    const guess = action ? closest(action, ACTIONS) : undefined;
    throw new UsageProblem(`exempt needs add, list or remove${action ? `, got "${action}"${guess ? ` (did you mean ${guess}?)` : ''}` : ''}`, true);
  }
  if (extra !== undefined) throw new UsageProblem(`exempt ${known} takes no arguments besides its options, got "${extra}"`);
  const misplaced =
    known === 'add'
      ? ['expired', 'format']
      : known === 'list'
        ? ['resource', 'reason', 'expires', 'dry-run', 'yes', 'expired', 'replace']
        : ['reason', 'expires', 'yes', 'format', 'replace'];
  const given = misplaced.find((option) =>
    option === 'format' ? values.format !== undefined && values.format !== 'text' : values[option as keyof ExemptValues] !== undefined,
  );
  if (given) throw new UsageProblem(`--${given} does not go with exempt ${known}`, true);
  const region = config.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageProblem('exempt needs a Region: AWS_REGION or "region" in --config');
  const prefix = prefixOf(config.parameterPrefix);
  const ctx: ExemptContext = {
    ssm: overrides.ssm ?? new SSMClient(baseClientConfig({ region, endpoint: config.endpoint, readOnly: false })),
    prefix,
    deployed: config.exemptions,
    cacheSeconds: config.configMaxAgeSeconds,
    callerArn:
      overrides.callerArn
      ?? (async () => {
        const answer = await awsCall('STS.GetCallerIdentity', 'caller', () =>
          stsClient({ region, endpoint: config.endpoint }).send(new GetCallerIdentityCommand({})),
        );
        if (!answer.Arn) throw new UsageProblem('STS GetCallerIdentity answered without an ARN: addedBy cannot be recorded');
        return answer.Arn;
      }),
    now: overrides.now ?? Date.now,
    terminal,
    err: overrides.err ?? consoleOut.stderr,
  };
  switch (known) {
    case 'add':
      return exemptAdd(
        {
          rule: values.rule,
          resource: values.resource,
          reason: values.reason,
          expires: values.expires,
          dryRun: values['dry-run'] === true,
          yes: values.yes === true,
          replace: values.replace === true,
        },
        ctx,
      );
    case 'list':
      return exemptList({ rule: values.rule, format: values.format ?? 'text' }, ctx);
    case 'remove':
      return exemptRemove({ rule: values.rule, resource: values.resource, expired: values.expired === true, dryRun: values['dry-run'] === true }, ctx);
  }
}
