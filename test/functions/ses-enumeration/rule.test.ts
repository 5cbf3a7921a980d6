import { describe, expect, it } from 'vitest';
import { FINDINGS, sesEnumeration, sesItemsOf } from '../../../functions/ses-enumeration/rule.js';
import { ParseError } from '../../../shared/errors.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { run } from '../../../shared/runner/run.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, expectedOutcome, loadSample, sampleNames, withDetail } from '../../helpers/samples.js';

const CALL = loadSample('ses-enumeration', 'alerted.list-identities-uncounted');
const USER = 'arn:aws:iam::111122223333:user/example-dev';
const minute = (m: number, s = 10) => `2026-11-25T12:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}Z`;

/** The sample's user calling `eventName` with `request` at a time, with a fresh event id. */
function call(n: number, eventName: string, request: unknown, at: string): unknown {
  const event = withDetail(CALL, { eventName, requestParameters: request, eventTime: at, eventID: `ses-${n}-${at}` }) as Record<string, unknown>;
  return { ...event, id: `envelope-${n}-${at}` };
}

async function runAll(events: readonly unknown[]) {
  const deps = { ...capturingDeps({ mode: 'live' }), store: memoryStateStore() };
  const records: RemediationRecord[] = [];
  for (const event of events) records.push(await run(sesEnumeration, event, deps));
  return { records, deps };
}

/** The Stratus Red Team "Enumerate SES" sequence: sending enabled, quota, identities, their verification. */
const STRATUS = [
  ['GetAccountSendingEnabled', null],
  ['GetSendQuota', null],
  ['ListIdentities', null],
  ['GetIdentityVerificationAttributes', { identities: ['example.com'] }],
] as const;

describe('ses-enumeration offline (no state store, as in replay)', () => {
  it.each(sampleNames('ses-enumeration'))('decides the sample %s as its name says', async (name) => {
    const record = await run(sesEnumeration, loadSample('ses-enumeration', name), capturingDeps());
    expect(record.outcome).toBe(expectedOutcome(name));
  });

  it('reports each call at LOW, saying it could not count, so a backtest never hides an enumeration', async () => {
    const record = await run(sesEnumeration, CALL, capturingDeps());
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'LOW', finding: 'ses-call-uncounted', resources: [{ id: USER }] });
    expect(record.reason).toContain('not counted (no state store');
  });

  it('counts a call, and a per-identity call once per identity asked about (case-folded)', () => {
    expect(sesItemsOf('GetSendQuota', null, 'e')).toEqual(['GetSendQuota']);
    expect(sesItemsOf('GetIdentityDkimAttributes', { identities: ['Example.com', 'example.COM', 'b@example.com'] }, 'e')).toEqual([
      'GetIdentityDkimAttributes example.com',
      'GetIdentityDkimAttributes b@example.com',
    ]);
    expect(sesItemsOf('GetEmailIdentity', { emailIdentity: 'example.com' }, 'e')).toEqual(['GetEmailIdentity example.com']);
    const many = Array.from({ length: 100 }, (_, i) => `user-${i}@example.com`);
    expect(sesItemsOf('GetIdentityVerificationAttributes', { identities: many }, 'e')).toHaveLength(25);
  });

  it('fails, naming the field, on a per-identity call whose identities are unreadable', async () => {
    expect(() => sesItemsOf('GetIdentityVerificationAttributes', { identities: 'example.com' }, 'e')).toThrow(ParseError);
    const record = await run(sesEnumeration, withDetail(CALL, { eventName: 'GetEmailIdentity', requestParameters: { identity: 'x' } }), capturingDeps());
    expect(record.outcome).toBe('failed');
    expect(record.error?.message).toContain('detail.requestParameters.emailIdentity');
  });

  it('declares its finding codes', () => {
    expect(FINDINGS).toEqual(['ses-enumeration', 'ses-call-uncounted']);
  });
});

describe('ses-enumeration with the state store', () => {
  it('stays quiet for three distinct calls, alerts once at the fourth (the Stratus sequence) with the first and latest, and not again in the window', async () => {
    const events = [...STRATUS, ['ListVerifiedEmailAddresses', null] as const].map(([name, request], i) => call(i, name, request, minute(1, i * 5)));
    const { records, deps } = await runAll(events);
    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'alerted', 'compliant']);
    expect(records[3]).toMatchObject({ severity: 'MEDIUM', finding: 'ses-enumeration', resources: [{ id: USER }] });
    expect(records[3]?.reason).toContain('4 distinct SES identity and account reads within the 30 min up to 12:01 UTC (threshold 4)');
    expect(records[3]?.reason).toContain('first GetAccountSendingEnabled, latest GetIdentityVerificationAttributes example.com');
    expect(records[4]?.reason).toContain('already alerted in this window');
    expect(deps.published).toHaveLength(1);
  });

  it('keeps a mailer that reads its quota and its one identity every minute at two items', async () => {
    const events = Array.from({ length: 40 }, (_, i) =>
      i % 2 === 0 ? call(i, 'GetSendQuota', null, minute(i, 0)) : call(i, 'GetEmailIdentity', { emailIdentity: 'news.example.com' }, minute(i - 1, 30)),
    );
    const { records } = await runAll(events);
    expect(records.filter((r) => r.outcome === 'alerted')).toEqual([]);
    expect(records.at(-1)?.reason).toMatch(/: 2 distinct SES identity and account reads/);
  });

  it('alerts at once on one call that asks about four identities', async () => {
    const { records } = await runAll([
      call(1, 'GetIdentityVerificationAttributes', { identities: ['a.example', 'b.example', 'c.example', 'd.example'] }, minute(2)),
    ]);
    expect(records[0]).toMatchObject({ outcome: 'alerted', finding: 'ses-enumeration' });
  });

  it('keeps control characters out of the text a person reads', async () => {
    const events = STRATUS.slice(0, 3).map(([name, request], i) => call(i, name, request, minute(3, i)));
    events.push(call(9, 'GetEmailIdentity', { emailIdentity: 'evil\u001b]0;pwned\u0007.example' }, minute(3, 9)));
    const { records } = await runAll(events);
    expect(records.at(-1)?.outcome).toBe('alerted');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this test looks for
    expect(records.at(-1)?.reason).not.toMatch(/[\u0000-\u001f\u007f]/);
  });
});
