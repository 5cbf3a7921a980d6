import { describe, expect, it } from 'vitest';
import { FINDINGS, instanceUserDataRead } from '../../../functions/instance-user-data-read/rule.js';
import { AwsCallError } from '../../../shared/errors.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { run } from '../../../shared/runner/run.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, expectedOutcome, loadSample, sampleNames, withDetail } from '../../helpers/samples.js';

const READ = loadSample('instance-user-data-read', 'alerted.user-data-read-uncounted');
const ROLE = 'arn:aws:iam::111122223333:role/example-app';
const at = (minute: number, second = 0) => `2026-11-25T12:${String(minute).padStart(2, '0')}:${String(second).padStart(2, '0')}Z`;
// 17 hex digits, as EC2 ids are today.
const instance = (n: number) => `i-0${n.toString(16).padStart(16, '0')}`;

/** The sample reading the user data of `instanceId` at a time, with a fresh event id. */
function read(n: number, instanceId: string, time: string, patch: Record<string, unknown> = {}): unknown {
  const event = withDetail(READ, { eventTime: time, eventID: `udr-${n}-${time}`, requestParameters: { instanceId, attribute: 'userData' }, ...patch });
  return { ...(event as Record<string, unknown>), id: `envelope-udr-${n}-${time}` };
}

async function runAll(events: readonly unknown[]) {
  const deps = { ...capturingDeps({ mode: 'live' }), store: memoryStateStore() };
  const records: RemediationRecord[] = [];
  for (const event of events) records.push(await run(instanceUserDataRead, event, deps));
  return { records, deps };
}

describe('instance-user-data-read offline (no state store, as in replay)', () => {
  it.each(sampleNames('instance-user-data-read'))('decides the sample %s as its name says', async (name) => {
    const record = await run(instanceUserDataRead, loadSample('instance-user-data-read', name), capturingDeps());
    expect(record.outcome, record.reason).toBe(expectedOutcome(name));
  });

  it('reports each read at LOW, naming the instance and saying it could not count', async () => {
    const record = await run(instanceUserDataRead, READ, capturingDeps());
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'LOW', finding: 'user-data-read-uncounted', resources: [{ id: ROLE }] });
    expect(record.reason).toContain('i-0fedcba9876543210');
    expect(record.reason).toContain('not counted (no state store');
  });

  it('leaves a read CloudFormation made for the principal uncounted, but not one merely claiming a service in its user agent', async () => {
    const byService = await run(instanceUserDataRead, loadSample('instance-user-data-read', 'compliant.user-data-read-by-cloudformation'), capturingDeps());
    expect(byService.reason).toContain('cloudformation.amazonaws.com');
    const claimed = await run(instanceUserDataRead, withDetail(READ, { userAgent: 'cloudformation.amazonaws.com' }), capturingDeps());
    expect(claimed.outcome).toBe('alerted');
  });

  it('reports a GetLaunchTemplateData uncounted at LOW, and fails naming the field when it names no instance', async () => {
    const record = await run(
      instanceUserDataRead,
      withDetail(READ, { eventName: 'GetLaunchTemplateData', requestParameters: { GetLaunchTemplateDataRequest: { InstanceId: 'i-0fedcba9876543210' } } }),
      capturingDeps(),
    );
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'LOW', finding: 'user-data-read-uncounted' });
    expect(record.reason).toContain('i-0fedcba9876543210');
    const missing = await run(instanceUserDataRead, withDetail(READ, { eventName: 'GetLaunchTemplateData', requestParameters: {} }), capturingDeps());
    expect(missing.outcome).toBe('failed');
    expect(missing.error?.message).toContain('detail.requestParameters.instanceId');
    const forged = await run(
      instanceUserDataRead,
      withDetail(READ, { eventName: 'GetLaunchTemplateData', requestParameters: { GetLaunchTemplateDataRequest: { InstanceId: 'i-0abc;id' } } }),
      capturingDeps(),
    );
    expect(forged.error?.message).toContain('detail.requestParameters.GetLaunchTemplateDataRequest.InstanceId');
  });

  it('fails, naming the field, on a request without an instance id or with one that is no instance id', async () => {
    const missing = await run(instanceUserDataRead, withDetail(READ, { requestParameters: { attribute: 'userData' } }), capturingDeps());
    expect(missing.outcome).toBe('failed');
    expect(missing.error?.message).toContain('detail.requestParameters.instanceId');
    const forged = await run(
      instanceUserDataRead,
      withDetail(READ, { requestParameters: { instanceId: 'i-0abc;id', attribute: 'userData' } }),
      capturingDeps(),
    );
    expect(forged.outcome).toBe('failed');
    expect(forged.error?.message).toContain('detail.requestParameters.instanceId');
  });

  it('declares its finding codes', () => {
    expect(FINDINGS).toEqual(['user-data-read-burst', 'user-data-read-uncounted']);
  });
});

describe('instance-user-data-read with the state store', () => {
  it('counts GetLaunchTemplateData of an instance as a read of its user data (the response holds UserData), in either logged form', async () => {
    const flat = (n: number) => read(n, '', at(4, n), { eventName: 'GetLaunchTemplateData', requestParameters: { instanceId: instance(n) } });
    const wrapped = (n: number) =>
      read(n, '', at(4, n), { eventName: 'GetLaunchTemplateData', requestParameters: { GetLaunchTemplateDataRequest: { InstanceId: instance(n) } } });
    const { records } = await runAll([read(1, instance(1), at(4, 1)), read(2, instance(2), at(4, 2)), flat(3), wrapped(4), wrapped(5)]);
    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'compliant', 'alerted']);
    expect(records[4]?.reason).toContain(`latest ${instance(5)}`);
  });

  it('counts reads an AWS service other than CloudFormation makes with the principal (SSM Automation hands the output back)', async () => {
    const viaAutomation = { userIdentity: { ...(READ as { userIdentity: object }).userIdentity, invokedBy: 'ssm.amazonaws.com' } };
    const { records } = await runAll([1, 2, 3, 4, 5].map((n) => read(n, instance(n), at(5, n), viaAutomation)));
    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'compliant', 'alerted']);
  });

  it('stays quiet for 4 distinct instances, alerts once on the 5th with the first and latest, and not again in the window', async () => {
    const events = Array.from({ length: 7 }, (_, i) => read(i, instance(i + 1), at(1, i * 5)));
    const { records, deps } = await runAll(events);
    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'compliant', 'alerted', 'compliant', 'compliant']);
    expect(records[4]).toMatchObject({ severity: 'HIGH', finding: 'user-data-read-burst', resources: [{ id: ROLE }] });
    expect(records[4]?.reason).toContain('5 distinct instances whose user data was read within the 15 min up to 12:01 UTC');
    expect(records[4]?.reason).toContain(`first ${instance(1)}, latest ${instance(5)}`);
    expect(records[6]?.reason).toContain('already alerted in this window');
    expect(deps.published).toHaveLength(1);
  });

  it('still alerts when the run of the threshold-th read failed transiently after marking it, and EventBridge redelivers it', async () => {
    const store = memoryStateStore();
    let failNext = false;
    // The 5th read's marks land, then the state table throttles keeping the window's first item: a transient error.
    const flaky: typeof store = {
      ...store,
      keepFirst: async (counter, start, value, expires) => {
        if (failNext) {
          failNext = false;
          throw new AwsCallError('DynamoDB.UpdateItem', counter, 'transient', 'ProvisionedThroughputExceededException');
        }
        return store.keepFirst(counter, start, value, expires);
      },
    };
    const deps = { ...capturingDeps({ mode: 'live' }), store: flaky };
    for (const n of [1, 2, 3, 4]) await run(instanceUserDataRead, read(n, instance(n), at(6, n)), deps);
    const fifth = read(5, instance(5), at(6, 5));
    failNext = true;
    expect((await run(instanceUserDataRead, fifth, deps)).outcome).toBe('failed');
    const retried = await run(instanceUserDataRead, fifth, deps);
    expect(retried).toMatchObject({ outcome: 'alerted', finding: 'user-data-read-burst' });
    expect((await run(instanceUserDataRead, read(6, instance(6), at(6, 6)), deps)).reason).toContain('already alerted in this window');
    expect(deps.published).toHaveLength(1);
  });

  it('never alerts on re-reads of the same instances, upper-case ids included', async () => {
    const ids = [0xabc1, 0xabc2, 0xabc3, 0xabc4].map(instance);
    const events = Array.from({ length: 40 }, (_, i) => {
      const id = ids[i % 4] ?? '';
      return read(i, i % 2 ? id.toUpperCase().replace('I-', 'i-') : id, at(Math.floor(i / 4), i % 4));
    });
    const { records } = await runAll(events);
    expect(records.filter((r) => r.outcome === 'alerted')).toEqual([]);
    expect(records.at(-1)?.reason).toContain(': 4 distinct instances whose user data was read');
  });

  it('keeps control characters of the session name out of the text a person reads', async () => {
    const session = {
      userIdentity: {
        type: 'AssumedRole',
        arn: 'arn:aws:sts::111122223333:assumed-role/example-app/evil\u001b]0;pwned\u0007',
        accountId: '111122223333',
        sessionContext: { sessionIssuer: { type: 'Role', arn: ROLE, accountId: '111122223333', userName: 'example-app' } },
      },
    };
    const { records } = await runAll([1, 2, 3, 4, 5].map((n) => read(n, instance(n), at(3, n), session)));
    expect(records.at(-1)?.outcome).toBe('alerted');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this test looks for
    expect(records.at(-1)?.reason).not.toMatch(/[\u0000-\u001f\u007f]/);
  });

  it('counts per principal: four instances by each of two roles stay quiet', async () => {
    const other = {
      userIdentity: {
        type: 'AssumedRole',
        arn: 'arn:aws:sts::111122223333:assumed-role/example-batch/job-1',
        accountId: '111122223333',
        sessionContext: {
          sessionIssuer: { type: 'Role', arn: 'arn:aws:iam::111122223333:role/example-batch', accountId: '111122223333', userName: 'example-batch' },
        },
      },
    };
    const mine = [1, 2, 3, 4].map((n) => read(n, instance(n), at(2, n)));
    const theirs = [5, 6, 7, 8].map((n) => read(n, instance(n), at(2, n), other));
    const { records } = await runAll([...mine, ...theirs]);
    expect(records.filter((r) => r.outcome === 'alerted')).toEqual([]);
  });
});
