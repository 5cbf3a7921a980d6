/**
 * `trailguard undo EVENT_ID --log SOURCE`: reverses one remediation from its log record. Prints the plan (each
 * action's reversal, from its action type); `--mode dry-run` also reads what the resources hold now; `--apply`
 * checks that the loaded configuration or the parameter store exempts the resources (else the rule would remediate
 * the undo; `--force` overrides), asks for confirmation (`--yes` skips it), learns who the operator is from STS, and
 * runs the reversing writes through the runner (trigger `undo`): performed with the operator's credentials, read
 * back, recorded with outcome `reverted`, the operator's identity as actor, and notified.
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { createInterface } from 'node:readline/promises';
import type { AnyActionType, AwsClients, ReverseStep, Reversal } from '../shared/actions/action.js';
import { ACTION_TYPES } from '../shared/actions/registry.js';
import { exemptAddCommand, reversalCommands, reversalsOf, reversalSummaries } from '../shared/actions/reversal.js';
import { stepOfReverse } from '../shared/actions/action.js';
import { cloudTrailClient } from '../shared/aws/cloudtrail.js';
import { ec2Client } from '../shared/aws/ec2.js';
import { rdsClient } from '../shared/aws/rds.js';
import { lambdaClient } from '../shared/aws/lambda.js';
import { iamClient } from '../shared/aws/iam.js';
import { rolesAnywhereClient } from '../shared/aws/rolesanywhere.js';
import { awsCall, classifyAwsError } from '../shared/aws/errors.js';
import { s3Client } from '../shared/aws/s3.js';
import { schedulerClient } from '../shared/aws/scheduler.js';
import { stsClient } from '../shared/aws/sts.js';
import { type Config, type Exemption, type Mode, type RuleId, ruleOverridesOf } from '../shared/config.js';
import { exemptionOf, parseStored } from '../shared/exemption-store.js';
import { findExemption } from '../shared/exemptions.js';
import { consoleOut, Logger } from '../shared/log.js';
import { displayValue, snsNotifier, type Notify } from '../shared/notifier.js';
import { RECORD_MESSAGE, writeRecordTo, type ActionRecord, type RemediationRecord } from '../shared/remediation-log.js';
import type { LoggedRecord } from '../shared/report/records.js';
import type { AnyRule, Message } from '../shared/rule.js';
import { RULES } from '../functions/rules.js';
import { runReversal, type Operator } from '../shared/runner/reversal.js';
import { terminalText, terminalValue } from '../shared/safe-text.js';
import { type LoadedConfig, loadRunConfig } from './live-store.js';
import { fitText, terminalSafe } from './output.js';
import { Progress, type ProgressStream } from './progress.js';
import { EXIT } from './replay.js';
import { collectRecords } from './report.js';
import type { AwsSecurityFinding } from '@aws-sdk/client-securityhub';
import { FINDINGS_PER_RECORD_LIMIT, findingIdOf, findingsOf } from '../shared/security-hub/finding.js';
import { awsCommand } from '../shared/shell.js';
import { importBatchWith, importFindings, securityHubClient } from '../shared/security-hub/import.js';

export interface UndoOptions {
  readonly eventId: string;
  /** Where the record is: files, folders or `logs:<prefix>` (as `report` reads them). */
  readonly sources: readonly string[];
  /** Act (live), else only print the plan. */
  readonly apply: boolean;
  /** With --apply: do not ask for confirmation. */
  readonly yes?: boolean;
  /** With --apply: undo even when the loaded configuration does not exempt the resources. */
  readonly force?: boolean;
  /** Without --apply: `offline` plans from the record alone, `dry-run` also reads the resources now. */
  readonly mode: Mode;
  readonly config: Config;
  /** Region of the CloudWatch Logs and STS clients. */
  readonly region: string;
  /** Window for `logs:` sources (epoch ms). */
  readonly since: number | undefined;
  readonly now?: () => number;
  readonly out?: (text: string) => void;
  /** Columns to fit prose into (commands and JSON stay whole, to be pasted); undefined: never cut. */
  readonly width?: number | undefined;
  readonly err?: (text: string) => void;
  readonly progress?: ProgressStream;
  /** Publishes the undo's notification; default: the configured topic (`topicArn`), if any. */
  readonly notify?: Notify;
  /** Who runs the undo; default: STS GetCallerIdentity with the operator's credentials. */
  readonly identity?: () => Promise<Operator>;
  /** Asks the operator; default: a y/N prompt on a terminal, and no answer (refused) without one. */
  readonly confirm?: (question: string) => Promise<boolean>;
  /** The AWS clients the undo acts with in a Region; default: the operator's credentials. */
  readonly clients?: (region: string, readOnly: boolean) => AwsClients;
  /**
   * The parameter store (cli/live-store.ts), read with --apply and --mode dry-run when `parameterPrefix` is set, so an
   * `exempt add` just before is seen; default: an SSM client with the operator's credentials.
   */
  readonly ssm?: SSMClient;
  /** The rules `config` overrides in the live configuration. @default TRAILGUARD_RULES' */
  readonly ruleOverrides?: readonly RuleId[];
  /**
   * With `securityHub` in the config: imports the undo's findings (its record never reaches CloudWatch Logs, so the
   * stack's exporter never sees it); default: BatchImportFindings with the operator's credentials in `region`.
   */
  importFindings?: (findings: readonly AwsSecurityFinding[]) => Promise<void>;
}

/** How long the suggested exemption holds: long enough to fix the cause, short enough to be reviewed. */
export const EXEMPTION_DAYS = 30;
const DAY_MS = 86_400_000;

/** The operator's clients in a Region (trails and schedules take theirs per call). */
function operatorClients(config: Config): (region: string, readOnly: boolean) => AwsClients {
  const endpoint = config.endpoint;
  return (region, readOnly) => ({
    s3: s3Client({ region, endpoint, readOnly }),
    ec2: ec2Client({ region, endpoint, readOnly }),
    rds: rdsClient({ region, endpoint, readOnly }),
    lambda: lambdaClient({ region, endpoint, readOnly }),
    iam: iamClient({ region, endpoint, readOnly }),
    rolesAnywhere: rolesAnywhereClient({ region, endpoint, readOnly }),
    cloudTrailIn: (at) => cloudTrailClient({ region: at, endpoint, readOnly }),
    scheduler: (at) => schedulerClient({ region: at, endpoint, readOnly }),
  });
}

/** STS says who the credentials are: the record names that identity, never a local user name. */
function stsIdentity(config: Config, region: string): () => Promise<Operator> {
  return async () => {
    const answer = await awsCall('STS.GetCallerIdentity', 'caller', () =>
      stsClient({ region, endpoint: config.endpoint }).send(new GetCallerIdentityCommand({})),
    );
    if (!answer.Arn) throw new Error('STS GetCallerIdentity answered without an ARN');
    return { arn: answer.Arn, account: answer.Account };
  };
}

/** A y/N question on the terminal; no terminal, no answer: the caller refuses and says to pass --yes. */
async function terminalConfirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim());
  } finally {
    prompt.close();
  }
}

// ------------------------------------------------------------------------------------------ printing

/** The plan lines of one action in `undo`: what it was, and how each reversing write puts it back (or why none). */
function planLines(action: ActionRecord, reversal: Reversal): string[] {
  const head = `  ${action.api} on ${displayValue(action.resource)} (${action.status})`;
  switch (reversal.kind) {
    case 'steps': {
      const commands = reversalCommands(reversal);
      const summaries = reversalSummaries(reversal);
      return [
        head,
        ...reversal.steps.flatMap((step, i) => [
          `    undo: ${displayValue(summaries[i], 1000)}`,
          `      ${step.type.api} (needs ${step.type.iam}) in ${step.action.resource.region ?? '?'}`,
          `      $ ${commands[i] ?? ''}`,
        ]),
      ];
    }
    case 'manual':
      return [head, `    by hand: ${reversal.why}`, ...reversalCommands(reversal).map((command) => `      $ ${command}`)];
    case 'none':
      return [head, `    nothing to undo: ${reversal.why}`];
  }
}

/** The exemption entries that stop the rule from remediating the resources again. */
export function exemptionsFor(record: RemediationRecord, now: number, operator: string): Exemption[] {
  if (!record.rule) return [];
  const expires = new Date(now + EXEMPTION_DAYS * DAY_MS).toISOString().slice(0, 10);
  const today = new Date(now).toISOString().slice(0, 10);
  return record.resources.map((resource) => ({
    rule: record.rule ?? '*',
    resource: resource.id,
    reason: `remediation undone by ${operator} on ${today} (trailguard undo of ${record.eventId}): replace with the ticket that approves it`,
    expires,
  }));
}

/** The record's resources these exemptions do not exempt today: the rule would remediate them again. */
function unexempted(record: RemediationRecord, exemptions: readonly Exemption[], now: number): string[] {
  const today = new Date(now).toISOString().slice(0, 10);
  const rule = record.rule;
  if (!rule) return record.resources.map((r) => r.id);
  return record.resources.filter((resource) => !findExemption(exemptions, rule, resource, today)).map((r) => r.id);
}

/** A resource exempt only through the parameter store, and when every function has read that exemption (epoch ms). */
interface StoreOnly {
  readonly record: RemediationRecord;
  readonly id: string;
  readonly parameter: string | undefined;
  readonly seenBy: number;
}

/**
 * The resources exempt only by the store, each with the time every function has surely read its exemption: the
 * parameter's LastModifiedDate plus configMaxAgeSeconds (a warm container may hold a configuration from before it
 * that long). Of several parameters that exempt it, the first seen counts; one whose write time the store did not
 * give counts as seen.
 */
function storeOnlyMatches(records: readonly RemediationRecord[], loaded: LoadedConfig, deployed: readonly Exemption[], today: string): StoreOnly[] {
  const prefix = loaded.config.parameterPrefix;
  if (!loaded.fromStore || prefix === undefined) return [];
  const maxAgeMs = loaded.config.configMaxAgeSeconds * 1000;
  const stored = [...loaded.parameters.values()].map((p) => ({ p, exemption: exemptionOf(parseStored(prefix, { Name: p.name, Value: p.value })) }));
  return records.flatMap((record) => {
    const rule = record.rule;
    if (!rule) return [];
    return record.resources.flatMap((resource) => {
      if (findExemption(deployed, rule, resource, today) || !findExemption(loaded.config.exemptions, rule, resource, today)) return [];
      const seen = stored
        .filter(({ exemption }) => exemption && findExemption([exemption], rule, resource, today))
        .map(({ p }) => ({ parameter: p.name, seenBy: p.lastModified === undefined ? 0 : p.lastModified + maxAgeMs }))
        .sort((a, b) => a.seenBy - b.seenBy)[0];
      // Exempt by the store's merge but by no current value (a previous version kept in force): wait the longest.
      const fallback = { parameter: undefined, seenBy: Math.max(0, ...[...loaded.parameters.values()].map((p) => (p.lastModified ?? 0) + maxAgeMs)) };
      return [{ record, id: resource.id, ...(seen ?? fallback) }];
    });
  });
}

/** The rule whose remediation is undone (its id labels the undo's record and notification). */
function ruleOf(record: RemediationRecord): AnyRule {
  const rule = RULES.find((r) => r.id === record.rule);
  if (!rule) throw new Error(`no rule ${record.rule ?? '(none)'} in this version of trailguard: its remediation cannot be undone here`);
  return rule;
}

/** The undo's notification text: who undid it; the notifier adds the actions, the record's fields and the reason. */
function undoMessage(record: RemediationRecord): Message {
  const resource = record.resources[0]?.id ?? 'unknown resource';
  const title =
    record.outcome === 'reverted'
      ? `Remediation undone on ${resource} (${record.rule ?? 'no rule'})`
      : `FAILED to undo the remediation on ${resource} (${record.rule ?? 'no rule'})`;
  return { title, lines: [`Undone by ${record.actor ?? 'an unknown identity'} with trailguard undo.`] };
}

/** What the resource holds now, as the reversing write's own read-back sees it (dry-run's preview). */
async function readNow(step: ReverseStep, clients: AwsClients): Promise<string> {
  try {
    const read = await step.type.verify(stepOfReverse(step), clients);
    return `${displayValue(read.detail, 1000)}${read.ok ? ' (already as before: nothing would change)' : ''}`;
  } catch (error) {
    return `could not read (${classifyAwsError(error, step.type.api, step.action.resource.id).code})`;
  }
}

// ------------------------------------------------------------------------------------------ the command

/** Finds the event's records, prints the plan, and with --apply undoes, verifies, logs and notifies. */
export async function undo(options: UndoOptions): Promise<number> {
  const write = options.out ?? consoleOut.stdout;
  const out = (text: string) => write(fitText(terminalText(text), options.width));
  const err = terminalSafe(options.err ?? consoleOut.stderr);
  const now = options.now ?? Date.now;
  const types: readonly AnyActionType[] = ACTION_TYPES;
  const progress = new Progress('trailguard undo', { stream: options.progress ?? process.stderr, now });
  let found: LoggedRecord[];
  let problems: number;
  try {
    const collected = await collectRecords(
      {
        sources: options.sources,
        format: 'text',
        since: options.since,
        region: options.region,
        endpoint: options.config.endpoint,
        progress: options.progress,
        filterPattern: `{ $.message = "${RECORD_MESSAGE}" && $.eventId = ${JSON.stringify(options.eventId)} }`,
      },
      progress,
      (text) => {
        progress.done();
        err(text);
      },
    );
    found = collected.records.filter((l) => l.record.eventId === options.eventId);
    problems = collected.problems;
  } finally {
    progress.done();
  }
  const originals = found.map((l) => l.record).filter((r) => r.trigger !== 'undo');
  if (originals.length === 0) {
    err(
      `trailguard: no remediation-log record of event ${options.eventId} in ${options.sources.join(', ')}${problems > 0 ? ' (some sources could not be read)' : ''}\n`,
    );
    return EXIT.badInput;
  }
  const withWrites = originals.filter((r) => r.actions.some((a) => a.status === 'done'));
  if (withWrites.length === 0) {
    // An audit alert only notifies: say so, rather than suggest a remediation was skipped.
    const alertsOnly = originals.every((r) => r.outcome === 'alerted' && r.actions.length === 0);
    const why = alertsOnly
      ? 'an alert only notifies and changes nothing in the account, so there is nothing to undo'
      : 'no write was performed, nothing to undo';
    out(`Event ${options.eventId}: ${originals.map((r) => `${r.rule ?? '-'} ${r.outcome} (mode ${r.mode})`).join(', ')}: ${why}.\n`);
    return EXIT.ok;
  }
  if (found.some((l) => l.record.trigger === 'undo' && l.record.outcome === 'reverted'))
    err(`trailguard: note: the log already holds a completed undo of ${options.eventId}\n`);

  const clientsIn = options.clients ?? operatorClients(options.config);
  const plans = withWrites.map((record) => {
    const reversals = reversalsOf(types, record);
    const steps = reversals.flatMap(({ reversal }) => (reversal.kind === 'steps' ? reversal.steps : []));
    return { record, reversals, steps };
  });
  for (const { record, reversals, steps } of plans) {
    out(
      `${[
        `${options.apply ? 'Undoing' : 'Plan to undo'} ${record.rule ?? '-'} ${record.outcome} of event ${displayValue(record.eventId)} (${displayValue(record.eventName)} by ${displayValue(record.actor)} at ${displayValue(record.eventTime)}, ${displayValue(record.account)}/${displayValue(record.region)})`,
        `  reason it acted: ${displayValue(record.reason, 1000)}`,
        ...reversals.flatMap(({ action, reversal }) => planLines(action, reversal)),
      ].join('\n')}\n`,
    );
    if (steps.length === 0) out('  nothing trailguard undo can perform for this record.\n');
    else if (!options.apply && options.mode === 'dry-run') {
      for (const step of steps) out(`  now: ${await readNow(step, clientsIn(record.region ?? options.region, true))}\n`);
    }
    out('\n');
  }
  const acting = plans.filter((plan) => plan.steps.length > 0);
  const retriggers = acting.some((plan) => plan.steps.some((step) => step.type.retriggers));
  // The store too (--apply, dry-run), merged as the functions merge it: an `exempt add` a moment ago counts. Offline
  // reads nothing; --apply refuses when the store cannot be read (cli/live-store.ts), a dry-run warns.
  const loaded: LoadedConfig = await loadRunConfig({
    config: options.config,
    mode: options.apply ? 'live' : options.mode,
    ruleOverrides: options.ruleOverrides ?? ruleOverridesOf(process.env),
    err,
    region: options.region,
    ...(options.ssm ? { ssm: options.ssm } : {}),
    now,
  });
  const exemptions = loaded.config.exemptions;
  const missing = acting.flatMap((plan) => unexempted(plan.record, exemptions, now()).map((id) => ({ record: plan.record, id })));
  const today = new Date(now()).toISOString().slice(0, 10);
  const unseen = storeOnlyMatches(
    acting.map((p) => p.record),
    loaded,
    options.config.exemptions,
    today,
  ).filter((m) => m.seenBy > now());
  const waitSeconds = Math.ceil(Math.max(0, ...unseen.map((m) => m.seenBy - now())) / 1000);
  const unseenText = unseen.map((m) => `${m.record.rule ?? '-'} ${m.id}${m.parameter ? ` (${m.parameter})` : ''}`).join(', ');

  if (!options.apply) {
    printExemptions(
      out,
      acting.map((p) => p.record),
      now(),
      'an operator',
      missing.length > 0,
      retriggers,
      false,
      options.config.configMaxAgeSeconds,
    );
    if (unseen.length > 0)
      out(
        `The parameter store's exemption of ${unseenText} is newer than the functions' configuration cache (${loaded.config.configMaxAgeSeconds} s): --apply refuses for another ${waitSeconds} s.\n`,
      );
    out('Nothing was changed: run again with --apply to perform the plan (with your own credentials).\n');
    return EXIT.ok;
  }
  if (acting.length === 0) return EXIT.ok;
  if (missing.length > 0 && !options.force) {
    // Without the exemption the rule remediates the undo again within seconds (or the next sweep does): refuse.
    err(
      `trailguard: refused: the loaded configuration does not exempt ${missing.map((m) => `${m.record.rule ?? '-'} ${m.id}`).join(', ')}${options.config.parameterPrefix ? ', nor does the parameter store' : ''}; `
        + 'add the exemption below first (trailguard exempt add, or in --config), or pass --force to undo anyway\n',
    );
    printExemptions(
      out,
      acting.map((p) => p.record),
      now(),
      'an operator',
      true,
      retriggers,
      false,
      options.config.configMaxAgeSeconds,
    );
    return EXIT.badInput;
  }
  if (unseen.length > 0 && !options.force) {
    // A container that read its configuration before the exemption was written keeps it up to configMaxAgeSeconds:
    // the reversing call is an event it would remediate again. Refused (not waited for): the operator decides when.
    err(
      `trailguard: refused: ${unseenText} ${unseen.length === 1 ? 'is' : 'are'} exempt only by the parameter store, changed less than ${loaded.config.configMaxAgeSeconds} s ago (configMaxAgeSeconds): `
        + `a function may still hold a configuration from before it. Run again in ${waitSeconds} s, or pass --force to undo anyway\n`,
    );
    return EXIT.badInput;
  }
  if (unseen.length > 0)
    err(
      `trailguard: warning: --force: ${unseenText} ${unseen.length === 1 ? 'is' : 'are'} exempt only by a parameter changed less than ${loaded.config.configMaxAgeSeconds} s ago: a function that read its configuration before it may remediate this undo again\n`,
    );
  let operator: Operator;
  try {
    operator = await (options.identity ?? stsIdentity(options.config, options.region))();
  } catch (error) {
    err(
      `trailguard: refused: cannot tell who is undoing (sts:GetCallerIdentity failed: ${classifyAwsError(error, 'STS.GetCallerIdentity', 'caller').code}); an undo is recorded under the operator's AWS identity\n`,
    );
    return EXIT.badInput;
  }
  // Credentials of another account would reverse a same-named resource there (a group or trail named by name).
  const elsewhere = acting.filter((plan) => plan.record.account !== null && operator.account !== undefined && plan.record.account !== operator.account);
  if (elsewhere.length > 0 && !options.force) {
    err(
      `trailguard: refused: your credentials are of account ${terminalValue(operator.account ?? '?')}, the remediation was in ${elsewhere.map((p) => terminalValue(p.record.account ?? '?')).join(', ')}; `
        + 'use credentials of that account (or pass --force)\n',
    );
    return EXIT.badInput;
  }
  const writes = acting.reduce((sum, plan) => sum + plan.steps.length, 0);
  // Asked on the terminal directly (not through `out`): every value in it is made safe to print first.
  const question = terminalValue(
    `Undo ${writes} write(s) of event ${options.eventId} in ${acting.map((p) => `${p.record.account ?? '?'}/${p.record.region ?? '?'}`).join(', ')} as ${operator.arn}?`,
  );
  if (!options.yes) {
    const confirm = options.confirm ?? terminalConfirm;
    if (!(await confirm(question))) {
      err(`trailguard: not confirmed: nothing was changed${options.confirm || process.stdin.isTTY ? '' : ' (no terminal to ask on: pass --yes)'}\n`);
      return EXIT.badInput;
    }
  }
  const notify = options.notify ?? (options.config.topicArn ? snsNotifier(options.config.topicArn, options.config.endpoint) : undefined);
  let exit: number = EXIT.ok;
  for (const { record, steps } of acting) {
    const result = await runReversal(
      ruleOf(record),
      record,
      steps,
      operator,
      {
        config: options.config,
        mode: 'live',
        notify,
        notifySkipReason: 'no SNS topic configured',
        now,
        write: writeRecordTo(new Logger('INFO', (line) => out(`  ${line}\n`))),
      },
      clientsIn(record.region ?? options.region, false),
      undoMessage,
    );
    out(
      `${result.actions.map((action) => `  ${action.api} on ${displayValue(action.resource)}: ${action.status}${action.error ? ` (${action.error})` : ''}${action.verification ? `, ${action.verification.ok ? 'verified' : 'NOT verified'}: ${displayValue(action.verification.detail, 1000)}` : ''}`).join('\n')}\n`,
    );
    out(`  outcome: ${result.outcome}; notification: ${result.notification.status}\n`);
    if (options.config.securityHub) await importUndoFinding(options, result, now(), operator, out, err);
    out('\n');
    if (result.outcome !== 'reverted') exit = EXIT.remediationFailed;
  }
  printExemptions(
    out,
    acting.map((p) => p.record),
    now(),
    operator.arn,
    missing.length > 0,
    retriggers,
    true,
    options.config.configMaxAgeSeconds,
  );
  return exit;
}

/**
 * Imports the undo's record into Security Hub, in the stack's Region (`--region`) and the operator's account: the same
 * finding the exporter keeps for the resource, reopened (ACTIVE, FAILED) by a `reverted` outcome. A failure here is
 * a warning: the undo is done, recorded and notified, and Security Hub catches up on the resource's next decision.
 * In organisation mode a member account's finding is the central account's: no import, a warning that says so.
 */
async function importUndoFinding(
  options: UndoOptions,
  record: RemediationRecord,
  at: number,
  operator: Operator,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<void> {
  const account = operator.account ?? record.account;
  if (!account) {
    err("trailguard: warning: the undo was not imported into Security Hub: the operator's account is unknown\n");
    return;
  }
  const central = options.config.organization?.centralAccountId;
  if (central !== undefined && account !== central) {
    // The exporter imports every finding into the central account's hub (docs/security-hub.md, "Organisations"): an
    // import with these (member) credentials would make another finding in the member's hub, and reopen nothing.
    const partition = operator.arn.split(':')[1] ?? 'aws';
    const resources = record.resources.length > 0 ? record.resources.slice(0, FINDINGS_PER_RECORD_LIMIT) : [undefined];
    const identifiers = resources.map((resource) => ({
      Id: findingIdOf(record, resource),
      ProductArn: `arn:${partition}:securityhub:${options.region}:${central}:product/${central}/default`,
    }));
    const reopen = awsCommand('securityhub', 'batch-update-findings', {
      region: options.region,
      findingIdentifiers: JSON.stringify(identifiers),
      workflow: 'Status=NEW',
    });
    err(
      `trailguard: warning: organisation mode: the undo was not imported into Security Hub. The finding is in the central account's hub (${central}), not in this account's (${terminalValue(account)}): it stays as it is (RESOLVED if the fix resolved it) until the resource's next decision. To reopen it now, run with the central account's credentials:\n  ${reopen}\n`,
    );
    return;
  }
  const rule = RULES.find((r) => r.id === record.rule);
  const findings = findingsOf(
    record,
    at,
    { partition: operator.arn.split(':')[1] ?? 'aws', region: options.region, account },
    rule?.controls ? { controls: rule.controls } : {},
  );
  try {
    await (options.importFindings ?? defaultImport(options))(findings);
    out(`  security hub: ${findings.length} finding(s) updated in ${account}/${options.region}\n`);
  } catch (error) {
    err(
      `trailguard: warning: the undo was not imported into Security Hub (${terminalValue(error instanceof Error ? error.message : String(error))}); the undo itself is done\n`,
    );
  }
}

function defaultImport(options: UndoOptions): (findings: readonly AwsSecurityFinding[]) => Promise<void> {
  const client = securityHubClient({ region: options.region, endpoint: options.config.endpoint, readOnly: false });
  return async (findings) => {
    await importFindings(importBatchWith(client), findings, () => undefined);
  };
}

/**
 * The exemption to add, as the one `trailguard exempt add` command (every value quoted) or, deploy-time, as
 * TRAILGUARD_EXEMPTIONS JSON; and why it matters when the reversing call is itself an event a rule acts on.
 */
function printExemptions(
  out: (text: string) => void,
  records: readonly RemediationRecord[],
  now: number,
  operator: string,
  needed: boolean,
  retriggers: boolean,
  applied: boolean,
  cacheSeconds: number,
): void {
  const exemptions = records.flatMap((record) => exemptionsFor(record, now, operator));
  if (exemptions.length === 0 || !needed) return;
  out(
    `${applied ? 'Now add' : 'Before --apply, add'} this exemption, so the rule does not remediate the resource again (it takes effect within the functions' configuration cache time, ${cacheSeconds} s):\n`,
  );
  for (const e of exemptions) out(`  $ ${exemptAddCommand(e.rule, e.resource, e.reason, e.expires)}\n`);
  out('or, deploy-time, add it to TRAILGUARD_EXEMPTIONS (the stack parameter "exemptions") and deploy:\n');
  out(`${JSON.stringify(exemptions, null, 2)}\n`);
  if (retriggers) {
    out(
      `The reversing call is itself a CloudTrail event the rule acts on: ${applied ? 'if the exemption was not in place first, the rule may already have remediated again (check the log)' : 'add the exemption before --apply, or the rule remediates the undo within seconds'}.\n`,
    );
  }
}
