import { describe, expect, it } from 'vitest';
import { FINDINGS, secretName, secretsBulkRead } from '../../../functions/secrets-bulk-read/rule.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { run } from '../../../shared/runner/run.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, expectedOutcome, loadSample, sampleConfig, sampleNames, withDetail } from '../../helpers/samples.js';

const READ = loadSample('secrets-bulk-read', 'alerted.secret-read-uncounted');
const ROLE = 'arn:aws:iam::111122223333:role/example-app';
const minute = (m: number, s = 10) => `2026-11-25T12:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}Z`;

/** The sample reading `secretId` at a time, with a fresh event id, as the sample's role unless `as` names another. */
function read(n: number, secretId: string, at: string, as?: { role: string; session: string }): unknown {
  const identity = as
    ? {
        userIdentity: {
          type: 'AssumedRole',
          arn: `arn:aws:sts::111122223333:assumed-role/${as.role}/${as.session}`,
          accountId: '111122223333',
          sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::111122223333:role/${as.role}`, accountId: '111122223333', userName: as.role } },
        },
      }
    : {};
  const event = withDetail(READ, { eventTime: at, eventID: `read-${n}-${at}`, requestParameters: { secretId }, ...identity }) as Record<string, unknown>;
  return { ...event, id: `envelope-${n}-${at}` };
}

async function runAll(events: readonly unknown[]) {
  const deps = { ...capturingDeps({ mode: 'live' }), store: memoryStateStore() };
  const records: RemediationRecord[] = [];
  for (const event of events) records.push(await run(secretsBulkRead, event, deps));
  return { records, deps };
}

describe('secrets-bulk-read offline (no state store, as in replay)', () => {
  it.each(sampleNames('secrets-bulk-read'))('decides the sample %s as its name says', async (name) => {
    const record = await run(secretsBulkRead, loadSample('secrets-bulk-read', name), capturingDeps());
    expect(record.outcome).toBe(expectedOutcome(name));
  });

  it('reports each read at LOW, saying it could not count, so a backtest never hides a burst', async () => {
    const record = await run(secretsBulkRead, READ, capturingDeps());
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'LOW', finding: 'secret-read-uncounted', resources: [{ id: ROLE }] });
    expect(record.reason).toContain('not counted (no state store');
  });

  it('alerts HIGH on any read by filter, naming the filter', async () => {
    const record = await run(secretsBulkRead, loadSample('secrets-bulk-read', 'alerted.secrets-read-by-filter'), capturingDeps());
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'secrets-read-by-filter' });
    expect(record.reason).toContain('name=prod');
  });

  it('fails, naming the field, on a GetSecretValue without a secret id', async () => {
    const record = await run(secretsBulkRead, withDetail(READ, { requestParameters: { versionStage: 'AWSCURRENT' } }), capturingDeps());
    expect(record.outcome).toBe('failed');
    expect(record.error?.message).toContain('detail.requestParameters');
  });

  it('declares its finding codes', () => {
    expect(FINDINGS).toEqual(['secrets-read-burst', 'secret-read-uncounted', 'secrets-read-by-filter']);
  });
});

describe('secrets-bulk-read with the state store', () => {
  it('stays quiet for 14 distinct secrets, alerts once on the 15th with the first and latest, and not again in the window', async () => {
    const events = Array.from({ length: 17 }, (_, i) => read(i, `prod/app/secret-${i}`, minute(0, i * 3)));
    const { records, deps } = await runAll(events);
    expect(records.map((r) => r.outcome)).toEqual([...Array(14).fill('compliant'), 'alerted', 'compliant', 'compliant']);
    expect(records[14]).toMatchObject({ severity: 'HIGH', finding: 'secrets-read-burst', resources: [{ id: ROLE }] });
    expect(records[14]?.reason).toContain('15 distinct secrets read within the 10 min up to 12:00 UTC');
    expect(records[14]?.reason).toContain('first prod/app/secret-0, latest prod/app/secret-14');
    expect(records[16]?.reason).toContain('already alerted in this window');
    expect(deps.published).toHaveLength(1);
  });

  it('never alerts on automation re-reading the same secrets, across the window boundary too', async () => {
    const events = Array.from({ length: 60 }, (_, i) => read(i, `prod/app/secret-${i % 10}`, minute(Math.floor(i / 2) % 60, (i % 2) * 30)));
    const { records } = await runAll(events);
    expect(records.filter((r) => r.outcome === 'alerted')).toEqual([]);
    expect(records.at(-1)?.reason).toMatch(/: 10 distinct secrets read/);
  });

  it('counts a secret named by name and by ARN once, and counts per role, not per session or across roles', async () => {
    const arn = (name: string) => `arn:aws:secretsmanager:eu-west-1:111122223333:secret:${name}-Ab12Cd`;
    expect(secretName(arn('prod/app/db'))).toBe('prod/app/db');
    const byName = Array.from({ length: 8 }, (_, i) => read(i, `prod/app/secret-${i}`, minute(1, i)));
    const byArn = Array.from({ length: 8 }, (_, i) => read(10 + i, arn(`prod/app/secret-${i}`), minute(2, i)));
    const otherRole = Array.from({ length: 8 }, (_, i) => read(20 + i, `prod/app/other-${i}`, minute(3, i), { role: 'example-batch', session: 'job-1' }));
    const { records } = await runAll([...byName, ...byArn, ...otherRole]);
    expect(records.filter((r) => r.outcome === 'alerted')).toEqual([]);
    // Sessions of one role are one principal: another session of example-app adds to its tally.
    const more = Array.from({ length: 7 }, (_, i) => read(40 + i, `prod/app/more-${i}`, minute(4, i), { role: 'example-app', session: 'another-session' }));
    const { records: second } = await runAll([...byName, ...more]);
    expect(second.at(-1)).toMatchObject({ outcome: 'alerted', resources: [{ id: ROLE }] });
    expect(second.at(-1)?.reason).toContain('arn:aws:sts::111122223333:assumed-role/example-app/another-session');
  });

  it('alerts again when a new window reaches the threshold', async () => {
    const first = Array.from({ length: 15 }, (_, i) => read(i, `prod/a/secret-${i}`, minute(0, i * 2)));
    const second = Array.from({ length: 15 }, (_, i) => read(100 + i, `prod/b/secret-${i}`, minute(30, i * 2)));
    const { records } = await runAll([...first, ...second]);
    expect(records.filter((r) => r.outcome === 'alerted').map((r) => r.eventTime)).toEqual([minute(0, 28), minute(30, 28)]);
  });

  it('keeps control characters out of the text a person reads', async () => {
    const events = Array.from({ length: 15 }, (_, i) => read(i, i === 14 ? 'evil\u001b]0;pwned\u0007name' : `prod/app/secret-${i}`, minute(5, i)));
    const { records } = await runAll(events);
    expect(records.at(-1)?.outcome).toBe('alerted');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this test looks for
    expect(records.at(-1)?.reason).not.toMatch(/[\u0000-\u001f\u007f]/);
  });
});

describe('secrets-bulk-read notCounted (the counting layer: an operator leaves a call of the pattern uncounted)', () => {
  const withNotCounted = (notCounted: string[]) => {
    const base = sampleConfig();
    return sampleConfig({ rules: { ...base.rules, 'secrets-bulk-read': { ...base.rules['secrets-bulk-read'], notCounted } } });
  };

  it('leaves a listed call compliant and uncounted, and still decides the others', async () => {
    const store = memoryStateStore();
    const deps = { ...capturingDeps({ mode: 'live', config: withNotCounted(['GetSecretValue']) }), store };
    const records: RemediationRecord[] = [];
    for (let n = 0; n < 20; n += 1) records.push(await run(secretsBulkRead, read(n, `prod/app/secret-${n}`, minute(1, n)), deps));
    expect(records.every((record) => record.outcome === 'compliant' && record.reason.includes('not counted (secrets-bulk-read.notCounted)'))).toBe(true);
    // Nothing was tallied: the same reads without the setting alert at the 15th.
    const counted = await runAll(Array.from({ length: 20 }, (_, n) => read(n, `prod/app/secret-${n}`, minute(1, n))));
    expect(counted.records.filter((record) => record.outcome === 'alerted')).toHaveLength(1);
    const filter = await run(secretsBulkRead, loadSample('secrets-bulk-read', 'alerted.secrets-read-by-filter'), deps);
    expect(filter).toMatchObject({ outcome: 'alerted', finding: 'secrets-read-by-filter' });
  });

  it('refuses a name that is no CloudTrail eventName', () => {
    expect(() => withNotCounted(['Get Secret; rm -rf /'])).toThrow(/eventName/);
  });
});
