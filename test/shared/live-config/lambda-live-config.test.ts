import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import { AwsCallError } from '../../../shared/errors.js';
import { exemptionParameter, rulesParameter } from '../../../shared/live-config/layout.js';
import { lambdaRunner } from '../../../shared/runner/lambda.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { startLocalEndpoint, type LocalEndpoint } from '../../helpers/local-endpoint.js';
import { capturingDeps, loadSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const PREFIX = '/trailguard/unit';
const BUCKET = 'example-upload-drop';
const SAMPLE = loadSample('public-bucket', 'would-remediate.create-bucket-public-read-write');
let eventCount = 0;
/** The sample as a new event each time (its own id): the state store's idempotency would take a repeat for a duplicate. */
const event = () => {
  eventCount += 1;
  return withDetail(SAMPLE, { eventID: `5f2c7a1e-0000-4000-8000-${String(eventCount).padStart(12, '0')}` });
};

/** A Parameter Store double over HTTP: the real reader, signer and HTTP handler run against it. */
let parameters: Map<string, { Name: string; Value: string; Version: number }>;
let denied: boolean;
let targets: string[];
let endpoint: LocalEndpoint;

function answer(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    const target = String(req.headers['x-amz-target']);
    targets.push(target);
    const input = JSON.parse(body) as { Names?: string[]; Path?: string };
    res.setHeader('content-type', 'application/x-amz-json-1.1');
    if (denied) {
      res.statusCode = 400;
      res.end(JSON.stringify({ __type: 'AccessDeniedException', message: 'not authorized' }));
      return;
    }
    if (target === 'AmazonSSM.GetParameters') {
      const names = input.Names ?? [];
      res.end(JSON.stringify({ Parameters: names.flatMap((n) => parameters.get(n) ?? []), InvalidParameters: names.filter((n) => !parameters.has(n)) }));
      return;
    }
    const inFolder = [...parameters.values()].filter((p) => p.Name.startsWith(`${input.Path}/`) && !p.Name.slice(String(input.Path).length + 1).includes('/'));
    res.end(JSON.stringify({ Parameters: inFolder }));
  });
}

const put = (name: string, value: unknown) => {
  parameters.set(name, { Name: name, Value: typeof value === 'string' ? value : JSON.stringify(value), Version: (parameters.get(name)?.Version ?? 0) + 1 });
};

beforeEach(async () => {
  parameters = new Map();
  denied = false;
  targets = [];
  endpoint = await startLocalEndpoint(answer);
  put(rulesParameter(PREFIX), {});
});
afterEach(async () => {
  await endpoint.close();
});

/** Deps of one container: offline (no S3), the live config read from the double, a settable clock. */
function containerDeps(clock: { now: number }, store = memoryStateStore()) {
  const deps = capturingDeps({
    mode: 'offline',
    config: sampleConfig({
      exemptions: [],
      parameterPrefix: PREFIX,
      endpoint: endpoint.url,
      region: 'us-east-1',
      topicArn: 'arn:aws:sns:us-east-1:111122223333:trailguard-alerts',
    }),
  });
  return { ...deps, now: () => clock.now, store };
}

describe('lambdaRunner with a live configuration', () => {
  it('makes the event exempt once an exemption added to the store is read, after the cache time', async () => {
    const clock = { now: Date.parse('2026-11-25T12:00:00Z') };
    const deps = containerDeps(clock);
    const handler = lambdaRunner(publicBucket, () => deps);

    expect((await handler(event())).outcome).toBe('would-remediate');
    put(exemptionParameter(PREFIX, 'public-bucket', BUCKET), { resource: BUCKET, reason: 'upload drop, ticket SEC-9' });
    clock.now += 59_000;
    expect((await handler(event())).outcome).toBe('would-remediate');
    clock.now += 1_000;
    const record = await handler(event());

    expect(record).toMatchObject({ outcome: 'exempt', reason: expect.stringContaining('upload drop, ticket SEC-9') });
    expect(targets.filter((t) => t === 'AmazonSSM.GetParameters')).toHaveLength(2);
    expect(targets.filter((t) => t === 'AmazonSSM.GetParametersByPath')).toHaveLength(4);
  });

  it('turns an unreadable store at cold start into one transient failed record, thrown for a retry', async () => {
    denied = true;
    const clock = { now: Date.parse('2026-11-25T12:00:00Z') };
    const deps = containerDeps(clock);
    const handler = lambdaRunner(publicBucket, () => deps);

    await expect(handler(event())).rejects.toBeInstanceOf(AwsCallError);

    expect(deps.written).toHaveLength(1);
    expect(deps.written[0]).toMatchObject({
      outcome: 'failed',
      error: { kind: 'transient', code: 'AccessDeniedException' },
      notification: { status: 'deferred' },
    });
    expect(deps.published).toEqual([]);
    denied = false;
    expect((await handler(event())).outcome).toBe('would-remediate');
  });

  it('notifies a rejected value once across containers, and each container logs and still decides', async () => {
    const name = exemptionParameter(PREFIX, '*', 'example-*');
    put(name, { resource: 'example-*', reason: 'all examples', expires: 'never' });
    const clock = { now: Date.parse('2026-11-25T12:00:00Z') };
    const store = memoryStateStore();
    const first = containerDeps(clock, store);
    const second = containerDeps(clock, store);

    const records = [await lambdaRunner(publicBucket, () => first)(event()), await lambdaRunner(publicBucket, () => second)(event())];

    expect(records.map((r) => r.outcome)).toEqual(['would-remediate', 'would-remediate']);
    const rejections = [...first.published, ...second.published].filter((n) => n.subject.includes('config rejected'));
    expect(rejections).toHaveLength(1);
    expect(rejections[0]?.text).toContain(`${name} (version 1) was rejected: expires: expected YYYY-MM-DD`);
    expect(rejections[0]?.attributes).toEqual({ rule: 'public-bucket', severity: 'HIGH', outcome: 'failed', account: '111122223333' });
  });
});
