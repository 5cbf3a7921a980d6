import { GetRoleCommand, IAMClient, ListAttachedRolePoliciesCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { OrganizationsClient } from '@aws-sdk/client-organizations';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NO_ONE_MAY_ASSUME, outsideRoleTrust } from '../../../functions/outside-role-trust/rule.js';
import { updateAssumeRolePolicy, updateAssumeRolePolicySignature } from '../../../shared/actions/iam-update-assume-role-policy.js';
import { stepOf } from '../../../shared/actions/action.js';
import { resetOrganizationsClients } from '../../../shared/aws/organizations.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const iam = mockClient(IAMClient);
const organizations = mockClient(OrganizationsClient);
const OUTSIDE = '444455556666';
const ROLE = 'support-access';
const ORG = {
  organizationId: 'o-exampleorg1',
  centralAccountId: '111122223333',
  memberRoleName: 'trailguard-member',
  externalId: 'ext-0123456789abcdef',
};

beforeEach(() => {
  iam.reset();
  iam.rejects(new Error('unexpected IAM call'));
  organizations.reset();
  organizations.rejects(new Error('unexpected Organizations call'));
  resetOrganizationsClients();
});
afterEach(() => {
  iam.reset();
  organizations.reset();
});

const trust = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });
const allow = (Principal: unknown, extra: Record<string, unknown> = {}) => ({ Effect: 'Allow', Principal, Action: 'sts:AssumeRole', ...extra });
/** A string field of an action's params or previous (undefined reads as a string, and fails the JSON parse). */
const field = (value: unknown, key: string): string => String((value as Record<string, unknown> | undefined)?.[key]);
const sample = () => loadSample(outsideRoleTrust.id, 'would-remediate.create-role-trusting-outside-account');
const create = (document: unknown, roleName = ROLE) =>
  withDetail(sample(), { requestParameters: { roleName, assumeRolePolicyDocument: typeof document === 'string' ? document : JSON.stringify(document) } });
const remediating = (overrides: Record<string, unknown> = {}) => sampleConfig({ rules: { 'outside-role-trust': { remediate: true } }, ...overrides });
const runOffline = (event: unknown, config = remediating()) => run(outsideRoleTrust, event, capturingDeps({ config }));
const runLive = (event: unknown, config = remediating()) => run(outsideRoleTrust, event, capturingDeps({ config, mode: 'live' }));
/** GetRole answers the trust policy URL-encoded, as IAM does. */
const role = (document: unknown) => ({
  Role: {
    RoleName: ROLE,
    Path: '/',
    RoleId: 'AROAEXAMPLE',
    Arn: 'arn',
    CreateDate: new Date(),
    AssumeRolePolicyDocument: encodeURIComponent(JSON.stringify(document)),
  },
});

describe('outside-role-trust offline', () => {
  it('plans a Deny-all trust policy when the only statement admits an outside account, HIGH without ExternalId', async () => {
    const { record } = await runSample(outsideRoleTrust, 'would-remediate.create-role-trusting-outside-account');
    expect(record).toMatchObject({ outcome: 'would-remediate', severity: 'HIGH', finding: 'trust-outside', resources: [{ type: 'AWS::IAM::Role', id: ROLE }] });
    expect(record.actions).toHaveLength(1);
    expect(JSON.parse(field(record.actions[0]?.params, 'PolicyDocument'))).toEqual(NO_ONE_MAY_ASSUME);
    expect(record.reason).toContain('one statement denying everyone');
  });

  it('reads a URL-encoded document, calls everyone CRITICAL and keeps the service statement', async () => {
    const { record } = await runSample(outsideRoleTrust, 'would-remediate.update-assume-role-policy-everyone-url-encoded');
    expect(record).toMatchObject({ severity: 'CRITICAL', finding: 'trust-public' });
    const written = JSON.parse(field(record.actions[0]?.params, 'PolicyDocument'));
    expect(written.Statement).toEqual([{ Sid: 'Ec2', Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }]);
  });

  it('drops only the outside principal of a mixed statement, keeping the account itself', async () => {
    const own = 'arn:aws:iam::111122223333:role/ops';
    const record = await runOffline(create(trust(allow({ AWS: [own, `arn:aws:iam::${OUTSIDE}:user/mallory`] }))));
    const written = JSON.parse(field(record.actions[0]?.params, 'PolicyDocument'));
    expect(written.Statement).toEqual([allow({ AWS: [own] })]);
  });

  it('calls a statement requiring sts:ExternalId MEDIUM', async () => {
    const record = await runOffline(create(trust(allow({ AWS: OUTSIDE }, { Condition: { StringEquals: { 'sts:ExternalId': 'x' } } }))));
    expect(record).toMatchObject({ outcome: 'would-remediate', severity: 'MEDIUM' });
  });

  it.each([
    [
      'a federated principal',
      trust({ Effect: 'Allow', Principal: { Federated: 'arn:aws:iam::111122223333:saml-provider/okta' }, Action: 'sts:AssumeRoleWithSAML' }),
    ],
    ['a Deny statement', trust({ Effect: 'Deny', Principal: { AWS: OUTSIDE }, Action: 'sts:AssumeRole' }, allow({ Service: 'ec2.amazonaws.com' }))],
    ['an action other than AssumeRole', trust({ Effect: 'Allow', Principal: { AWS: OUTSIDE }, Action: 'sts:TagSession' })],
    ['a trusted account', trust(allow({ AWS: 'arn:aws:iam::999988887777:root' }))],
    ['a deleted principal (unique id)', trust(allow({ AWS: 'AROAEXAMPLEDELETED01' }))],
  ])('is compliant for %s', async (_what, document) => {
    const record = await runOffline(create(document));
    expect(record).toMatchObject({ outcome: 'compliant', actions: [] });
  });

  it('admits through sts:* and NotAction too', async () => {
    expect((await runOffline(create(trust({ Effect: 'Allow', Principal: { AWS: OUTSIDE }, Action: ['sts:*'] })))).outcome).toBe('would-remediate');
    expect((await runOffline(create(trust({ Effect: 'Allow', Principal: { AWS: OUTSIDE }, NotAction: 'sts:TagSession' })))).outcome).toBe('would-remediate');
  });

  it('alerts by default (remediate off) with the exact command, shell-quoted', async () => {
    const record = await runOffline(sample(), sampleConfig({ rules: {} }));
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'trust-outside', actions: [] });
    expect(record.reason).toContain("aws iam update-assume-role-policy --role-name 'support-access' --policy-document '{");
  });

  it('treats aws:PrincipalOrgID of the own organisation as inside, and leaves unjudged accounts alerted', async () => {
    const config = remediating({ organization: ORG });
    const scoped = await runOffline(create(trust(allow('*', { Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-exampleorg1' } } }))), config);
    expect(scoped.outcome).toBe('compliant');
    const unjudged = await runOffline(sample(), config);
    expect(unjudged).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'trust-unjudged', actions: [] });
  });

  it.each([
    [{ roleName: ROLE, assumeRolePolicyDocument: 'not json' }, 'assumeRolePolicyDocument'],
    [{ roleName: "x'; rm -rf /", assumeRolePolicyDocument: JSON.stringify(trust(allow({ AWS: OUTSIDE }))) }, 'roleName'],
  ])('refuses %j as a parse error naming %s', async (requestParameters, field) => {
    const record = await runOffline(withDetail(sample(), { requestParameters }));
    expect(record.actions).toEqual([]);
    expect(record.outcome).not.toMatch(/would-remediate|compliant/);
    expect(JSON.stringify(record)).toContain(field);
  });
});

describe('outside-role-trust live: decided from the trust policy now', () => {
  it('drops the outside statement, keeps previous, reads back, and calls a role holding AdministratorAccess CRITICAL', async () => {
    const now = trust(allow({ Service: 'ec2.amazonaws.com' }), allow({ AWS: `arn:aws:iam::${OUTSIDE}:root` }));
    const after = trust(allow({ Service: 'ec2.amazonaws.com' }));
    iam.on(GetRoleCommand).resolvesOnce(role(now)).resolves(role(after));
    iam
      .on(ListAttachedRolePoliciesCommand)
      .resolves({ AttachedPolicies: [{ PolicyName: 'AdministratorAccess', PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }] });
    iam.on(UpdateAssumeRolePolicyCommand).resolves({});
    const record = await runLive(sample());
    expect(record).toMatchObject({ outcome: 'remediated', severity: 'CRITICAL' });
    expect(record.reason).toContain('AdministratorAccess');
    const written = iam.commandCalls(UpdateAssumeRolePolicyCommand).map((c) => c.args[0].input);
    expect(written).toHaveLength(1);
    expect(JSON.parse(written[0]?.PolicyDocument ?? '')).toEqual(after);
    expect(JSON.parse(field(record.actions[0]?.previous, 'PolicyDocument'))).toEqual(now);
  });

  it('is compliant when the outside principal was dropped since', async () => {
    iam.on(GetRoleCommand).resolves(role(trust(allow({ Service: 'ec2.amazonaws.com' }))));
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    const record = await runLive(sample());
    expect(record.outcome).toBe('compliant');
    expect(iam.commandCalls(UpdateAssumeRolePolicyCommand)).toHaveLength(0);
  });

  it("ends trailguard's own write ignored (the loop guard), with no call", async () => {
    const { record } = await runSample(outsideRoleTrust, 'ignored.trailguard-own-update', { mode: 'live' });
    expect(record.outcome).toBe('ignored');
    expect(iam.calls()).toHaveLength(0);
  });
});

describe('iam-update-assume-role-policy action', () => {
  const params = { RoleName: ROLE, PolicyDocument: JSON.stringify(NO_ONE_MAY_ASSUME) };
  const previous = { PolicyDocument: JSON.stringify(trust(allow({ AWS: OUTSIDE }))) };

  it('reverses to the replaced document, and says none without it', () => {
    const step = stepOf(
      updateAssumeRolePolicy,
      { api: updateAssumeRolePolicy.api, resource: { type: 'AWS::IAM::Role', id: ROLE }, params, previous },
      'us-east-1',
    );
    const reversal = updateAssumeRolePolicy.reverse(step as never);
    expect(reversal).toMatchObject({ kind: 'steps', steps: [{ action: { params: { RoleName: ROLE, PolicyDocument: previous.PolicyDocument } } }] });
    expect(updateAssumeRolePolicy.reverse({ ...(step as object), previous: undefined } as never).kind).toBe('none');
  });

  it('refuses params that are no trust policy or no role name', () => {
    const resource = { type: 'AWS::IAM::Role', id: ROLE };
    expect(() =>
      stepOf(updateAssumeRolePolicy, { api: updateAssumeRolePolicy.api, resource, params: { ...params, PolicyDocument: 'nope' } }, 'us-east-1'),
    ).toThrow();
    expect(() => stepOf(updateAssumeRolePolicy, { api: updateAssumeRolePolicy.api, resource, params: { ...params, RoleName: 'a b' } }, 'us-east-1')).toThrow();
  });

  it('calls a write ours only when it lets no one outside assume the role, as far as the configuration tells', () => {
    const caller = { enforces: false, config: sampleConfig(), account: '111122223333' };
    const own = trust(allow({ AWS: 'arn:aws:iam::111122223333:role/ops' }), allow({ AWS: '999988887777' }), allow({ Service: 'ec2.amazonaws.com' }));
    expect(updateAssumeRolePolicySignature.isOwnWrite({ roleName: ROLE, policyDocument: JSON.stringify(own) }, caller)).toBe(true);
    expect(updateAssumeRolePolicySignature.isOwnWrite({ roleName: ROLE, policyDocument: JSON.stringify(trust(allow({ AWS: OUTSIDE }))) }, caller)).toBe(false);
    expect(updateAssumeRolePolicySignature.isOwnWrite({ roleName: ROLE, policyDocument: JSON.stringify(NO_ONE_MAY_ASSUME) }, caller)).toBe(true);
    expect(updateAssumeRolePolicySignature.isOwnWrite({ roleName: ROLE, policyDocument: JSON.stringify(trust(allow({ AWS: '*' }))) }, caller)).toBe(false);
    expect(updateAssumeRolePolicySignature.isOwnWrite({ roleName: ROLE, policyDocument: JSON.stringify(trust(allow('*'))) }, caller)).toBe(false);
    expect(updateAssumeRolePolicySignature.isOwnWrite({ roleName: ROLE }, caller)).toBe(false);
  });
});
