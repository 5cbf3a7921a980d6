import { describe, expect, it } from 'vitest';
import { wrapRecord } from '../../../shared/events/schema.js';
import { aggregate } from '../../../shared/report/aggregate.js';
import type { LoggedRecord } from '../../../shared/report/records.js';
import { violation, type AnyRule } from '../../../shared/rule.js';
import { run, runFinding } from '../../../shared/runner/run.js';
import { sweepFinding } from '../../../shared/runner/sweep.js';
import { testAction } from '../../helpers/actions.js';
import { record } from '../../helpers/records.js';
import { capturingDeps } from '../../helpers/samples.js';

// Issue 16: a sweep's or a schedule's finding is no one's call. Its record names no caller and no call time, and
// the report counts it neither as a violator (actors) nor in the exposure percentiles; an event's record is both.

const NOW = Date.parse('2026-11-25T12:00:00Z'); // capturingDeps' clock
const HOUR = 3_600_000;
const ALICE = 'arn:aws:iam::111122223333:user/alice';
const logged = (r: ReturnType<typeof record>, loggedAt = NOW - HOUR): LoggedRecord => ({ record: r, loggedAt, source: 'test' });
const report = (records: readonly LoggedRecord[]) => aggregate(records, { since: undefined, now: NOW, sources: ['test'] });

/** A finding's record as the runner writes it: its id, account and Region; no call, caller or call time. */
const findingRecord = (trigger: 'sweep' | 'schedule', overrides: Parameters<typeof record>[0] = {}) =>
  record({
    trigger,
    eventId: `${trigger}:public-bucket:example-legacy:2026-11-25T11:00:00.000Z`,
    eventName: null,
    eventSource: null,
    eventTime: null,
    errorCode: null,
    actor: null,
    actorType: null,
    sourceIp: null,
    userAgent: null,
    exposureMs: null,
    ...overrides,
  });

describe('the report on findings of sweeps and schedules', () => {
  it("counts an event's violation by its actor and its exposure, and a finding's in neither", () => {
    const records = [
      logged(record({ eventId: 'e-1', exposureMs: 60_000 })),
      logged(record({ eventId: 'e-2', outcome: 'alerted', actions: [] })),
      logged(findingRecord('sweep')),
      logged(findingRecord('sweep', { eventId: 'sweep-2', outcome: 'would-remediate', mode: 'dry-run' })),
      logged(
        findingRecord('schedule', {
          rule: 'untagged-instance',
          eventId: 'trailguard-enforce-i-0123456789abcdef0-cec6af05cf',
          resources: [{ type: 'AWS::EC2::Instance', id: 'i-0123456789abcdef0' }],
        }),
      ),
      logged(findingRecord('schedule', { rule: 'untagged-instance', eventId: 'schedule-2', outcome: 'failed' })),
    ];

    const r = report(records);

    expect(r.outcomeTotals).toMatchObject({ remediated: 3, alerted: 1, 'would-remediate': 1, failed: 1 });
    // Not "(unknown)": a finding has no actor, and is no one's violation.
    expect(r.actors).toEqual([expect.objectContaining({ actor: ALICE, violations: 2, rules: ['public-bucket'], outcomes: { remediated: 1, alerted: 1 } })]);
    expect(r.exposure).toEqual([{ rule: 'public-bucket', count: 1, p50Ms: 60_000, p95Ms: 60_000, maxMs: 60_000 }]);
    // A sweep's or a schedule's finding is still a finding: listed (with no actor) and in the chart's stacks.
    expect(
      r.findings
        .filter((f) => f.actor === null)
        .map((f) => f.trigger)
        .sort(),
    ).toEqual(['schedule', 'schedule', 'sweep', 'sweep']);
    expect(r.timeline.reduce((n, b) => n + b.findings.remediated + b.findings['would-remediate'] + b.findings.alerted + b.findings.failed, 0)).toBe(6);
  });

  it('keeps records of the old shape (an invented scheduler call with a window) out of actors and exposure, by their trigger', () => {
    // Before issue 16 a finding's record named an invented call: the scheduler as actor, the window as event time.
    const invented = { eventSource: 'scheduler.amazonaws.com', actor: 'scheduler.amazonaws.com', actorType: 'AWSService', sourceIp: null, userAgent: null };
    const records = [
      logged(record({ eventId: 'e-1', exposureMs: 60_000 })),
      logged(
        record({
          ...invented,
          trigger: 'sweep',
          eventId: 'sweep-old',
          eventName: 'trailguard:Sweep',
          eventTime: '2026-11-25T11:00:00Z',
          exposureMs: 40 * 86_400_000,
        }),
      ),
      logged(
        record({
          ...invented,
          trigger: 'schedule',
          rule: 'untagged-instance',
          eventId: 'schedule-old',
          eventName: 'trailguard:EnforceTags',
          eventTime: '2026-11-25T11:00:00Z',
          exposureMs: 30 * 86_400_000,
        }),
      ),
    ];

    const r = report(records);

    expect(r.outcomeTotals.remediated).toBe(3);
    expect(r.actors.map((a) => a.actor)).toEqual([ALICE]);
    expect(r.exposure).toEqual([{ rule: 'public-bucket', count: 1, p50Ms: 60_000, p95Ms: 60_000, maxMs: 60_000 }]);
    // The chart's exposure too: all three fall in one hour, and only the event's window is in it.
    expect(r.timeline.filter((b) => b.exposure !== null)).toEqual([
      expect.objectContaining({
        findings: { remediated: 3, 'would-remediate': 0, alerted: 0, failed: 0 },
        exposure: { count: 1, p50Ms: 60_000, p95Ms: 60_000, maxMs: 60_000 },
      }),
    ]);
  });
});

describe('records the runner writes, in the report', () => {
  const bucket = { type: 'AWS::S3::Bucket', id: 'example-reports' };
  /** Finds the bucket public, blocks it, reads it back: every live run ends `remediated`. */
  const rule = {
    id: 'public-bucket',
    pattern: { source: ['aws.s3'] },
    permissions: { 'S3.PutPublicAccessBlock': 's3:PutBucketPublicAccessBlock' },
    settings: () => ({ enabled: true }),
    clients: () => ({}),
    parse: () => ({ resources: [bucket] }),
    inspect: async () => ({}),
    decide: (facts: { resources: { type: string; id: string }[] }) =>
      violation(
        'public',
        'HIGH',
        facts.resources,
        facts.resources.map((resource) => ({ api: 'S3.PutPublicAccessBlock', resource, params: { Bucket: resource.id } })),
      ),
    actions: [testAction('S3.PutPublicAccessBlock')],
    message: () => ({ title: 'blocked', lines: [] }),
  } satisfies AnyRule;
  const event = wrapRecord({
    eventVersion: '1.09',
    eventTime: '2026-11-25T11:00:00Z',
    eventSource: 's3.amazonaws.com',
    eventName: 'PutBucketAcl',
    awsRegion: 'eu-west-1',
    eventID: 'acl-1',
    recipientAccountId: '111122223333',
    userIdentity: { type: 'IAMUser', arn: ALICE, userName: 'alice' },
    requestParameters: { bucketName: bucket.id },
  });

  it("an event's remediation has an actor and an exposure; a sweep's and a schedule's have neither, and are not counted", async () => {
    const deps = capturingDeps({ mode: 'live' });
    const scope = { region: 'eu-west-1', account: '111122223333', window: '2026-11-25T11:00:00.000Z', startedAt: NOW };

    await run(rule, event, deps);
    await runFinding(rule, sweepFinding(rule.id, 'example-legacy', scope, { resources: [{ ...bucket, id: 'example-legacy' }] }), deps);
    await runFinding(
      rule,
      { trigger: 'schedule', id: 'schedule-1', account: '111122223333', region: 'eu-west-1', facts: { resources: [{ ...bucket, id: 'example-later' }] } },
      deps,
    );

    expect(deps.written.map((r) => [r.trigger, r.outcome, r.actor, r.eventTime, r.exposureMs])).toEqual([
      ['event', 'remediated', ALICE, '2026-11-25T11:00:00Z', HOUR],
      ['sweep', 'remediated', null, null, null],
      ['schedule', 'remediated', null, null, null],
    ]);
    const r = report(deps.written.map((written) => logged(written, NOW)));
    expect(r.outcomeTotals.remediated).toBe(3);
    expect(r.actors).toEqual([expect.objectContaining({ actor: ALICE, violations: 1 })]);
    expect(r.exposure).toEqual([{ rule: 'public-bucket', count: 1, p50Ms: HOUR, p95Ms: HOUR, maxMs: HOUR }]);
  });
});
