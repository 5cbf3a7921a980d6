import { sessionNameFor } from '../aws/sts.js';
import type { Config } from '../config.js';
import type { SelfSignature } from '../actions/action.js';
import { SELF_SIGNATURES } from '../actions/signatures.js';
import type { Actor, CloudTrailRecord } from '../events/schema.js';
import { matchesGlob } from '../exemptions.js';

/**
 * Every write trailguard's functions make, by `Service.Operation`, with the CloudTrail `eventName` it is recorded as
 * (they differ for S3): from the action types' self signatures. Only these calls of trailguard's own roles can be its
 * own, and only with the parameters it writes: a role that merely carries a trailguard-like name and calls anything
 * else (StopLogging, PutBucketAcl, ReplaceRoute) is evaluated like any other caller.
 */
export const SELF_WRITE_EVENT_NAMES: Readonly<Record<string, string>> = Object.fromEntries(SELF_SIGNATURES.map((s) => [s.api, s.eventName]));

/** Per CloudTrail `eventName`: the signature that says when a call of one of trailguard's roles is a write it makes. */
const OWN_WRITES: ReadonlyMap<string, SelfSignature> = new Map(SELF_SIGNATURES.map((s) => [s.eventName, s]));

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
  const signature = OWN_WRITES.get(record.eventName);
  if (!signature) return undefined;
  const role = selfRoleOf(actor.roleName, actor, config);
  return role && signature.isOwnWrite(record.requestParameters, { enforces: role.enforces, config, account: actor.accountId }) ? role.name : undefined;
}

/** The CloudTrail event names of trailguard's writes that OWN_WRITES judges (the registry test holds both lists equal). */
export const OWN_WRITE_EVENT_NAMES: readonly string[] = [...OWN_WRITES.keys()];
