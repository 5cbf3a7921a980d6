import { describe, expect, it } from 'vitest';
import { consoleSigninFailures } from '../../../functions/console-signin-failures/rule.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { run } from '../../../shared/runner/run.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, loadSample, withDetail } from '../../helpers/samples.js';

const FAILURE = loadSample('console-signin-failures', 'alerted.failure-iam-user');
const SUCCESS = loadSample('console-signin-failures', 'compliant.success-iam-user');

/** The sample at a time in the window, with a fresh event id, from an IP and (optionally) as another user. */
function attempt(base: unknown, n: number, at: string, patch: Record<string, unknown> = {}): unknown {
  const event = withDetail(base, { eventTime: at, eventID: `attempt-${n}-${at}`, ...patch }) as Record<string, unknown>;
  return { ...event, id: `envelope-${n}-${at}` };
}

async function runAll(events: readonly unknown[], mode: 'live' | 'dry-run' = 'live') {
  const deps = { ...capturingDeps({ mode }), store: memoryStateStore() };
  const records: RemediationRecord[] = [];
  for (const event of events) records.push(await run(consoleSigninFailures, event, deps));
  return { records, deps };
}

const minute = (m: number) => `2026-11-25T12:${String(m).padStart(2, '0')}:10Z`;

describe('console-signin-failures with the state store', () => {
  it('stays quiet for 4 failures, alerts on the 5th, and not again for the 6th to 10th in the same window', async () => {
    const { records, deps } = await runAll(Array.from({ length: 10 }, (_, i) => attempt(FAILURE, i, minute(i))));
    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'compliant', 'alerted', ...Array(5).fill('compliant')]);
    expect(records[4]).toMatchObject({ severity: 'MEDIUM', reason: expect.stringContaining('5 for alice and 5 from 192.0.2.44 within the window 12:00-12:15 UTC') });
    expect(records[3]?.reason).toContain('4 for the user, 4 from the IP');
    expect(records[9]?.reason).toContain('already alerted in this window');
    expect(deps.published).toHaveLength(1);
  });

  it('alerts again when the count reaches the threshold in a new window', async () => {
    const first = Array.from({ length: 5 }, (_, i) => attempt(FAILURE, i, minute(i)));
    const second = Array.from({ length: 5 }, (_, i) => attempt(FAILURE, 10 + i, minute(15 + i)));
    const { records, deps } = await runAll([...first, ...second]);
    expect(records.filter((r) => r.outcome === 'alerted').map((r) => r.eventTime)).toEqual([minute(4), minute(19)]);
    expect(deps.published).toHaveLength(2);
  });

  it('counts one source IP across user names, hidden ones included', async () => {
    const users = ['alice', 'bob', 'HIDDEN_DUE_TO_SECURITY_REASONS', 'carol', 'dave'];
    const events = users.map((name, i) => attempt(FAILURE, i, minute(i), { userIdentity: { type: 'IAMUser', accountId: '111122223333', accessKeyId: '', userName: name } }));
    const { records } = await runAll(events);
    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'compliant', 'alerted']);
    expect(records[4]?.reason).toContain('5 from 192.0.2.44');
    expect(records[2]?.reason).toContain('- for the user, 3 from the IP');
  });

  it('honours the configured threshold and window', async () => {
    const config = capturingDeps().config;
    const deps = { ...capturingDeps({ mode: 'live', config: { ...config, rules: { ...config.rules, 'console-signin-failures': { enabled: true, threshold: 2, windowMinutes: 60 } } } }), store: memoryStateStore() };
    const outcomes = [];
    for (const [i, m] of [0, 40].entries()) outcomes.push((await run(consoleSigninFailures, attempt(FAILURE, i, minute(m)), deps)).outcome);
    expect(outcomes).toEqual(['compliant', 'alerted']);
  });

  it('flags a successful sign-in after the threshold of failures (HIGH), and a plain success is compliant', async () => {
    const failures = Array.from({ length: 6 }, (_, i) => attempt(FAILURE, i, minute(i)));
    const { records } = await runAll([attempt(SUCCESS, 99, minute(0)), ...failures, attempt(SUCCESS, 100, minute(7))]);
    expect(records[0]).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining('0 failures before it') });
    expect(records[7]).toMatchObject({ outcome: 'alerted', severity: 'HIGH', reason: expect.stringContaining('after 6 failed attempts') });
  });

  it('without a store, reports each failure at LOW and says it did not count', async () => {
    const deps = capturingDeps({ mode: 'dry-run' });
    const record = await run(consoleSigninFailures, attempt(FAILURE, 1, minute(1)), deps);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'LOW', reason: expect.stringContaining('not counted (no state store') });
    expect(deps.published).toHaveLength(1);
  });
});

describe('a notify-only rule', () => {
  it('has no permissions, and act and verify throw', async () => {
    expect(consoleSigninFailures.permissions).toEqual({});
    const action = { api: 'None.None', resource: { type: 'AWS::IAM::User', id: 'alice' }, params: {} };
    await expect(consoleSigninFailures.act(action, {})).rejects.toThrow('notify-only');
    await expect(consoleSigninFailures.verify(action, {})).rejects.toThrow('notify-only');
  });
});
