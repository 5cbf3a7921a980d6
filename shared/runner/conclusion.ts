/**
 * What a run concluded, before it becomes a record: the outcome and the reason a person reads, with the control
 * state code decides on as fields of its own (what the rule found, whether the violation will be acted on, why
 * actions were skipped). The reason is written once, for a person, and never read back. Also the one mapping of a
 * rule's decision, and of an error, to a conclusion.
 */
import type { Mode } from '../config.js';
import { AwsCallError, ParseError } from '../errors.js';
import type { ExemptionMatch } from '../exemptions.js';
import type { ActionRecord, Outcome, RecordError } from '../remediation-log.js';
import type { AnyRule, Coverage, Decision, PlannedAction, ResourceRef, Severity } from '../rule.js';
import { assertNever } from './assert-never.js';

/**
 * What becomes of a violation's actions: `will-remediate` (live: performed next) or `would-remediate` (dry-run,
 * offline: reported only). Null once acted on, held back, or for anything but a violation.
 */
export type Plan = 'will-remediate' | 'would-remediate';

/** Why planned actions (or the whole check) were not performed. */
export type Skipped =
  /** Every resource, or every action's resource, is exempt by configuration. */
  | { readonly why: 'exempt' }
  /** The circuit breaker holds the writes back; `tripped`: this run's writes opened it (and page, CRITICAL). */
  | { readonly why: 'breaker'; readonly breaker: string; readonly tripped: boolean }
  /** A transient failure after `done` of `total` writes landed: the rest wait for the retry. */
  | { readonly why: 'half-done'; readonly done: number; readonly total: number };

/** The part of a record that a run settles; the rest comes from the event and the run. */
export interface Conclusion {
  readonly outcome: Outcome;
  /** The record's reason, for a person: `subject`, then what the run did about it. Code never reads it. */
  readonly reason: string;
  /** What the rule found (its decision's reason), without the runner's words on what was done: later steps build on it. */
  readonly subject: string;
  readonly plan: Plan | null;
  readonly skipped: Skipped | null;
  readonly severity: Severity | null;
  readonly resources: readonly ResourceRef[];
  readonly actions: readonly ActionRecord[];
  readonly exemptions: readonly ExemptionMatch[];
  readonly error: RecordError | null;
  readonly finding: string | null;
  /** Another rule pages this event too (an alert's `coveredBy`): notify.ts folds this one into it when it may. */
  readonly coveredBy: Coverage | null;
}

/** A conclusion whose reason is its subject, unless `extra` says otherwise. */
export const conclude = (outcome: Outcome, reason: string, extra: Partial<Conclusion> = {}): Conclusion => ({
  outcome,
  reason,
  subject: reason,
  plan: null,
  skipped: null,
  severity: null,
  resources: [],
  actions: [],
  exemptions: [],
  error: null,
  finding: null,
  coveredBy: null,
  ...extra,
});

/**
 * The rule's decision as a conclusion. A violation's actions on exempt resources are dropped (and their exemptions
 * recorded); the rest are planned: `will-remediate` live, `would-remediate` otherwise.
 */
export function fromDecision(
  decision: Decision,
  actionExemptions: readonly (ExemptionMatch | undefined)[],
  mode: Mode,
  factExemptions: readonly ExemptionMatch[],
): Conclusion {
  switch (decision.kind) {
    case 'compliant':
      return conclude('compliant', decision.reason, { resources: decision.resources, exemptions: factExemptions, finding: decision.finding ?? null });
    case 'not-applicable':
      return conclude('ignored', decision.reason, { exemptions: factExemptions });
    case 'alert':
      return conclude('alerted', decision.reason, {
        severity: decision.severity,
        resources: decision.resources,
        exemptions: factExemptions,
        finding: decision.finding ?? null,
        coveredBy: decision.coveredBy ?? null,
      });
    case 'violation': {
      const exemptions = uniqueByResource([...factExemptions, ...actionExemptions.filter((e) => e !== undefined)]);
      const planned = decision.actions.filter((_, index) => actionExemptions[index] === undefined).map(plannedRecord);
      const base = { subject: decision.reason, severity: decision.severity, resources: decision.resources, exemptions, finding: decision.finding ?? null };
      if (planned.length === 0) {
        return conclude('exempt', `${decision.reason}; every action is exempt by configuration`, { ...base, skipped: { why: 'exempt' } });
      }
      const plan: Plan = mode === 'live' ? 'will-remediate' : 'would-remediate';
      const verb = mode === 'live' ? 'will remediate' : `would remediate (${mode})`;
      return conclude('would-remediate', `${decision.reason}; ${verb}`, { ...base, plan, actions: planned });
    }
    default:
      return assertNever(decision);
  }
}

function uniqueByResource(matches: readonly ExemptionMatch[]): ExemptionMatch[] {
  return [...new Map(matches.map((match) => [match.resource, match])).values()];
}

/** A planned action as the record lists it, before it is performed. */
export function plannedRecord(action: PlannedAction): ActionRecord {
  return {
    api: action.api,
    status: 'planned',
    resource: action.resource.id,
    params: action.params,
    ...(action.previous !== undefined ? { previous: action.previous } : {}),
  };
}

/** Anything thrown on the way: a parse error `failed`, a resource gone `ignored`, any other AWS error `failed` (named). */
export function concludeFromError(rule: AnyRule | undefined, error: unknown): Conclusion {
  if (error instanceof ParseError) {
    return conclude('failed', `the event could not be read: ${error.message}`, {
      error: { kind: 'parse', code: 'ParseError', message: error.message },
    });
  }
  if (error instanceof AwsCallError) {
    const record = errorRecord(rule, error);
    if (error.kind === 'gone') {
      return conclude('ignored', `${error.resource} no longer exists (${error.code} from ${error.api})`, { error: record });
    }
    const retry = error.kind === 'transient' ? '; retried by Lambda/EventBridge' : '';
    return conclude('failed', `${record.message}${retry}`, { error: record });
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return conclude('failed', `unexpected error: ${message.slice(0, 300)}`, {
    error: { kind: 'internal', code: error instanceof Error ? error.name : 'Unknown', message: message.slice(0, 300) },
  });
}

/** APIs the runner itself calls, with the IAM action each needs (rules declare their own). */
const RUNNER_PERMISSIONS: Readonly<Record<string, string>> = {
  'DynamoDB.PutItem': 'dynamodb:PutItem',
  'DynamoDB.UpdateItem': 'dynamodb:UpdateItem',
  'DynamoDB.GetItem': 'dynamodb:GetItem',
  'DynamoDB.DeleteItem': 'dynamodb:DeleteItem',
  'SNS.Publish': 'sns:Publish',
  'STS.AssumeRole': 'sts:AssumeRole',
};

/** The record's error: a denied call names the permission it needs (the rule's, else the runner's). */
export function errorRecord(rule: AnyRule | undefined, error: AwsCallError): RecordError {
  const permission = error.kind === 'denied' ? (rule?.permissions[error.api] ?? RUNNER_PERMISSIONS[error.api] ?? error.api) : undefined;
  return {
    kind: error.kind,
    code: error.code,
    api: error.api,
    ...(permission ? { permission } : {}),
    message:
      error.kind === 'denied'
        ? error.api === 'STS.AssumeRole'
          ? notAssumable(error)
          : `${error.api} on ${error.resource} was denied: the role needs ${permission}, or an SCP or resource policy blocks it`
        : error.message,
  };
}

/** "role X not assumable in account Y": the member account has no member stack, or its trust does not admit this function. */
function notAssumable(error: AwsCallError): string {
  const [, , , , account = 'unknown', resource = ''] = error.resource.split(':');
  const role = resource.startsWith('role/') ? resource.slice('role/'.length) : resource;
  return `role ${role} not assumable in account ${account}: sts:AssumeRole on ${error.resource} was denied (${error.code}); deploy the member stack in that account, or check that its trust admits this function's role`;
}
