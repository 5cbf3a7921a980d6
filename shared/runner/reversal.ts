/**
 * An operator's undo through the runner (trigger `undo`): the reversing writes of one remediation, each performed
 * through its action type with the operator's credentials and read back (act.ts), then one record and one
 * notification (record.ts, notify.ts), as for any run. Its outcome is `reverted` (every write done and verified) or
 * `failed`; its actor is the operator's AWS identity, never a local user name.
 */
import { permissionsOf, type AnyActionType, type AwsClients, type ReverseStep } from '../actions/action.js';
import { reversalSummaries } from '../actions/reversal.js';
import type { RemediationRecord } from '../remediation-log.js';
import type { AnyRule, Message } from '../rule.js';
import { actAndVerify } from './act.js';
import { conclude, concludeFromError, type Conclusion } from './conclusion.js';
import type { RunDeps } from './deps.js';
import type { Origin } from './origin.js';
import { finish } from './record.js';

/** Who runs an undo: the identity STS names for the operator's credentials. */
export interface Operator {
  readonly arn: string;
  readonly account: string | undefined;
}

/** `AssumedRole`, `IAMUser`, `Root` or `FederatedUser`, from an STS caller ARN, as CloudTrail names identity types. */
export function identityTypeOf(arn: string): string {
  const resource = arn.split(':').slice(5).join(':');
  if (resource.startsWith('assumed-role/')) return 'AssumedRole';
  if (resource.startsWith('user/')) return 'IAMUser';
  if (resource.startsWith('federated-user/')) return 'FederatedUser';
  return resource === 'root' ? 'Root' : 'Unknown';
}

/**
 * Performs `steps` (the reversal of `original`'s writes, already planned from its record) and records the undo.
 * `rule` is the rule whose remediation is undone: its id labels the record; what it may perform is the steps'
 * action types only. `message` is the undo's notification text.
 */
export async function runReversal(
  rule: AnyRule,
  original: RemediationRecord,
  steps: readonly ReverseStep[],
  operator: Operator,
  deps: RunDeps,
  clients: AwsClients,
  message: (record: RemediationRecord) => Message,
): Promise<RemediationRecord> {
  const started = deps.now();
  const types = [...new Set(steps.map((step) => step.type))] satisfies AnyActionType[];
  // Only the reversing writes, with their own IAM actions; never digested: an operator's undo always reaches a person.
  const undoing: AnyRule = { ...rule, actions: types, permissions: permissionsOf(types), neverDigested: true, message };
  const region = original.region ?? steps[0]?.action.resource.region ?? 'unknown';
  const subject = `undo of ${original.eventId}: ${steps.flatMap((step) => reversalSummaries({ kind: 'steps', steps: [step] })).join('; ')}`;
  const planned = conclude('would-remediate', subject, {
    severity: original.severity,
    resources: original.resources,
    plan: 'will-remediate',
    finding: original.finding,
  });
  let conclusion: Conclusion;
  try {
    conclusion = await actAndVerify(
      undoing,
      steps.map((step) => step.action),
      clients,
      planned,
      [],
      undefined,
      { account: original.account ?? undefined, region },
    );
  } catch (error) {
    conclusion = { ...concludeFromError(undoing, error), resources: original.resources };
  }
  return finish(undoing, undoOrigin(original, operator, deps.now()), undoConclusion(conclusion, subject), { ...deps, once: true }, started);
}

/**
 * The undo's outcome: `reverted` when every write is done and read back. Nothing retries an undo: a throttled or
 * unreachable call (a write that may have landed, a read-back not made) is final and says what to do instead.
 */
function undoConclusion(conclusion: Conclusion, subject: string): Conclusion {
  if (conclusion.outcome === 'remediated') return { ...conclusion, outcome: 'reverted', reason: `${subject}; done and verified` };
  if (conclusion.error?.kind !== 'transient') return conclusion;
  return {
    ...conclusion,
    outcome: 'failed',
    reason:
      `${subject}; NOT verified: ${conclusion.error.api ?? 'a call'} was throttled or unreachable (${conclusion.error.code}) and an undo is not retried: `
      + 'read the resource (trailguard undo --mode dry-run) and run the undo again if it is not as before',
  };
}

/** The undo's origin: the undone event's id (so `undo EVENT_ID` finds both), the operator as actor, now as its time. */
function undoOrigin(original: RemediationRecord, operator: Operator, now: number): Origin {
  return {
    trigger: 'undo',
    eventId: original.eventId,
    eventName: original.eventName,
    eventSource: original.eventSource,
    eventTime: new Date(now).toISOString(),
    errorCode: null,
    account: original.account,
    region: original.region,
    actor: operator.arn,
    actorType: identityTypeOf(operator.arn),
    sourceIp: null,
    userAgent: 'trailguard undo',
  };
}
