import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import type { Context } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { trustPolicyText } from '../../../shared/actions/iam-update-assume-role-policy.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import type { SweepSummary } from '../../../shared/runner/sweep.js';
import { ACCOUNT, ENDPOINT, REGION } from '../../e2e/helpers/emulator.js';
import { withLambdaEnv, type LambdaEnv } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';

const stack = freshStackPerTest();
const env = stack.env;
const iam = new IAMClient({
  region: REGION,
  endpoint: ENDPOINT,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'testing' },
  maxAttempts: 1,
});
const OUTSIDE = '444455556666';
const TRUSTED = '999988887777';
const trust = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });
const allow = (Principal: unknown) => ({ Effect: 'Allow', Principal, Action: 'sts:AssumeRole' });
const EC2 = allow({ Service: 'ec2.amazonaws.com' });
const account = (id: string) => allow({ AWS: `arn:aws:iam::${id}:root` });
const now = async (role: string) => JSON.parse(await trustPolicyText(iam, role)) as unknown;
const EXEMPT = [{ rule: 'outside-role-trust', resource: 'auditor', reason: 'external auditor, reviewed by security (ticket SEC-3701)', expires: '2099-12-31' }];
// The sweep function of the stack in the emulator's Region and account.
const CONTEXT = {
  awsRequestId: 'e2e-sweep',
  functionName: 'trailguard-e2e-outsideRoleTrustSweep',
  invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:trailguard-e2e-outsideRoleTrustSweep`,
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

/** The roles of every test: what the sweep must find, and what it must leave alone. */
const ROLES: Readonly<Record<string, { readonly document: object; readonly path?: string }>> = {
  vendor: { document: trust(EC2, account(OUTSIDE)) },
  auditor: { document: trust(account(OUTSIDE)) },
  partner: { document: trust(account(TRUSTED)) },
  ops: { document: trust(account(ACCOUNT)) },
  app: { document: trust(EC2) },
  AWSServiceRoleForExample: { document: trust(account(OUTSIDE)), path: '/aws-service-role/example.amazonaws.com/' },
};

async function createRoles(): Promise<void> {
  for (const [name, { document, path }] of Object.entries(ROLES))
    await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(document), ...(path ? { Path: path } : {}) }));
}

/** Runs the real sweep handler once, in a fresh container with the stack's environment; its summary and record lines. */
async function sweepOnce(lambdaEnv: LambdaEnv): Promise<{ summary: SweepSummary; records: RemediationRecord[] }> {
  vi.resetModules();
  return withLambdaEnv(lambdaEnv, async () => {
    process.env.TRAILGUARD_TRUSTED_ACCOUNTS = TRUSTED;
    const { resetProcessConfig } = await import('../../../shared/config.js');
    resetProcessConfig();
    const { logger } = await import('../../../shared/log.js');
    const lines: Record<string, unknown>[] = [];
    logger.setSink((line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const { handler } = await import('../../../functions/outside-role-trust/sweep-handler.js');
    const summary = await handler({ time: '2026-12-08T03:00:00Z' }, CONTEXT);
    // By role name: the emulator lists roles in no set order.
    const records = (lines.filter((line) => line.trigger === 'sweep') as unknown as RemediationRecord[]).sort((a, b) =>
      String(a.resources[0]?.id).localeCompare(String(b.resources[0]?.id)),
    );
    return { summary, records };
  });
}

describe('outside-role-trust sweep against the emulator', () => {
  it('live, remediate on: drops the outside trust of the one role found, and leaves every other role as it was', async () => {
    await createRoles();

    const { summary, records } = await sweepOnce(env('live', { rules: { 'outside-role-trust': { remediate: true } }, exemptions: EXEMPT }));

    expect(records.map((r) => [r.resources[0]?.id, r.outcome])).toEqual([
      ['auditor', 'exempt'],
      ['vendor', 'remediated'],
    ]);
    expect(records[1]).toMatchObject({ severity: 'HIGH', finding: 'trust-outside', actions: [{ status: 'done', verification: { ok: true } }] });
    expect(summary).toMatchObject({
      rule: 'outside-role-trust',
      region: REGION,
      scanned: 6,
      findings: 2,
      complete: true,
      outcomes: { remediated: 1, exempt: 1 },
    });
    expect(await now('vendor')).toEqual(trust(EC2));
    for (const name of ['auditor', 'partner', 'ops', 'app', 'AWSServiceRoleForExample']) expect(await now(name)).toEqual(ROLES[name]?.document);
    expect(await stack.received()).toMatchObject([{ attributes: { rule: 'outside-role-trust', outcome: 'remediated', account: ACCOUNT } }]);
  });

  it('live, remediate off (the default): alerts for the outside trust with the command, and changes nothing', async () => {
    await createRoles();

    const { summary, records } = await sweepOnce(env('live'));

    expect(records.map((r) => [r.resources[0]?.id, r.outcome, r.severity])).toEqual([
      ['auditor', 'alerted', 'HIGH'],
      ['vendor', 'alerted', 'HIGH'],
    ]);
    expect(records[1]?.reason).toContain('aws iam update-assume-role-policy');
    expect(summary).toMatchObject({ scanned: 6, findings: 2, complete: true, outcomes: { alerted: 2 } });
    for (const [name, { document }] of Object.entries(ROLES)) expect(await now(name)).toEqual(document);
  });
});
