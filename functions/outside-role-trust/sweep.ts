import { paginateListRoles, type IAMClient, type Role } from '@aws-sdk/client-iam';
import { iamClient } from '../../shared/aws/iam.js';
import { isIamName } from '../../shared/aws/names.js';
import { organizationAccounts } from '../../shared/aws/organizations.js';
import { partitionOf } from '../../shared/aws/sts.js';
import type { OrgAccounts, OutsidePolicy, OutsideView } from '../../shared/outside.js';
import { policyDocumentOf } from '../../shared/outside-principals.js';
import { classifiedPages, type Sweep, type SweepScope, type SweepStep } from '../../shared/runner/sweep.js';
import { outsideAdmissionsOf, outsideRoleTrust, type TrustFacts } from './rule.js';

// ListRoles returns at most 1,000 roles a page, each with its trust policy: one call judges a page.
const PAGE_SIZE = 1000;
// Service-linked roles: AWS writes their trust policy (one service), and no one but the service may change it.
const SERVICE_LINKED_PATH = '/aws-service-role/';
// IAM is global: its events reach EventBridge in one Region per partition (docs/deploy.md), where the event rule sees
// them. Its roles are swept there only, so a stack per Region does not report each role once per Region.
const IAM_EVENTS_REGION: Readonly<Record<string, string>> = { aws: 'us-east-1', 'aws-cn': 'cn-north-1', 'aws-us-gov': 'us-gov-west-1' };

type Clients = { readonly iam: IAMClient; readonly orgAccounts: () => Promise<OrgAccounts> };

/** The Region whose sweep covers the partition's roles (IAM's events arrive there). */
export function iamSweepRegion(region: string): string {
  return IAM_EVENTS_REGION[partitionOf(region)] ?? 'us-east-1';
}

/**
 * A listed role as the rule's facts, as if its trust policy had just been set: when the policy lets an AWS principal
 * assume it that is outside or not judged (the rule's own reading), or when it does not read (the rule then judges
 * the one GetRole reads). Undefined for a service-linked role, and for a policy admitting no one outside.
 */
export function trustFinding(role: Role, view: OutsideView): SweepStep<TrustFacts> | undefined {
  const name = role.RoleName;
  if (name === undefined || !isIamName(name) || role.Path?.startsWith(SERVICE_LINKED_PATH)) return undefined;
  // URL-encoded JSON as IAM answers it (RFC 3986), or plain JSON as the emulator does: both read.
  const document = policyDocumentOf(role.AssumeRolePolicyDocument);
  if (document && outsideAdmissionsOf(document, view).length === 0) return undefined;
  return { kind: 'finding', resource: name, facts: { role: name, resources: [{ type: 'AWS::IAM::Role', id: name }], document } };
}

/**
 * Candidates: the account's roles (ListRoles, 1,000 a page, the trust policy inline) whose trust policy admits an AWS
 * principal outside or not judged; each goes through the rule, which reads it again (GetRole) with the attached
 * policies (ListAttachedRolePolicies) before it decides. Outside the partition's IAM Region: nothing.
 */
async function* scan({ iam, orgAccounts }: Clients, settings: { readonly outside: OutsidePolicy }, scope: SweepScope): AsyncGenerator<SweepStep<TrustFacts>> {
  const home = iamSweepRegion(scope.region);
  if (scope.region !== home) {
    yield { kind: 'page', scanned: 0, next: `done: IAM is global, its roles are swept in ${home}` };
    return;
  }
  const org: OrgAccounts = settings.outside.organization ? await orgAccounts() : { kind: 'single-account' };
  const view: OutsideView = { policy: settings.outside, ownAccount: scope.account, org };
  const pages = paginateListRoles({ client: iam, pageSize: PAGE_SIZE }, { MaxItems: PAGE_SIZE });
  for await (const page of classifiedPages('IAM.ListRoles', scope.region, pages)) {
    const roles = page.Roles ?? [];
    yield { kind: 'page', scanned: roles.length, next: page.IsTruncated && page.Marker ? `IAM.ListRoles marker ${page.Marker}` : 'done' };
    for (const role of roles) {
      const finding = trustFinding(role, view);
      if (finding) yield finding;
    }
  }
}

/** The outside-role-trust sweep: the account's roles whose trust policy lets an outside account (or everyone) assume them. */
export const outsideRoleTrustSweep = {
  rule: outsideRoleTrust,
  permissions: { 'IAM.ListRoles': 'iam:ListRoles' },
  clients: (options) => ({
    iam: iamClient({ ...options, readOnly: true }),
    orgAccounts: organizationAccounts({ region: options.region, endpoint: options.endpoint, readOnly: true }),
  }),
  scan,
} satisfies Sweep<typeof outsideRoleTrust, TrustFacts, Clients>;
