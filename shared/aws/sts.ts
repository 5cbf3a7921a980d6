import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { OrganizationConfig } from '../config.js';
import { AwsCallError } from '../errors.js';
import type { AnyRule } from '../rule.js';
import { baseClientConfig, cachedClient, type AccountAccess } from './client-options.js';
import { awsCall } from './errors.js';

/** Member-role credentials are renewed this long before they expire, so no call starts on credentials about to lapse. */
export const REFRESH_BEFORE_MS = 5 * 60_000;

/** Where AssumeRole is called: the function's own region (STS regional endpoint) and the custom endpoint, if any. */
export interface StsOptions {
  readonly region: string;
  readonly endpoint: string | undefined;
}

/** The role to assume in a member account, how the session is named, and what the session may do. */
export interface MemberRole {
  readonly roleArn: string;
  readonly sessionName: string;
  readonly externalId: string | undefined;
  /** The session policy (JSON): the session can do only what both it and the member role allow. */
  readonly sessionPolicy: string;
}

/** What a member session needs of a rule (or of the enforcement check): its id and the calls it makes. */
export type MemberRule = Pick<AnyRule, 'id' | 'permissions' | 'ownAccountApis'>;

const clients = new Map<string, STSClient>();
const sessions = new Map<string, { readonly credentials: AwsCredentialIdentity; readonly expiresAt: number }>();

/**
 * The STS client, with the function's own credentials. An explicit client: the bundles' default credential
 * chain is `fromEnv` only (lambda-credentials.ts), which cannot assume roles. Never read-only: dry-run
 * assumes the member role too, to read.
 */
export function stsClient(options: StsOptions): STSClient {
  return cachedClient(clients, 'STS', { ...options, readOnly: false }, () => new STSClient(baseClientConfig({ ...options, readOnly: false })));
}

/** The AWS partition of a region (`aws-cn` for cn-*, `aws-us-gov` for us-gov-*), for the member role's ARN. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** `trailguard-<rule>`: names the rule in the member account's CloudTrail (≤ 64 characters, all valid in a session name). */
export function sessionNameFor(ruleId: string): string {
  return `trailguard-${ruleId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

/** The IAM actions a rule needs in the event's account: its permissions, except the APIs it calls in its own account. */
export function memberActionsOf(rule: MemberRule): string[] {
  const own = new Set(rule.ownAccountApis ?? []);
  return [
    ...new Set(
      Object.entries(rule.permissions)
        .filter(([api]) => !own.has(api))
        .map(([, action]) => action),
    ),
  ].sort();
}

/**
 * The session policy for a rule's member session: exactly its member actions. The member role holds every
 * rule's writes; intersected with this, a function can do in a member account only what its own role can do
 * at home (notify-only s3-bucket-deleted: one read). One statement on '*' keeps it far under STS's 2,048
 * characters and packed-size limit; the member role's own statements still scope each action to resources.
 */
export function sessionPolicyFor(rule: MemberRule): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: memberActionsOf(rule), Resource: '*' }] });
}

/**
 * A credential provider for a member role: AssumeRole on first use, then the cached session until
 * REFRESH_BEFORE_MS before it expires. Sessions are cached per role, session name, external id and session
 * policy, for the container's life: a session is never reused by a rule (or the enforcement check, which shares
 * its rule's session name) with other permissions. A failure is an AwsCallError on `STS.AssumeRole` naming the
 * role (denied: not assumable).
 */
export function assumedRoleCredentials(role: MemberRole, sts: StsOptions): AwsCredentialIdentityProvider {
  const key = `${role.roleArn}|${role.sessionName}|${role.externalId ?? ''}|${role.sessionPolicy}`;
  return async () => {
    const cached = sessions.get(key);
    if (cached && cached.expiresAt - Date.now() > REFRESH_BEFORE_MS) return cached.credentials;
    const command = new AssumeRoleCommand({
      RoleArn: role.roleArn,
      RoleSessionName: role.sessionName,
      Policy: role.sessionPolicy,
      ...(role.externalId ? { ExternalId: role.externalId } : {}),
    });
    const { Credentials: c } = await awsCall('STS.AssumeRole', role.roleArn, () => stsClient(sts).send(command));
    if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) {
      throw new AwsCallError('STS.AssumeRole', role.roleArn, 'invalid', 'IncompleteCredentials', 'AssumeRole returned no complete credentials');
    }
    const credentials = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
    sessions.set(key, { credentials, expiresAt: c.Expiration.getTime() });
    return credentials;
  };
}

const ACCOUNT_ID = /^\d{12}$/;

/**
 * How a rule acts in the event's account: the member role, limited by the rule's session policy. Undefined
 * means with the function's own role: single-account mode (no `organization`), an event from the central
 * account itself, an event that names no account, or a rule that makes no call in the event's account.
 */
export function accountAccess(org: OrganizationConfig | undefined, account: string | undefined, rule: MemberRule, sts: StsOptions): AccountAccess | undefined {
  if (!org || account === undefined || account === org.centralAccountId || memberActionsOf(rule).length === 0) return undefined;
  if (!ACCOUNT_ID.test(account))
    throw new AwsCallError('STS.AssumeRole', 'event account', 'invalid', 'InvalidAccountId', "the event's account is not a 12-digit account id");
  const roleArn = `arn:${partitionOf(sts.region)}:iam::${account}:role/${org.memberRoleName}`;
  const sessionName = sessionNameFor(rule.id);
  const sessionPolicy = sessionPolicyFor(rule);
  const credentials = assumedRoleCredentials({ roleArn, sessionName, externalId: org.externalId, sessionPolicy }, sts);
  return { accountId: account, roleArn, sessionName, sessionPolicy, credentials };
}

/** Forgets every cached member-role session (tests only). */
export function resetAssumedRoleSessions(): void {
  sessions.clear();
}
