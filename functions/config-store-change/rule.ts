import * as v from 'valibot';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { AwsCallError, type AwsErrorKind } from '../../shared/errors.js';
import { RuleSettings, type Config, type RuleId } from '../../shared/config.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { actorLabel, parseWith, type CloudTrailRecord } from '../../shared/events/schema.js';
import { broadness } from '../../shared/exemption-breadth.js';
import { exemptionsRoot, ruleOfExemptionParameter, rulesParameter, StoredExemption } from '../../shared/live-config/layout.js';
import { ssmReader, type ParameterGetter, type StoredParameter } from '../../shared/live-config/ssm-reader.js';
import { alert, compliant, notApplicable, type Decision, type EventContext, type ResourceRef, type Severity } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { regionArg } from '../../shared/aws/names.js';
import { awsCommand, placeholder } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const ID = 'config-store-change';
const GET_PARAMETER = 'SSM.GetParameter';
const PERMISSIONS = { [GET_PARAMETER]: 'ssm:GetParameter' } as const;
/** The service part of every stage's prefix (`/trailguard/<stage>`): the pattern's prefix. */
const SERVICE_ROOT = '/trailguard/';
/** A parameter name as SSM allows it (a path of `a-zA-Z0-9_.-` segments), at most 2,048 characters. */
const ParameterName = v.pipe(v.string(), v.maxLength(2048), v.regex(/^(\/[A-Za-z0-9_.-]+)+$/, 'expected a parameter path'));
const ChangeRequest = v.looseObject({
  name: v.optional(ParameterName),
  // DeleteParameters takes 1-10 names.
  names: v.optional(v.pipe(v.array(ParameterName), v.maxLength(10))),
});
const ChangeResponse = v.nullish(
  v.looseObject({
    version: v.optional(v.number()),
    // DeleteParameters: what was deleted, and the names that did not exist.
    deletedParameters: v.optional(v.array(v.string())),
  }),
);

type Verb = 'written' | 'created' | 'replaced' | 'deleted' | 'labelled' | 'unlabelled';
const VERBS: Readonly<Record<string, Verb>> = {
  PutParameter: 'written',
  DeleteParameter: 'deleted',
  DeleteParameters: 'deleted',
  LabelParameterVersion: 'labelled',
  UnlabelParameterVersion: 'unlabelled',
};

interface StoreFacts {
  readonly resources: readonly ResourceRef[];
  /** The parameter names the call changed (for DeleteParameters, those it deleted). */
  readonly names: readonly string[];
  readonly verb: Verb;
  /** The version PutParameter wrote. */
  readonly version: number | undefined;
}

/** What a parameter is to trailguard: the rule settings, an exemption (of a rule, or `all`), or nothing it reads. */
type ParameterKind =
  | { readonly kind: 'rules' }
  | { readonly kind: 'exemption'; readonly rule: RuleId | '*' }
  | { readonly kind: 'unread'; readonly why: string };

/** The current value of each changed parameter, or why it is not known. */
type Read =
  | { readonly read: 'value'; readonly parameter: StoredParameter }
  | { readonly read: 'gone' }
  | { readonly read: 'failed'; readonly kind: Exclude<AwsErrorKind, 'transient'>; readonly code: string };
type StoreState = ReadonlyMap<string, Read>;

type Clients = { readonly ssm: ParameterGetter };
type Settings = Config['rules']['config-store-change'] & {
  /** The stage's prefix (config parameterPrefix); absent: every `/trailguard/<stage>` is watched. */
  readonly prefix: string | undefined;
  /** In organisation mode, the account whose store it is: other accounts' `/trailguard/` parameters are not it. */
  readonly storeAccount: string | undefined;
};

/**
 * What this rule reports: a change that can switch remediation off broadly (an exemption in `all`, a broad glob, a
 * rule disabled), another exemption or rules change, a removal or a label (remediation comes back, or nothing
 * the functions read changes), a parameter under the prefix that no function reads, and a refused attempt.
 */
export const FINDINGS = [
  'remediation-off-broadly',
  'exemption-changed',
  'rules-changed',
  'config-removed',
  'config-labelled',
  'unread-parameter-changed',
  'config-change-denied',
] as const;
type Finding = (typeof FINDINGS)[number];

const SEVERITY_ORDER: readonly Severity[] = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'];
/** Parameter text in a reason: bounded, controls escaped (the notifier escapes again; logs read it too). */
const shown = (text: string, max = 200): string => terminalValue(text.length > max ? `${text.slice(0, max)}…` : text);

function parse({ record, event }: EventContext): StoreFacts {
  const request = parseWith(ChangeRequest, record.requestParameters, 'detail.requestParameters', event.id);
  // The response only refines what the request says (which names a batch deleted, which version was written).
  const response = v.safeParse(ChangeResponse, record.responseElements);
  const asked = request.names ?? (request.name === undefined ? [] : [request.name]);
  const answer = response.success ? response.output : undefined;
  // DeleteParameters answers what it deleted; a name it did not find (invalidParameters) changed nothing.
  const names = record.eventName === 'DeleteParameters' && answer?.deletedParameters ? asked.filter((n) => answer.deletedParameters?.includes(n)) : asked;
  const verb = VERBS[record.eventName] ?? 'written';
  // CloudTrail logs `overwrite` only when sent; the version PutParameter answers says which it was.
  const written = verb === 'written' && answer?.version !== undefined ? (answer.version === 1 ? 'created' : 'replaced') : verb;
  return {
    resources: names.map((name) => ({ type: 'AWS::SSM::Parameter', id: name })),
    names,
    verb: written,
    version: answer?.version,
  };
}

/** The stage prefix a name is under: the configured one, else `/trailguard/<stage>` of the name itself. */
function prefixOf(name: string, settings: Settings): string | undefined {
  if (settings.prefix !== undefined) return name.startsWith(`${settings.prefix}/`) ? settings.prefix : undefined;
  return new RegExp(`^(${SERVICE_ROOT}[A-Za-z0-9_.-]+)/`).exec(name)?.[1];
}

function kindOf(name: string, prefix: string): ParameterKind {
  if (name === rulesParameter(prefix)) return { kind: 'rules' };
  const rule = ruleOfExemptionParameter(prefix, name);
  if (rule === undefined) return { kind: 'unread', why: 'no function reads it (neither the rules nor an exemption folder)' };
  // The functions read each folder non-recursively: a nested name is listed by `exempt list` but never applied.
  const depth = name.slice(exemptionsRoot(prefix).length + 1).split('/').length;
  return depth === 2
    ? { kind: 'exemption', rule }
    : { kind: 'unread', why: 'it is nested below an exemption folder, which the functions read non-recursively' };
}

/** The names of this store that the call changed, each with its kind; others' (another stage, another account) left out. */
function ours(names: readonly string[], settings: Settings, context: EventContext): { name: string; kind: ParameterKind }[] {
  if (settings.storeAccount !== undefined && context.event.account !== settings.storeAccount) return [];
  return names.flatMap((name) => {
    const prefix = prefixOf(name, settings);
    return prefix ? [{ name, kind: kindOf(name, prefix) }] : [];
  });
}

// Reads the value CloudTrail hides (PutParameter logs `value` as HIDDEN_DUE_TO_SECURITY_REASONS). Labels and
// deletions are decided from the event: a deletion's value is gone, and a label changes no value the functions read.
// A denied or refused read costs no alert (it is decided as offline, and says why); transient ones are retried.
async function inspect(facts: StoreFacts, { ssm }: Clients, context: EventContext, settings: Settings): Promise<StoreState> {
  const reads = new Map<string, Read>();
  if (facts.verb !== 'created' && facts.verb !== 'replaced' && facts.verb !== 'written') return reads;
  for (const { name, kind } of ours(facts.names, settings, context)) {
    if (kind.kind === 'unread') continue;
    try {
      const parameter = await ssm.getParameter(name);
      reads.set(name, parameter ? { read: 'value', parameter } : { read: 'gone' });
    } catch (error) {
      if (!(error instanceof AwsCallError) || error.kind === 'transient') throw error;
      reads.set(name, { read: 'failed', kind: error.kind, code: error.code });
    }
  }
  return reads;
}

interface Verdict {
  readonly severity: Severity;
  readonly finding: Finding;
  readonly text: string;
}

/** The stored value as JSON, or undefined when it is none. */
function json(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** What a read adds to the reason when it gave no value. */
function unreadBecause(read: Read | undefined): string {
  if (read === undefined) return 'its value was not read (offline; CloudTrail hides it)';
  if (read.read === 'gone') return 'it no longer exists (deleted since)';
  if (read.read === 'failed')
    return `its value could not be read: ${GET_PARAMETER} ${read.kind === 'denied' ? 'was denied' : 'failed'} (${read.code}; the role needs ${PERMISSIONS[GET_PARAMETER]})`;
  return '';
}

/** A later version than the event's: the value shown is not the one this call wrote. */
const since = (read: Read | undefined, version: number | undefined): string =>
  read?.read === 'value' && version !== undefined && read.parameter.version !== version
    ? ` (now at version ${read.parameter.version}, changed again since)`
    : '';

function exemptionVerdict(name: string, rule: RuleId | '*', facts: StoreFacts, read: Read | undefined): Verdict {
  const scope = rule === '*' ? 'an exemption from every rule (folder all)' : `an exemption from ${rule}`;
  const what = `${scope}, ${shown(name)}, was ${facts.verb}`;
  if (read?.read !== 'value') {
    return rule === '*'
      ? { severity: 'HIGH', finding: 'remediation-off-broadly', text: `${what}: it can exempt any resource from every rule; ${unreadBecause(read)}` }
      : { severity: 'MEDIUM', finding: 'exemption-changed', text: `${what}; ${unreadBecause(read)}` };
  }
  const stored = v.safeParse(StoredExemption, json(read.parameter.value));
  if (!stored.success) {
    return {
      severity: 'MEDIUM',
      finding: 'exemption-changed',
      text: `${what}: its value is no valid exemption, so the functions do not apply it${since(read, facts.version)}`,
    };
  }
  const { resource, expires } = stored.output;
  const holds = `resource "${shown(resource)}"${expires ? `, until ${expires}` : ', no expiry'}${since(read, facts.version)}`;
  const broad = broadness(rule, resource);
  // An exemption from this rule silences it for the parameters it matches: the next change to them goes untold.
  if (rule === ID) {
    return { severity: 'HIGH', finding: 'remediation-off-broadly', text: `${what}: ${holds}; it silences this alert for the parameters it matches` };
  }
  if (rule === '*' || broad) {
    const why = broad ? shown(broad, 400) : 'it exempts the resource from every rule, remediation and alerts alike';
    return { severity: 'HIGH', finding: 'remediation-off-broadly', text: `${what}: ${holds}; ${why} (trailguard exempt add refuses this without --broad)` };
  }
  return { severity: 'MEDIUM', finding: 'exemption-changed', text: `${what}: ${holds}` };
}

function rulesVerdict(name: string, facts: StoreFacts, read: Read | undefined, deployment: boolean): Verdict {
  const what = `the rule settings, ${shown(name)}, were ${facts.verb}${deployment ? ' by a CloudFormation deployment' : ''}`;
  if (read?.read !== 'value') {
    return { severity: deployment ? 'LOW' : 'MEDIUM', finding: 'rules-changed', text: `${what}; ${unreadBecause(read)}` };
  }
  const settings = v.safeParse(RuleSettings, json(read.parameter.value));
  if (!settings.success) {
    return {
      severity: 'MEDIUM',
      finding: 'rules-changed',
      text: `${what}: the value is no valid rule settings, so the functions keep the last valid version${since(read, facts.version)}`,
    };
  }
  const disabled = Object.entries(settings.output)
    .filter(([, ruleSettings]) => (ruleSettings as { enabled: boolean }).enabled === false)
    .map(([id]) => id);
  if (disabled.length > 0) {
    return { severity: 'HIGH', finding: 'remediation-off-broadly', text: `${what}: they turn off ${disabled.join(', ')}${since(read, facts.version)}` };
  }
  return { severity: deployment ? 'LOW' : 'MEDIUM', finding: 'rules-changed', text: `${what}: every rule stays enabled${since(read, facts.version)}` };
}

function verdictOf(name: string, kind: ParameterKind, facts: StoreFacts, state: StoreState | undefined, record: CloudTrailRecord): Verdict {
  if (kind.kind === 'unread') {
    return { severity: 'LOW', finding: 'unread-parameter-changed', text: `${shown(name)} under trailguard's prefix was ${facts.verb}: ${kind.why}` };
  }
  if (facts.verb === 'labelled' || facts.verb === 'unlabelled') {
    return { severity: 'LOW', finding: 'config-labelled', text: `${shown(name)} was ${facts.verb}: the functions read the newest version, not labels` };
  }
  if (facts.verb === 'deleted') {
    return kind.kind === 'rules'
      ? { severity: 'MEDIUM', finding: 'rules-changed', text: `the rule settings, ${shown(name)}, were deleted: the functions apply the deployed defaults` }
      : {
          severity: 'LOW',
          finding: 'config-removed',
          text: `${kind.rule === '*' ? 'an exemption from every rule' : `an exemption from ${kind.rule}`}, ${shown(name)}, was deleted: remediation applies to its resource again`,
        };
  }
  const read = state?.get(name);
  // The stack's own deployment writes `<prefix>/rules` (RulesParameter) with the deploying identity's session.
  const deployment = record.actor.invokedBy === 'cloudformation.amazonaws.com' || record.sourceIp === 'cloudformation.amazonaws.com';
  return kind.kind === 'rules' ? rulesVerdict(name, facts, read, deployment) : exemptionVerdict(name, kind.rule, facts, read);
}

function decide(facts: StoreFacts, state: StoreState | undefined, settings: Settings, context: EventContext): Decision {
  const changed = ours(facts.names, settings, context);
  if (changed.length === 0) {
    return notApplicable(
      facts.names.length === 0
        ? `${context.record.eventName} changed no parameter`
        : `not this stage's parameter store (${settings.prefix ?? `${SERVICE_ROOT}<stage>`}${settings.storeAccount ? ` in ${settings.storeAccount}` : ''}): ${facts.names.map((n) => shown(n)).join(', ')}`,
    );
  }
  const verdicts = changed.map(({ name, kind }) => verdictOf(name, kind, facts, state, context.record));
  const worst = verdicts.reduce((a, b) => (SEVERITY_ORDER.indexOf(b.severity) > SEVERITY_ORDER.indexOf(a.severity) ? b : a));
  const by = `by ${shown(actorLabel(context.record.actor), 300)}`;
  return alert(
    `trailguard's configuration changed ${by}: ${verdicts.map((verdict) => verdict.text).join('; ')}`,
    worst.severity,
    changed.map(({ name }) => ({ type: 'AWS::SSM::Parameter', id: name })),
    worst.finding,
  );
}

/** Error codes of a call refused by IAM, an SCP or a permissions boundary. */
const DENIED = /^(AccessDenied|AccessDeniedException|UnauthorizedOperation|UnauthorizedAccess)$/;

// A denied write to the store is someone trying to change what trailguard enforces: told, as trail-logging tells
// a denied StopLogging. Other failures (ParameterAlreadyExists from `exempt add`, ParameterNotFound) changed nothing.
function failedCall(record: CloudTrailRecord, settings: Settings, context: EventContext): Decision | undefined {
  const request = v.safeParse(ChangeRequest, record.requestParameters);
  const names = request.success ? (request.output.names ?? (request.output.name === undefined ? [] : [request.output.name])) : [];
  const changed = ours(names, settings, context);
  if (changed.length === 0) return undefined;
  const code = record.errorCode ?? 'unknown error';
  const resources = changed.map(({ name }) => ({ type: 'AWS::SSM::Parameter', id: name }));
  if (!DENIED.test(code)) return compliant(`the ${record.eventName} call failed (${shown(code, 100)}): nothing changed`, resources);
  return alert(
    `an attempt by ${shown(actorLabel(record.actor), 300)} to change trailguard's configuration (${record.eventName} of ${changed.map(({ name }) => shown(name)).join(', ')}) was denied (${shown(code, 100)}): nothing changed, but someone tried`,
    'MEDIUM',
    resources,
    'config-change-denied',
  );
}

/**
 * Changes to trailguard's own parameter store: exemptions and rule settings written, deleted or labelled. The store is
 * in trailguard's own account, so its read is too (ownAccountApis): no member role holds it, none is assumed for it.
 */
export const configStoreChange = {
  ...alertRule<StoreFacts, StoreState, Clients, Settings, Finding>({
    id: ID,
    pattern: pattern as EventPattern,
    findings: FINDINGS,
    settings: (config: Config) => ({
      ...config.rules['config-store-change'],
      prefix: config.parameterPrefix,
      storeAccount: config.organization?.centralAccountId,
    }),
    parse,
    reads: {
      permissions: PERMISSIONS,
      clients: (options) => ({ ssm: ssmReader({ region: options.region, endpoint: options.endpoint }) }),
      inspect,
    },
    decide,
    failedCall,
    title: (record, finding) =>
      `trailguard configuration ${finding === 'config-change-denied' ? 'change denied' : finding === 'remediation-off-broadly' ? 'change turns remediation off broadly' : 'changed'}: ${record.resources[0]?.id ?? 'unknown'}${record.resources.length > 1 ? ` and ${record.resources.length - 1} more` : ''}`,
    checkNext: (record, finding) => [
      'was it an operator using trailguard exempt (the actor and user agent are below)? A write that did not go through the CLI skipped its refusal of broad exemptions',
      `every exemption in force and who last wrote it: trailguard exempt list`,
      ...(finding === 'remediation-off-broadly'
        ? ['if unintended: trailguard exempt remove (or restore the rule settings) at once: the functions apply the change within configMaxAgeSeconds']
        : []),
      `the history of the parameter: ${awsCommand('ssm', 'get-parameter-history', { name: record.resources[0]?.id ?? placeholder('<name>'), region: regionArg(record.region) })}`,
    ],
  }),
  ownAccountApis: [GET_PARAMETER],
};
