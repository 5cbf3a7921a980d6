import { describe, expect, it } from 'vitest';
import { parameterName, parametersBulkDecrypt } from '../../../functions/parameters-bulk-decrypt/rule.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { run } from '../../../shared/runner/run.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, expectedOutcome, loadSample, sampleNames, withDetail } from '../../helpers/samples.js';

const ONE = loadSample('parameters-bulk-decrypt', 'alerted.parameter-decrypt-uncounted');
const MANY = loadSample('parameters-bulk-decrypt', 'alerted.parameters-decrypted-uncounted');
const at = (second: number) => `2026-11-25T12:03:${String(second).padStart(2, '0')}Z`;

function event(base: unknown, n: number, requestParameters: Record<string, unknown>): unknown {
  const value = withDetail(base, { eventTime: at(n), eventID: `param-${n}`, requestParameters }) as Record<string, unknown>;
  return { ...value, id: `envelope-param-${n}` };
}

async function runAll(events: readonly unknown[]) {
  const deps = { ...capturingDeps({ mode: 'live' }), store: memoryStateStore() };
  const records: RemediationRecord[] = [];
  for (const e of events) records.push(await run(parametersBulkDecrypt, e, deps));
  return records;
}

describe('parameters-bulk-decrypt offline', () => {
  it.each(sampleNames('parameters-bulk-decrypt'))('decides the sample %s as its name says', async (name) => {
    const record = await run(parametersBulkDecrypt, loadSample('parameters-bulk-decrypt', name), capturingDeps());
    expect(record.outcome).toBe(expectedOutcome(name));
  });

  it('alerts HIGH on a decrypting read of the whole hierarchy', async () => {
    const record = await run(parametersBulkDecrypt, loadSample('parameters-bulk-decrypt', 'alerted.parameters-decrypted-from-root'), capturingDeps());
    expect(record).toMatchObject({
      severity: 'HIGH',
      finding: 'parameters-decrypted-from-root',
      resources: [{ id: 'arn:aws:iam::111122223333:role/example-dev' }],
    });
  });

  it('reads every form of a name as one parameter', () => {
    expect(parameterName('arn:aws:ssm:eu-west-1:111122223333:parameter/prod/db')).toBe('/prod/db');
    expect(parameterName('/prod/db:3')).toBe('/prod/db');
    expect(parameterName('/prod/db:live')).toBe('/prod/db');
    expect(parameterName('plain-name')).toBe('plain-name');
  });

  it('fails, naming the field, on a GetParameters with more names than SSM takes', async () => {
    const names = Array.from({ length: 11 }, (_, i) => `/p/${i}`);
    const record = await run(parametersBulkDecrypt, withDetail(MANY, { requestParameters: { names, withDecryption: true } }), capturingDeps());
    expect(record.outcome).toBe('failed');
    expect(record.error?.message).toContain('detail.requestParameters');
  });
});

describe('parameters-bulk-decrypt with the state store', () => {
  it('counts each name of a GetParameters, stays quiet at 19 and alerts once at 20 distinct', async () => {
    const batches = [0, 1].map((b) => event(MANY, b, { names: Array.from({ length: 9 }, (_, i) => `/prod/app/p-${b}-${i}`), withDecryption: true }));
    const singles = Array.from({ length: 3 }, (_, i) => event(ONE, 10 + i, { name: `/prod/app/single-${i}`, withDecryption: true }));
    const records = await runAll([...batches, ...singles]);
    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'alerted', 'compliant']);
    expect(records[3]?.reason).toContain('20 distinct parameters decrypted');
    expect(records[3]?.reason).toContain('first /prod/app/p-0-0, latest /prod/app/single-1');
  });

  it("never counts AWS's public parameters", async () => {
    const records = await runAll(
      Array.from({ length: 30 }, (_, i) => event(ONE, i, { name: `/aws/service/ami-amazon-linux-latest/image-${i}`, withDecryption: true })),
    );
    expect(records.every((r) => r.outcome === 'compliant')).toBe(true);
  });
});
