import { GetPublicAccessBlockCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import { trailLogging } from '../../../functions/trail-logging/rule.js';
import { parseConfig } from '../../../shared/config.js';
import { wrapRecord } from '../../../shared/events/schema.js';
import { lambdaRunner } from '../../../shared/runner/lambda.js';
import { ALL_BLOCKED } from '../../../shared/s3/public-access.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, loadSample } from '../../helpers/samples.js';

const s3 = mockClient(S3Client);
afterEach(() => s3.reset());

// An attacker (or a bug) makes 1,000 buckets public within a minute, and EventBridge delivers some twice.
function burst(count: number): unknown[] {
  const base = loadSample('public-bucket', 'would-remediate.delete-public-access-block') as Record<string, unknown>;
  const events = Array.from({ length: count }, (_, i) =>
    wrapRecord({
      ...base,
      eventID: `burst-${i}`,
      requestParameters: { bucketName: `example-burst-${String(i).padStart(4, '0')}`, publicAccessBlock: '' },
    }),
  );
  return [...events, ...events.slice(0, 100)]; // at-least-once: 100 redeliveries
}

describe('a burst of 1,000 events in a minute', () => {
  it('ends every event in exactly one record, caps writes at the breaker and messages at the digest', async () => {
    const written = new Set<string>();
    s3.on(GetPublicAccessBlockCommand).callsFake((input: { Bucket: string }) => {
      if (written.has(input.Bucket)) return { PublicAccessBlockConfiguration: ALL_BLOCKED };
      throw Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' });
    });
    s3.on(PutPublicAccessBlockCommand).callsFake((input: { Bucket: string }) => {
      written.add(input.Bucket);
      return {};
    });
    const store = memoryStateStore();
    const config = parseConfig({ reliability: { breaker: { maxWrites: 50, windowMinutes: 10 }, digest: { maxPerWindow: 20, windowMinutes: 5 } } });
    const deps = { ...capturingDeps({ mode: 'live', config }), store };
    const handler = lambdaRunner(publicBucket, () => deps);

    for (const event of burst(1000)) await handler(event);

    const byOutcome = (outcome: string) => deps.written.filter((r) => r.outcome === outcome);
    expect(deps.written).toHaveLength(1100); // every delivery ends in one record: nothing lost, nothing thrown
    expect(new Set(deps.written.map((r) => r.eventId)).size).toBe(1000);
    expect(byOutcome('remediated')).toHaveLength(50); // the breaker's limit, then report-only
    expect(byOutcome('would-remediate')).toHaveLength(950);
    expect(byOutcome('would-remediate').every((r) => r.reason.includes('circuit breaker'))).toBe(true);
    expect(byOutcome('would-remediate').filter((r) => r.severity === 'CRITICAL')).toHaveLength(1); // the trip
    expect(byOutcome('ignored').every((r) => r.reason.startsWith('duplicate delivery'))).toBe(true);
    expect(byOutcome('ignored')).toHaveLength(100);
    expect(written.size).toBe(50);
    // People get 20 individual messages, one burst notice, and the breaker's trip (CRITICAL, never held back):
    // 22 messages for 1,100 deliveries, and every decision is still in the log.
    expect(deps.published).toHaveLength(22);
    expect(deps.published.filter((n) => n.subject.includes('Burst: over 20 public-bucket notifications in 5 min'))).toHaveLength(1);
    expect(deps.published.filter((n) => n.attributes.severity === 'CRITICAL')).toHaveLength(1);
  }, 60_000);
});

describe('the digest never hides what a person must see', () => {
  const config = parseConfig({ reliability: { digest: { maxPerWindow: 3, windowMinutes: 5 } } });
  const eventIn = (account: string, i: number) => {
    const base = loadSample('public-bucket', 'would-remediate.delete-public-access-block') as Record<string, unknown>;
    return wrapRecord({
      ...base,
      eventID: `${account}-${i}`,
      recipientAccountId: account,
      requestParameters: { bucketName: `example-${account}-${i}`, publicAccessBlock: '' },
    });
  };

  it("counts each account on its own: a burst in one leaves another's notifications alone", async () => {
    const deps = { ...capturingDeps({ mode: 'offline', config }), store: memoryStateStore() };
    const handler = lambdaRunner(publicBucket, () => deps);
    for (let i = 0; i < 10; i += 1) await handler(eventIn('111122223333', i));
    for (let i = 0; i < 2; i += 1) await handler(eventIn('444455556666', i));
    const to = (account: string) => deps.published.filter((n) => n.attributes.account === account);
    expect(to('111122223333')).toHaveLength(4); // 3, then the burst notice
    expect(to('111122223333')[3]?.text).toContain('not sent until 2026-11-25T12:05:00.000Z');
    expect(to('444455556666')).toHaveLength(2);
  });

  it("never folds the audit trail's alerts: 25 failed StopLogging attempts do not hide the weakening after them", async () => {
    const deps = { ...capturingDeps({ mode: 'offline', config }), store: memoryStateStore() };
    const handler = lambdaRunner(trailLogging, () => deps);
    const withId = (name: string, id: string) => {
      const envelope = structuredClone(loadSample('trail-logging', name)) as { id: string; detail: Record<string, unknown> };
      return { ...envelope, id, detail: { ...envelope.detail, eventID: id } };
    };
    for (let i = 0; i < 25; i += 1) await handler(withId('alerted.stop-logging-access-denied', `attempt-${i}`));
    await handler(withId('would-remediate.update-trail-log-file-validation-off', 'the-real-one'));
    expect(deps.written.map((r) => r.outcome)).toEqual([...Array(25).fill('alerted'), 'would-remediate']);
    expect(deps.published).toHaveLength(26);
    expect(deps.published.some((n) => n.subject.includes('Burst'))).toBe(false);
  });

  it('always sends a failed remediation, however many came before', async () => {
    s3.on(GetPublicAccessBlockCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    const deps = { ...capturingDeps({ mode: 'live', config }), store: memoryStateStore() };
    const handler = lambdaRunner(publicBucket, () => deps);
    for (let i = 0; i < 8; i += 1) await handler(eventIn('111122223333', i));
    expect(deps.written.map((r) => r.outcome)).toEqual(Array(8).fill('failed'));
    expect(deps.published).toHaveLength(8);
  });

  it('sends a notification the digest could not count (fail open), and its record says so', async () => {
    const store = memoryStateStore();
    let failing = false;
    const counting = {
      ...store,
      addToWindow: (...args: Parameters<typeof store.addToWindow>) => (failing ? Promise.reject(new Error('throttled')) : store.addToWindow(...args)),
    };
    const deps = { ...capturingDeps({ mode: 'offline', config }), store: counting };
    const handler = lambdaRunner(publicBucket, () => deps);
    for (let i = 0; i < 3; i += 1) await handler(eventIn('111122223333', i));
    failing = true;
    await handler(eventIn('111122223333', 3));
    expect(deps.written.map((r) => r.notification)).toEqual([
      ...Array(3).fill(expect.objectContaining({ status: 'sent' })),
      { status: 'sent', messageId: expect.any(String), uncounted: true },
    ]);
    expect(deps.written.slice(0, 3).every((r) => r.notification.status === 'sent' && !r.notification.uncounted)).toBe(true);
    expect(deps.published).toHaveLength(4);
  });
});
