import { GetRoleCommand, IAMClient, ListAttachedRolePoliciesCommand, ListRolesCommand, UpdateAssumeRolePolicyCommand, type Role } from '@aws-sdk/client-iam';
import { ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NO_ONE_MAY_ASSUME } from '../../../functions/outside-role-trust/rule.js';
import { iamSweepRegion, outsideRoleTrustSweep } from '../../../functions/outside-role-trust/sweep.js';
import { SWEEPS } from '../../../functions/sweeps.js';
import { resetOrganizationsClients } from '../../../shared/aws/organizations.js';
import { runSweep, type SweepRun } from '../../../shared/runner/sweep.js';
import { capturingDeps, sampleConfig } from '../../helpers/samples.js';

const iam = mockClient(IAMClient);
const organizations = mockClient(OrganizationsClient);
const OWN = '111122223333';
const MEMBER = '222233334444';
const OUTSIDE = '444455556666';
// In the sample configuration's trustedAccounts.
const TRUSTED = '999988887777';
const RUN: SweepRun = { region: 'us-east-1', account: OWN, window: '2026-11-25T12:00:00.000Z', deadline: Number.POSITIVE_INFINITY };

const trust = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });
const allow = (Principal: unknown, extra: Record<string, unknown> = {}) => ({ Effect: 'Allow', Principal, Action: 'sts:AssumeRole', ...extra });
const SERVICE = allow({ Service: 'ec2.amazonaws.com' });
const account = (id: string) => allow({ AWS: `arn:aws:iam::${id}:root` });
/** A role as ListRoles and GetRole answer it: the trust policy URL-encoded (RFC 3986), as IAM does. */
const listed = (name: string, document: unknown, path = '/'): Role => ({
  RoleName: name,
  Path: path,
  RoleId: `AROA${name.toUpperCase().replace(/[^A-Z]/g, '')}`,
  Arn: `arn:aws:iam::${OWN}:role${path}${name}`,
  CreateDate: new Date('2026-01-01T00:00:00Z'),
  AssumeRolePolicyDocument: typeof document === 'string' ? document : encodeURIComponent(JSON.stringify(document)),
});
/** The document a write sent, parsed. */
const written = (call: { args: readonly [{ input: unknown }] }) => JSON.parse((call.args[0].input as { PolicyDocument: string }).PolicyDocument) as unknown;
const denied = () => Object.assign(new Error('not authorized to perform iam:ListRoles'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });

/** Every role of `roles` answers GetRole (the rule's re-read) as listed, and has no policy attached. */
function answerRoles(roles: readonly Role[]): void {
  for (const role of roles) iam.on(GetRoleCommand, { RoleName: role.RoleName }).resolves({ Role: role });
  iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
}

beforeEach(() => {
  for (const mock of [iam, organizations]) {
    mock.reset();
    mock.rejects(new Error('unexpected AWS call'));
  }
  resetOrganizationsClients();
});
afterEach(() => {
  iam.reset();
  organizations.reset();
});

describe('outside-role-trust sweep', () => {
  it('is one of the sweeps the CLI and the template know, and lists roles with iam:ListRoles only', () => {
    expect(SWEEPS.includes(outsideRoleTrustSweep)).toBe(true);
    expect(outsideRoleTrustSweep.permissions).toEqual({ 'IAM.ListRoles': 'iam:ListRoles' });
  });

  it('pages through ListRoles, reads encoded and plain documents, and sends only outside trusts to the rule', async () => {
    const outsider = listed('vendor-access', trust(SERVICE, account(OUTSIDE)));
    // An emulator may answer plain JSON: it reads too.
    const plain = listed('plain-json', JSON.stringify(trust(allow({ AWS: '*' }))));
    const page1 = [
      listed('AWSServiceRoleForSupport', trust(account(OUTSIDE)), '/aws-service-role/support.amazonaws.com/'),
      listed('ec2-app', trust(SERVICE)),
      outsider,
    ];
    const page2 = [listed('partner-ro', trust(account(TRUSTED))), listed('ops', trust(account(OWN))), plain];
    const markers: (string | undefined)[] = [];
    iam.on(ListRolesCommand).callsFake((input: { Marker?: string; MaxItems?: number }) => {
      markers.push(input.Marker);
      expect(input.MaxItems).toBe(1000);
      return input.Marker === undefined ? { Roles: page1, IsTruncated: true, Marker: 'page-2' } : { Roles: page2, IsTruncated: false };
    });
    answerRoles([outsider, plain]);
    // remediate off (the rule's default): the sweep alerts with the command, as the event does.
    const deps = capturingDeps({ mode: 'live', config: sampleConfig({ rules: { 'outside-role-trust': { remediate: false } } }) });

    const summary = await runSweep(outsideRoleTrustSweep, deps, RUN);

    expect(markers).toEqual([undefined, 'page-2']);
    // Only the findings are read again: no per-role call for the service-linked, service-only, trusted or own roles.
    expect(iam.commandCalls(GetRoleCommand).map((c) => c.args[0].input.RoleName)).toEqual(['vendor-access', 'plain-json']);
    expect(iam.commandCalls(ListAttachedRolePoliciesCommand).map((c) => c.args[0].input.RoleName)).toEqual(['vendor-access', 'plain-json']);
    expect(deps.written.map((r) => [r.trigger, r.resources[0]?.id, r.outcome, r.severity, r.finding])).toEqual([
      ['sweep', 'vendor-access', 'alerted', 'HIGH', 'trust-outside'],
      ['sweep', 'plain-json', 'alerted', 'CRITICAL', 'trust-public'],
    ]);
    expect(deps.written[0]?.reason).toContain(`${OUTSIDE} is outside the account`);
    expect(deps.written[0]?.reason).toContain('aws iam update-assume-role-policy');
    expect(iam.commandCalls(UpdateAssumeRolePolicyCommand)).toHaveLength(0);
    expect(summary).toMatchObject({ rule: 'outside-role-trust', scanned: 6, findings: 2, complete: true, outcomes: { alerted: 2 } });
  });

  it('live with remediate on: drops the outside principal, keeps the service, reads back; CRITICAL with an admin policy', async () => {
    const vendor = listed('vendor-access', trust(SERVICE, account(OUTSIDE)));
    const admin = listed('break-in', trust(account(OUTSIDE)));
    iam.on(ListRolesCommand).resolves({ Roles: [vendor, admin], IsTruncated: false });
    iam
      .on(GetRoleCommand, { RoleName: 'vendor-access' })
      .resolvesOnce({ Role: vendor })
      .resolves({ Role: listed('vendor-access', trust(SERVICE)) });
    iam
      .on(GetRoleCommand, { RoleName: 'break-in' })
      .resolvesOnce({ Role: admin })
      .resolves({ Role: listed('break-in', NO_ONE_MAY_ASSUME) });
    iam.on(ListAttachedRolePoliciesCommand, { RoleName: 'vendor-access' }).resolves({ AttachedPolicies: [] });
    iam
      .on(ListAttachedRolePoliciesCommand, { RoleName: 'break-in' })
      .resolves({ AttachedPolicies: [{ PolicyName: 'AdministratorAccess', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }] });
    iam.on(UpdateAssumeRolePolicyCommand).resolves({});
    const deps = capturingDeps({ mode: 'live', config: sampleConfig({ rules: { 'outside-role-trust': { remediate: true } } }) });

    const summary = await runSweep(outsideRoleTrustSweep, deps, RUN);

    const writes = iam.commandCalls(UpdateAssumeRolePolicyCommand);
    expect(writes.map((c) => c.args[0].input.RoleName)).toEqual(['vendor-access', 'break-in']);
    expect(writes.map(written)).toEqual([trust(SERVICE), NO_ONE_MAY_ASSUME]);
    // The call count the docs give: one list page, then per finding a GetRole and ListAttachedRolePolicies, and per
    // write the update and its read-back (GetRole).
    expect(iam.commandCalls(ListRolesCommand)).toHaveLength(1);
    expect(iam.commandCalls(GetRoleCommand)).toHaveLength(4);
    expect(iam.commandCalls(ListAttachedRolePoliciesCommand)).toHaveLength(2);
    expect(deps.written.map((r) => [r.resources[0]?.id, r.outcome, r.severity])).toEqual([
      ['vendor-access', 'remediated', 'HIGH'],
      ['break-in', 'remediated', 'CRITICAL'],
    ]);
    expect(summary).toMatchObject({ findings: 2, complete: true, outcomes: { remediated: 2 } });
  });

  it('applies exemptions as the event rule does: an exempt role is recorded exempt and never read again', async () => {
    const auditor = listed('external-auditor', trust(account(OUTSIDE)));
    iam.on(ListRolesCommand).resolves({ Roles: [auditor], IsTruncated: false });
    const deps = capturingDeps({ mode: 'live', config: sampleConfig({ rules: { 'outside-role-trust': { remediate: true } } }) });

    const summary = await runSweep(outsideRoleTrustSweep, deps, RUN);

    expect(deps.written.map((r) => [r.resources[0]?.id, r.outcome])).toEqual([['external-auditor', 'exempt']]);
    expect(iam.commandCalls(ListRolesCommand)).toHaveLength(1);
    expect(iam.commandCalls(GetRoleCommand)).toHaveLength(0);
    expect(iam.commandCalls(UpdateAssumeRolePolicyCommand)).toHaveLength(0);
    expect(summary).toMatchObject({ findings: 1, complete: true, outcomes: { exempt: 1 } });
  });

  it('a listed trust policy that does not read is its own record, judged from GetRole, and the sweep goes on', async () => {
    const broken = listed('garbled', '%7B%22Version%22%3A%zz');
    const unreadable = listed('unreadable', 'not a policy');
    const vendor = listed('vendor-access', trust(account(OUTSIDE)));
    iam.on(ListRolesCommand).resolves({ Roles: [broken, unreadable, vendor], IsTruncated: false });
    // GetRole reads the garbled one fine (it trusts outside); the other does not read there either.
    answerRoles([listed('garbled', trust(account(OUTSIDE))), unreadable, vendor]);
    const deps = capturingDeps({ mode: 'dry-run' });

    const summary = await runSweep(outsideRoleTrustSweep, deps, RUN);

    expect(deps.written.map((r) => [r.resources[0]?.id, r.outcome, r.finding ?? null])).toEqual([
      ['garbled', 'would-remediate', 'trust-outside'],
      ['unreadable', 'failed', null],
      ['vendor-access', 'would-remediate', 'trust-outside'],
    ]);
    expect(deps.written[1]?.reason).toContain('the trust policy of role unreadable did not read back as JSON');
    expect(summary).toMatchObject({ scanned: 3, findings: 3, complete: true });
  });

  it("in organisation mode, a member account's trust is inside: no finding, the accounts listed once", async () => {
    const config = sampleConfig({ organization: { organizationId: 'o-a1b2c3d4e5', centralAccountId: OWN } });
    organizations.on(ListAccountsCommand).resolves({ Accounts: [{ Id: OWN }, { Id: MEMBER }] });
    iam.on(ListRolesCommand).resolves({
      Roles: [
        listed('member-deploy', trust(account(MEMBER))),
        listed('org-wide', trust(allow({ AWS: '*' }, { Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } } }))),
      ],
      IsTruncated: false,
    });
    const deps = capturingDeps({ mode: 'dry-run', config });

    const summary = await runSweep(outsideRoleTrustSweep, deps, RUN);

    expect(organizations.commandCalls(ListAccountsCommand)).toHaveLength(1);
    expect(deps.written).toEqual([]);
    expect(summary).toMatchObject({ scanned: 2, findings: 0, complete: true });
  });

  it("lists no role outside the partition's IAM Region: each Region's stack would report every role again", async () => {
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(outsideRoleTrustSweep, deps, { ...RUN, region: 'eu-west-1' });

    expect(iam.commandCalls(ListRolesCommand)).toHaveLength(0);
    expect(deps.written).toEqual([]);
    expect(summary).toMatchObject({ region: 'eu-west-1', scanned: 0, findings: 0, complete: true });
    expect([iamSweepRegion('eu-west-1'), iamSweepRegion('us-gov-east-1'), iamSweepRegion('cn-northwest-1')]).toEqual([
      'us-east-1',
      'us-gov-west-1',
      'cn-north-1',
    ]);
  });

  it('stops at a denied ListRoles as an incomplete sweep naming the call', async () => {
    iam.on(ListRolesCommand).rejects(denied());
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(outsideRoleTrustSweep, deps, RUN);

    expect(summary).toMatchObject({ complete: false, error: { api: 'IAM.ListRoles', kind: 'denied' } });
    expect(deps.written).toEqual([]);
  });
});
