import { describe, expect, it } from 'vitest';
import { EARLIEST_EVENT_TIME_MS, plausibleEventTimeMs } from '../../../shared/events/normalize.js';
import { wrapRecord } from '../../../shared/events/schema.js';
import { aggregate } from '../../../shared/report/aggregate.js';
import { violation, type AnyRule } from '../../../shared/rule.js';
import { run } from '../../../shared/runner/run.js';
import { testAction } from '../../helpers/actions.js';
import { capturingDeps } from '../../helpers/samples.js';

const NOW = Date.parse('2026-11-25T12:00:00Z'); // capturingDeps' clock

/** A rule that finds one public bucket and fixes it: live runs end `remediated`. */
function fixingRule() {
  const resource = { type: 'AWS::S3::Bucket', id: 'example-reports' };
  return {
    id: 'public-bucket',
    pattern: { source: ['aws.s3'], detail: { eventName: ['PutBucketAcl'] } },
    permissions: { 'S3.PutPublicAccessBlock': 's3:PutBucketPublicAccessBlock' },
    settings: () => ({ enabled: true }),
    clients: () => ({}),
    parse: () => ({ resources: [resource] }),
    inspect: async () => ({}),
    decide: () =>
      violation('example-reports is public', 'HIGH', [resource], [{ api: 'S3.PutPublicAccessBlock', resource, params: { Bucket: 'example-reports' } }]),
    // Performs nothing and reads back ok: the write "lands" and is verified.
    actions: [testAction('S3.PutPublicAccessBlock')],
    message: () => ({ title: 'fixed', lines: [] }),
  } satisfies AnyRule;
}

const eventAt = (eventTime: string) =>
  wrapRecord({
    eventVersion: '1.09',
    eventTime,
    eventSource: 's3.amazonaws.com',
    eventName: 'PutBucketAcl',
    awsRegion: 'eu-west-1',
    eventID: `e-${eventTime}`,
    recipientAccountId: '111122223333',
    userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice', userName: 'alice' },
    requestParameters: { bucketName: 'example-reports' },
  });

describe('exposure windows from implausible event times', () => {
  it('gives a 1970 event time no exposure figure, and tells the operator why in the record and the notification', async () => {
    const deps = capturingDeps({ mode: 'live' });
    const record = await run(fixingRule(), eventAt('1970-01-01T00:00:00Z'), deps);
    expect(record).toMatchObject({ outcome: 'remediated', exposureMs: null });
    expect(record.reason).toMatch(/; remediated and verified; no exposure figure: the event time is before 2006/);
    expect(deps.published).toHaveLength(1);
    expect(JSON.stringify(deps.published[0])).toContain('no exposure figure: the event time is before 2006');
  });

  it('gives an event time in the future (beyond 5 min of skew) no exposure figure', async () => {
    const record = await run(fixingRule(), eventAt('2026-11-25T12:06:00Z'), capturingDeps({ mode: 'live' }));
    expect(record).toMatchObject({
      outcome: 'remediated',
      exposureMs: null,
      reason: expect.stringContaining('no exposure figure: the event time is more than 5 min in the future'),
    });
  });

  it('believes an event time within the skew (zero exposure) and an ordinary one (the window)', async () => {
    const skewed = await run(fixingRule(), eventAt('2026-11-25T12:04:00Z'), capturingDeps({ mode: 'live' }));
    const ordinary = await run(fixingRule(), eventAt('2026-11-25T11:00:00Z'), capturingDeps({ mode: 'live' }));
    expect(skewed.exposureMs).toBe(0);
    expect(ordinary.exposureMs).toBe(3_600_000);
    expect(ordinary.reason).not.toContain('no exposure figure');
    expect(ordinary.reason).toContain('remediated and verified');
  });

  it('adds nothing to a record that never has an exposure figure (not live, not remediated)', async () => {
    const offline = await run(fixingRule(), eventAt('1970-01-01T00:00:00Z'), capturingDeps({ mode: 'offline' }));
    expect(offline).toMatchObject({ outcome: 'would-remediate', exposureMs: null });
    expect(offline.reason).not.toContain('no exposure figure');
  });

  it('keeps 56 years out of the exposure report', async () => {
    const deps = capturingDeps({ mode: 'live' });
    await run(fixingRule(), eventAt('1970-01-01T00:00:00Z'), deps);
    await run(fixingRule(), eventAt('2026-11-25T11:59:00Z'), deps);
    const report = aggregate(
      deps.written.map((record) => ({ record, loggedAt: NOW, source: 'test' })),
      { since: undefined, now: NOW, sources: ['test'] },
    );
    expect(report.exposure).toEqual([{ rule: 'public-bucket', count: 1, p50Ms: 60_000, p95Ms: 60_000, maxMs: 60_000 }]);
    expect(report.outcomeTotals.remediated).toBe(2);
  });
});

describe('plausibleEventTimeMs', () => {
  it.each([
    ['2005-12-31T23:59:59Z', 'before 2006'],
    ['1970-01-01T00:00:00Z', 'before 2006'],
    ['2026-11-25T12:05:01Z', 'in the future'],
    ['2099-01-01T00:00:00Z', 'in the future'],
    ['not a time', 'unreadable'],
    ['', 'unreadable'],
  ])('finds %s implausible (%s)', (value, why) => {
    expect(plausibleEventTimeMs(value, NOW)).toEqual({ implausible: expect.stringContaining(why) });
  });

  it.each([
    ['2006-01-01T00:00:00Z', EARLIEST_EVENT_TIME_MS],
    ['2026-11-25T12:05:00Z', NOW + 300_000],
    ['2024-12-16 18:41:07.000000000', Date.UTC(2024, 11, 16, 18, 41, 7)],
  ])('believes %s', (value, ms) => {
    expect(plausibleEventTimeMs(value, NOW)).toEqual({ ms });
  });
});
