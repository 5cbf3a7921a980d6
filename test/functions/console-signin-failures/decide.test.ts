import { describe, expect, it } from 'vitest';
import { consoleSigninFailures, FINDINGS } from '../../../functions/console-signin-failures/rule.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { run } from '../../../shared/runner/run.js';
import { memoryStateStore, type StateStore } from '../../../shared/state/store.js';
import { record as recordOf } from '../../helpers/records.js';
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
    expect(records[4]).toMatchObject({
      severity: 'MEDIUM',
      reason: expect.stringContaining('5 for alice and 5 from 192.0.2.44 within the 15 min up to 12:04 UTC'),
    });
    expect(records[3]?.reason).toContain('4 for the user, 4 from the IP');
    expect(records[9]?.reason).toContain('already alerted for these failures');
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
    const events = users.map((name, i) =>
      attempt(FAILURE, i, minute(i), { userIdentity: { type: 'IAMUser', accountId: '111122223333', accessKeyId: '', userName: name } }),
    );
    const { records } = await runAll(events);
    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'compliant', 'alerted']);
    expect(records[4]?.reason).toContain('5 from 192.0.2.44');
    expect(records[2]?.reason).toContain('- for the user, 3 from the IP');
  });

  it('counts per account: root (or admin) failing in two member accounts does not add up', async () => {
    const root = loadSample('console-signin-failures', 'alerted.failure-root') as Record<string, unknown>;
    const inAccount = (account: string, n: number) => ({
      ...(attempt(root, n, minute(n), { sourceIPAddress: `192.0.2.${n}`, recipientAccountId: account }) as Record<string, unknown>),
      account,
    });
    const events = [0, 1, 2].flatMap((n) => [inAccount('111122223333', n), inAccount('444455556666', 10 + n)]);
    const { records, deps } = await runAll(events);
    expect(records.map((r) => r.outcome)).toEqual(Array(6).fill('compliant'));
    expect(records[5]?.reason).toContain('3 for the user, 1 from the IP');
    expect(deps.published).toEqual([]);
    // Two more in one account reach its own threshold.
    const more = await runAll([...events, inAccount('111122223333', 3), inAccount('111122223333', 4)]);
    expect(more.records.map((r) => r.outcome).slice(6)).toEqual(['compliant', 'alerted']);
    expect(more.records[7]).toMatchObject({ severity: 'HIGH', account: '111122223333', reason: expect.stringContaining('5 for root') });
  });

  it('alerts once when the count jumps past the threshold (a counter update applied twice by a retry)', async () => {
    const store = memoryStateStore();
    let doubled = false;
    const twice: StateStore = {
      ...store,
      addToWindow: (counter, start, count, expires) =>
        store.addToWindow(counter, start, doubled && count === 1 && !counter.endsWith('#alerted') ? 2 : count, expires),
    };
    const deps = { ...capturingDeps({ mode: 'live' }), store: twice };
    const records: RemediationRecord[] = [];
    for (let i = 0; i < 7; i++) {
      doubled = i === 4; // the 5th failure counts as two: 4 → 6, so no event ever sees exactly 5
      records.push(await run(consoleSigninFailures, attempt(FAILURE, i, minute(i)), deps));
    }
    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'compliant', 'alerted', 'compliant', 'compliant']);
    expect(records[4]?.reason).toContain('6 for alice and 6 from 192.0.2.44');
    expect(records[6]?.reason).toContain('already alerted for these failures');
    expect(deps.published).toHaveLength(1);
  });

  it('sees a burst across a window boundary (the previous window weighted by overlap), and alerts once for it', async () => {
    const burst = [12, 13, 14, 15, 16, 17, 18].map((m, i) => attempt(FAILURE, i, minute(m)));
    const { records, deps } = await runAll(burst);
    // 3 before 12:15 and 3 after: never 5 in one fixed window, but 5 within 15 minutes at 12:17.
    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'compliant', 'compliant', 'alerted', 'compliant']);
    expect(records[5]?.reason).toMatch(
      /5 for alice and 5 from 192\.0\.2\.44 within the 15 min up to 12:17 UTC .*with the 15 min before 12:15 UTC weighted by overlap/,
    );
    expect(deps.published).toHaveLength(1);
  });

  it('does not alert again right after a window boundary for the burst it already alerted on', async () => {
    const events = [10, 11, 12, 13, 14, 15, 16].map((m, i) => attempt(FAILURE, i, minute(m)));
    const { records, deps } = await runAll(events);
    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'compliant', 'alerted', 'compliant', 'compliant']);
    expect(records[5]?.reason).toContain('already alerted for these failures');
    expect(deps.published).toHaveLength(1);
  });

  it('honours the configured threshold and window', async () => {
    const config = capturingDeps().config;
    const deps = {
      ...capturingDeps({
        mode: 'live',
        config: { ...config, rules: { ...config.rules, 'console-signin-failures': { enabled: true, threshold: 2, windowMinutes: 60 } } },
      }),
      store: memoryStateStore(),
    };
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
  it('has no permissions and no actions', () => {
    expect(consoleSigninFailures.permissions).toEqual({});
    // No action types: nothing to perform, read back or reverse, and no act/verify of its own to fall back to.
    expect(consoleSigninFailures.actions).toEqual([]);
    expect(consoleSigninFailures).not.toHaveProperty('act');
    expect(consoleSigninFailures).not.toHaveProperty('verify');
  });
});

describe('console-signin-failures findings', () => {
  it('sets a finding code for each kind of alert, and every code is one of them', async () => {
    const failures = Array.from({ length: 6 }, (_, i) => attempt(FAILURE, i, minute(i)));
    const { records, deps } = await runAll([...failures, attempt(SUCCESS, 100, minute(7))]);
    const alerted = records.filter((r) => r.outcome === 'alerted');
    expect(alerted.map((r) => r.finding)).toEqual(['repeated-sign-in-failures', 'sign-in-after-failures']);
    expect(records.filter((r) => r.outcome !== 'alerted').every((r) => r.finding === null)).toBe(true);
    expect(deps.published.map((n) => n.subject)).toEqual([
      expect.stringContaining('Repeated failed console sign-ins: alice'),
      expect.stringContaining('Console sign-in after repeated failures: alice'),
    ]);
    const uncounted = await run(consoleSigninFailures, attempt(FAILURE, 1, minute(1)), capturingDeps({ mode: 'dry-run' }));
    expect(uncounted).toMatchObject({ outcome: 'alerted', finding: 'uncounted-sign-in-failure' });
    expect(new Set([...alerted.map((r) => r.finding), uncounted.finding])).toEqual(new Set(FINDINGS));
  });

  it('titles and advises by the finding, not the reason', () => {
    // A reason with both words the old title read ("repeated", "signed in successfully"), on an uncounted failure.
    const message = (finding: string) =>
      consoleSigninFailures.message(
        recordOf({
          rule: 'console-signin-failures',
          outcome: 'alerted',
          eventName: 'ConsoleLogin',
          eventSource: 'signin.amazonaws.com',
          resources: [{ type: 'AWS::IAM::User', id: 'alice' }],
          finding,
          reason: 'repeated failed console sign-ins: alice signed in successfully',
        }),
      );
    expect(message('uncounted-sign-in-failure').title).toBe('Failed console sign-in');
    expect(message('uncounted-sign-in-failure').lines.join('\n')).not.toContain('treat the session as compromised');
    expect(message('repeated-sign-in-failures').title).toBe('Repeated failed console sign-ins: alice');
    expect(message('sign-in-after-failures').title).toBe('Console sign-in after repeated failures: alice');
    expect(message('sign-in-after-failures').lines.join('\n')).toContain('treat the session as compromised');
  });
});
