import { sessionNameFor } from '../aws/sts.js';
import type { Config } from '../config.js';
import { TAGGED_AT_KEY } from '../ec2/tags.js';
import { ec2Items } from '../events/normalize.js';
import type { Actor, CloudTrailRecord } from '../events/schema.js';
import { matchesGlob } from '../exemptions.js';

/**
 * Every write trailguard makes, by `Service.Operation`, with the CloudTrail `eventName` it is recorded as
 * (they differ for S3). Only these calls of trailguard's own roles can be its own, and only with the
 * parameters it writes (OWN_WRITES): a role that merely carries a trailguard-like name and calls anything else
 * (StopLogging, PutBucketAcl, ReplaceRoute) is evaluated like any other caller.
 * test/shared/runner/self-calls.test.ts proves every rule's writes are listed.
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

/**
 * The enforcement function's role name ends so (`iamRoleStatementsName` in functions/untagged-instance/function.yml):
 * only it stops instances. test/shared/runner/self-calls.test.ts holds the two to the same name.
 */
export const ENFORCE_ROLE_SUFFIX = '-untaggedInstanceEnforce-role';

/** In organisation mode the enforcement check acts through the member role under its rule's session name. */
const ENFORCE_SESSION_NAME = sessionNameFor('untagged-instance');

/** One of trailguard's roles, as a call's record shows it. */
interface SelfRole {
  readonly name: string;
  /** The untagged-instance enforcement: the one role that stops instances. */
  readonly enforces: boolean;
}

/** What trailguard writes, judged from the call's CloudTrail `requestParameters` (any JSON at all). */
type OwnWriteTest = (request: unknown, role: SelfRole, config: Config) => boolean;

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

const BLOCK_FLAGS = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'] as const;

/**
 * All four flags `true` (booleans: a string "true" is no SDK call of ours). The flags sit in
 * `PublicAccessBlockConfiguration` next to `xmlns` (S/s3-PutBucketPublicAccessBlock-flags-false-envelope.json).
 */
function blocksAllPublicAccess(request: unknown): boolean {
  const block = isObject(request) ? request.PublicAccessBlockConfiguration : undefined;
  return isObject(block) && BLOCK_FLAGS.every((flag) => block[flag] === true);
}

/** The UpdateTrail settings trailguard restores, as CloudTrail records them (S/cloudtrail-UpdateTrail-records-file-no-weakening.json). */
const RESTORED_TRAIL_SETTINGS: ReadonlySet<string> = new Set(['isMultiRegionTrail', 'enableLogFileValidation', 'includeGlobalServiceEvents']);

/** The trail's name and at least one restored setting, each `true`; any other field (a KMS key, a bucket) is not ours. */
function onlyTurnsTrailSettingsOn(request: unknown): boolean {
  if (!isObject(request) || typeof request.name !== 'string') return false;
  const settings = Object.keys(request).filter((key) => key !== 'name');
  return settings.length > 0 && settings.every((key) => RESTORED_TRAIL_SETTINGS.has(key) && request[key] === true);
}

/** Only the keys the untagged-instance rule adds: the required tags and `trailguard:tagged-at` (`tagSet.items[]`). */
function addsOnlyOwnTagKeys(request: unknown, _role: SelfRole, config: Config): boolean {
  const ownKeys = new Set([...config.rules['untagged-instance'].requiredTags, TAGGED_AT_KEY]);
  const tags = isObject(request) ? ec2Items(request.tagSet) : [];
  return tags.length > 0 && tags.every((tag) => isObject(tag) && typeof tag.key === 'string' && ownKeys.has(tag.key));
}

/** Per CloudTrail `eventName`: when a call of one of trailguard's roles is a write trailguard makes. */
const OWN_WRITES: Readonly<Record<string, OwnWriteTest>> = {
  PutBucketPublicAccessBlock: blocksAllPublicAccess,
  UpdateTrail: onlyTurnsTrailSettingsOn,
  CreateTags: addsOnlyOwnTagKeys,
  StopInstances: (_request, role) => role.enforces,
  // A revoke only ever narrows who may connect; a restart of logging only ever records more.
  RevokeSecurityGroupIngress: () => true,
  StartLogging: () => true,
  // In trailguard's own account only, and no rule watches Scheduler: listed so that its writes are complete.
  CreateSchedule: () => true,
};

/**
 * The role as one of trailguard's, or undefined. In organisation mode the member role is one (it is how
 * trailguard acts in every member account); there the session name tells the enforcement check apart.
 */
function selfRoleOf(roleName: string, actor: Actor & { readonly type: 'AssumedRole' }, config: Config): SelfRole | undefined {
  if (config.organization && roleName === config.organization.memberRoleName) {
    return { name: roleName, enforces: actor.sessionName === ENFORCE_SESSION_NAME };
  }
  if (!config.selfRoles.some((glob) => matchesGlob(glob, roleName))) return undefined;
  return { name: roleName, enforces: roleName.endsWith(ENFORCE_ROLE_SUFFIX) };
}

/**
 * The role name when the call is trailguard's own, so not re-evaluated (no fix triggers another); else
 * undefined. All three must hold: an assumed role whose name matches `selfRoles` (or the member role), of the
 * event's own account (trailguard's roles act in the account they live in: its functions' roles in its
 * account, the member role in each member's), making a call trailguard makes with the parameters it writes.
 * A look-alike role from another account, a call trailguard never makes, or its own call turned against
 * what it protects (four flags off, a trail's validation off) is judged like any other caller's.
 */
export function selfCallOf(record: CloudTrailRecord, eventAccount: string | undefined, config: Config): string | undefined {
  const actor = record.actor;
  if (actor.type !== 'AssumedRole' || !actor.roleName) return undefined;
  if (actor.accountId === undefined || actor.accountId !== eventAccount) return undefined;
  const isOwnWrite = Object.hasOwn(OWN_WRITES, record.eventName) ? OWN_WRITES[record.eventName] : undefined;
  if (!isOwnWrite) return undefined;
  const role = selfRoleOf(actor.roleName, actor, config);
  return role && isOwnWrite(record.requestParameters, role, config) ? role.name : undefined;
}

/** The CloudTrail event names of trailguard's writes that OWN_WRITES judges (the registry test holds both lists equal). */
export const OWN_WRITE_EVENT_NAMES: readonly string[] = Object.keys(OWN_WRITES);
