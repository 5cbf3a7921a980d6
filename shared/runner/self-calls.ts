import type { Actor } from '../events/schema.js';
import { matchesGlob } from '../exemptions.js';

/**
 * Every write trailguard makes, by `Service.Operation`, with the CloudTrail `eventName` it is recorded as
 * (they differ for S3). Only these calls of trailguard's own roles are its own: a role that merely carries a
 * trailguard-like name and calls anything else (StopLogging, PutBucketAcl, ReplaceRoute) is evaluated like
 * any other caller. test/shared/runner/self-calls.test.ts proves every rule's writes are listed.
 */
export const SELF_WRITE_EVENT_NAMES: Readonly<Record<string, string>> = {
  'S3.PutPublicAccessBlock': 'PutBucketPublicAccessBlock',
  'EC2.RevokeSecurityGroupIngress': 'RevokeSecurityGroupIngress',
  'EC2.CreateTags': 'CreateTags',
  'EC2.StopInstances': 'StopInstances',
  'Scheduler.CreateSchedule': 'CreateSchedule',
  'CloudTrail.StartLogging': 'StartLogging',
  'CloudTrail.UpdateTrail': 'UpdateTrail',
};

const SELF_EVENT_NAMES: ReadonlySet<string> = new Set(Object.values(SELF_WRITE_EVENT_NAMES));

/**
 * The role name when the call is trailguard's own, so not re-evaluated (no fix triggers another); else
 * undefined. All three must hold: an assumed role whose name matches `selfRoles`, of the event's own account
 * (trailguard's roles act in the account they live in: its functions' roles in its account, the member role in
 * each member's), making a call trailguard makes. A look-alike role from another account, or one calling
 * anything else, is a caller like any other.
 */
export function selfCallOf(actor: Actor, eventName: string, eventAccount: string | undefined, selfRoles: readonly string[]): string | undefined {
  if (actor.type !== 'AssumedRole' || !actor.roleName) return undefined;
  if (!SELF_EVENT_NAMES.has(eventName)) return undefined;
  if (actor.accountId === undefined || actor.accountId !== eventAccount) return undefined;
  const role = actor.roleName;
  return selfRoles.some((glob) => matchesGlob(glob, role)) ? role : undefined;
}
