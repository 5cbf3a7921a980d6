import { AttachRolePolicyCommand, CreatePolicyCommand, CreateRoleCommand, IAMClient, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { NO_ONE_MAY_ASSUME } from '../../../functions/outside-role-trust/rule.js';
import { trustPolicyText } from '../../../shared/actions/iam-update-assume-role-policy.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { ACCOUNT, ENDPOINT, REGION } from '../../e2e/helpers/emulator.js';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';
import { reverseRecord } from '../../e2e/helpers/reverse.js';

const stack = freshStackPerTest();
const env = stack.env;
const iam = new IAMClient({
  region: REGION,
  endpoint: ENDPOINT,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'testing' },
  maxAttempts: 1,
});
const OUTSIDE = '444455556666';
const REMEDIATE = { 'outside-role-trust': { remediate: true } };
/** A string field of an action's params or previous (undefined reads as a string, and fails the JSON parse). */
const field = (value: unknown, key: string): string => String((value as Record<string, unknown> | undefined)?.[key]);
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
const trust = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });
const EC2 = { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' };
const OUTSIDER = { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OUTSIDE}:root` }, Action: 'sts:AssumeRole' };
const now = async (role: string) => JSON.parse(await trustPolicyText(iam, role)) as unknown;

async function newRole(document: unknown): Promise<string> {
  const role = unique('e2e-trust');
  await iam.send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: JSON.stringify(document) }));
  return role;
}

const createEvent = (role: string, document: unknown) =>
  sampleEvent('outside-role-trust', 'would-remediate.create-role-trusting-outside-account', {
    requestParameters: { roleName: role, assumeRolePolicyDocument: JSON.stringify(document, null, 4) },
  });

const reverse = (record: RemediationRecord) => reverseRecord(record, { iam });

describe('outside-role-trust against the emulator', () => {
  it('live: drops the outside statement, keeps the service one, reads back, and the reversal puts the trust back', async () => {
    const document = trust(EC2, OUTSIDER);
    const role = await newRole(document);

    const { record } = await invokeHandler('outside-role-trust', createEvent(role, document), env('live', { rules: REMEDIATE }));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'HIGH',
      finding: 'trust-outside',
      actions: [{ api: 'IAM.UpdateAssumeRolePolicy', status: 'done', verification: { ok: true } }],
      notification: { status: 'sent' },
    });
    expect(await now(role)).toEqual(trust(EC2));
    expect(JSON.parse(field(record.actions[0]?.previous, 'PolicyDocument'))).toEqual(document);
    expect(await stack.received()).toMatchObject([{ attributes: { rule: 'outside-role-trust', outcome: 'remediated', account: ACCOUNT } }]);

    await reverse(record);
    expect(await now(role)).toEqual(document);
  });

  it('live: leaves one Deny-all statement when only outside was trusted, CRITICAL with AdministratorAccess attached', async () => {
    const document = trust(OUTSIDER);
    const role = await newRole(document);
    // moto does not hold AWS-managed policies: the admin ARN is configured as this account's own policy.
    const admin = await iam.send(
      new CreatePolicyCommand({
        PolicyName: unique('e2e-admin'),
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
      }),
    );
    const adminArn = admin.Policy?.Arn ?? '';
    await iam.send(new AttachRolePolicyCommand({ RoleName: role, PolicyArn: adminArn }));

    const { record } = await invokeHandler(
      'outside-role-trust',
      createEvent(role, document),
      env('live', { rules: { ...REMEDIATE, 'iam-policy-change': { adminPolicyArns: [adminArn] } } }),
    );

    expect(record).toMatchObject({ outcome: 'remediated', severity: 'CRITICAL', actions: [{ status: 'done', verification: { ok: true } }] });
    expect(await now(role)).toEqual(NO_ONE_MAY_ASSUME);
  });

  it('live, remediate off (the default): alerts with the command and changes nothing', async () => {
    const document = trust(OUTSIDER);
    const role = await newRole(document);

    const { record } = await invokeHandler('outside-role-trust', createEvent(role, document), env('live'));

    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', actions: [] });
    expect(record.reason).toContain('aws iam update-assume-role-policy');
    expect(await now(role)).toEqual(document);
  });

  it('live: is compliant when the outside trust was dropped since the event', async () => {
    const role = await newRole(trust(OUTSIDER));
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: role, PolicyDocument: JSON.stringify(trust(EC2)) }));

    const { record } = await invokeHandler('outside-role-trust', createEvent(role, trust(OUTSIDER)), env('live', { rules: REMEDIATE }));

    expect(record).toMatchObject({ outcome: 'compliant', actions: [] });
    expect(await now(role)).toEqual(trust(EC2));
  });
});
