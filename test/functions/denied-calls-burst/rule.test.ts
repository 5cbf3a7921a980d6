import { describe, expect, it } from 'vitest';
import { deniedCallOf, deniedCallsBurst } from '../../../functions/denied-calls-burst/rule.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { run } from '../../../shared/runner/run.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, expectedOutcome, loadSample, sampleNames, withDetail } from '../../helpers/samples.js';

const RULE = 'denied-calls-burst';
const DENIED = loadSample(RULE, 'alerted.denied-list-buckets-uncounted');
const GPU = loadSample(RULE, 'alerted.gpu-run-instances-denied');

function denied(n: number, eventSource: string, eventName: string, base: unknown = DENIED): unknown {
  const value = withDetail(base, { eventTime: `2026-11-25T12:04:${String(n).padStart(2, '0')}Z`, eventID: `denied-${n}`, eventSource, eventName }) as Record<
    string,
    unknown
  >;
  return { ...value, id: `envelope-denied-${n}` };
}

async function runAll(events: readonly unknown[]) {
  const deps = { ...capturingDeps({ mode: 'live' }), store: memoryStateStore() };
  const records: RemediationRecord[] = [];
  for (const e of events) records.push(await run(deniedCallsBurst, e, deps));
  return records;
}

describe('denied-calls-burst offline', () => {
  it.each(sampleNames(RULE))('decides the sample %s as its name says', async (name) => {
    const record = await run(deniedCallsBurst, loadSample(RULE, name), capturingDeps());
    expect(record.outcome).toBe(expectedOutcome(name));
  });

  it('takes the failed call itself as its subject (a failed call is otherwise ignored)', async () => {
    const record = await run(deniedCallsBurst, DENIED, capturingDeps());
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'LOW',
      finding: 'denied-call-uncounted',
      resources: [{ id: 'arn:aws:iam::111122223333:user/build-bot' }],
    });
    expect(record.reason).toContain('s3:ListBuckets');
  });

  it('names the calls an intruder makes first', () => {
    expect(deniedCallOf('ec2.amazonaws.com', 'RunInstances', { instanceType: 'p4d.24xlarge' })).toBe('ec2:RunInstances (p4d.24xlarge: GPU or accelerated)');
    expect(deniedCallOf('ec2.amazonaws.com', 'RunInstances', { instanceType: 'g5.xlarge' })).toContain('GPU or accelerated');
    expect(deniedCallOf('ec2.amazonaws.com', 'RunInstances', { instanceType: 'm7g.large' })).toBe('ec2:RunInstances');
    expect(deniedCallOf('ec2.amazonaws.com', 'GetPasswordData', {})).toContain("Windows instance's administrator password");
  });
});

describe('denied-calls-burst with the state store', () => {
  it('stays quiet for one call denied over and over (a misconfigured job), and alerts once at 10 distinct APIs (a probe)', async () => {
    const retries = Array.from({ length: 30 }, (_, i) => denied(i, 's3.amazonaws.com', 'ListBuckets'));
    expect((await runAll(retries)).every((r) => r.outcome === 'compliant')).toBe(true);

    const apis = [
      'iam:ListUsers',
      'iam:ListRoles',
      's3:ListBuckets',
      'ec2:DescribeInstances',
      'lambda:ListFunctions',
      'rds:DescribeDBInstances',
      'secretsmanager:ListSecrets',
      'ssm:DescribeParameters',
      'kms:ListKeys',
    ];
    const probe = apis.map((api, i) => {
      const [service, action] = api.split(':');
      return denied(i, `${service}.amazonaws.com`, action ?? '');
    });
    const records = await runAll([...probe, denied(20, 'ec2.amazonaws.com', 'GetPasswordData'), denied(21, 'sts.amazonaws.com', 'GetSessionToken')]);
    expect(records.map((r) => r.outcome)).toEqual([...Array(9).fill('compliant'), 'alerted', 'compliant']);
    expect(records[9]).toMatchObject({ severity: 'HIGH', finding: 'denied-calls-burst' });
    expect(records[9]?.reason).toContain('10 distinct calls denied');
    expect(records[9]?.reason).toContain("first iam:ListUsers, latest ec2:GetPasswordData (a Windows instance's administrator password)");
  });

  it('tells a refused GPU launch on its own, MEDIUM, whatever the count', async () => {
    const [record] = await runAll([denied(30, 'ec2.amazonaws.com', 'RunInstances', GPU)]);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', finding: 'accelerated-launch-denied' });
    expect(record?.reason).toContain('p4d.24xlarge: GPU or accelerated');
  });
});
