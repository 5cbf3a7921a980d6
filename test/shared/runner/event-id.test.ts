import { describe, expect, it } from 'vitest';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import { contentEventId, parseEnvelope } from '../../../shared/events/schema.js';
import { run } from '../../../shared/runner/run.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, loadSample } from '../../helpers/samples.js';

/** The parts of a sample (an EventBridge event, or a bare record) these tests read and change. */
interface SampleRecord {
  eventID?: string;
  requestParameters: { bucketName: string };
}
interface Sample extends Partial<SampleRecord> {
  id?: string;
  detail?: SampleRecord;
}

/** A public-bucket violation with neither an envelope `id` nor an `eventID`, about `bucket`. */
function idless(bucket: string): Sample {
  const event = structuredClone(loadSample('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read')) as Sample;
  const detail = (event.detail ?? event) as SampleRecord;
  delete event.id;
  delete detail.eventID;
  detail.requestParameters.bucketName = bucket;
  return event;
}

const withStore = () => ({ ...capturingDeps({ mode: 'offline' }), store: memoryStateStore() });

describe('events without an id (idempotency keys)', () => {
  it('judges two different id-less events, each on its own, under one store', async () => {
    const deps = withStore();
    const first = await run(publicBucket, idless('example-first'), deps);
    const second = await run(publicBucket, idless('example-second'), deps);
    expect(first).toMatchObject({ outcome: 'would-remediate', resources: [{ id: 'example-first' }] });
    expect(second).toMatchObject({ outcome: 'would-remediate', resources: [{ id: 'example-second' }] });
    expect(second.reason).not.toContain('duplicate delivery');
    expect(first.eventId).not.toBe(second.eventId);
  });

  it('still ignores a redelivery of the same id-less event, whatever order its keys come in', async () => {
    const deps = withStore();
    const event = idless('example-first');
    const reordered = Object.fromEntries(Object.entries(event).reverse());
    const first = await run(publicBucket, event, deps);
    const again = await run(publicBucket, reordered, deps);
    expect(first.outcome).toBe('would-remediate');
    expect(again).toMatchObject({
      outcome: 'ignored',
      eventId: first.eventId,
      reason: expect.stringContaining(`duplicate delivery of event ${first.eventId}`),
    });
  });

  it('takes an empty id for no id', async () => {
    const deps = withStore();
    const blank = (bucket: string) => {
      const event = idless(bucket);
      event.id = '';
      (event.detail ?? event).eventID = '';
      return event;
    };
    const first = await run(publicBucket, blank('example-first'), deps);
    const second = await run(publicBucket, blank('example-second'), deps);
    expect([first.outcome, second.outcome]).toEqual(['would-remediate', 'would-remediate']);
    expect(first.eventId).toMatch(/^content-sha256-[0-9a-f]{32}$/);
  });

  it('names an id-less event by its content in the record, never "unknown"', async () => {
    const record = await run(publicBucket, idless('example-first'), capturingDeps());
    expect(record.eventId).toMatch(/^content-sha256-[0-9a-f]{32}$/);
    expect(record.eventId).toBe(parseEnvelope(idless('example-first')).id);
  });

  it('gives an unreadable id-less event its own id too', async () => {
    const broken = (detail: string) => ({ 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', detail });
    const one = await run(publicBucket, broken('nope'), capturingDeps());
    const other = await run(publicBucket, broken('other'), capturingDeps());
    expect(one).toMatchObject({ outcome: 'failed', error: { kind: 'parse' }, eventId: expect.stringMatching(/^content-sha256-/) });
    expect(other.eventId).not.toBe(one.eventId);
  });

  it('keeps the ids events carry', () => {
    const withId = loadSample('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read') as Sample;
    const event = parseEnvelope(withId);
    expect(event.id).toBe(withId.id ?? withId.detail?.eventID ?? withId.eventID);
    expect(event.id).not.toMatch(/^content-/);
  });
});

describe('contentEventId', () => {
  it('is the same for the same content and differs for different content', () => {
    expect(contentEventId({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(contentEventId({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(contentEventId({ a: 1 })).not.toBe(contentEventId({ a: 2 }));
    expect(contentEventId([1, 2])).not.toBe(contentEventId([2, 1]));
  });

  it('never throws, whatever it is given', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    for (const value of [undefined, null, 10n, cyclic, () => 1, Symbol('s'), JSON.parse('{"__proto__": {"x": 1}}')]) {
      expect(contentEventId(value)).toMatch(/^content-sha256-[0-9a-f]{32}$/);
    }
  });
});
