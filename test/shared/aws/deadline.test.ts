import { GetPublicAccessBlockCommand } from '@aws-sdk/client-s3';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import { ATTEMPT_TIMEOUT_MS, withCallDeadline } from '../../../shared/aws/client-options.js';
import { awsCall } from '../../../shared/aws/errors.js';
import { s3Client } from '../../../shared/aws/s3.js';
import { wrapRecord } from '../../../shared/events/schema.js';
import { DEADLINE_MARGIN_MS } from '../../../shared/runner/deadline.js';
import { lambdaRunner } from '../../../shared/runner/lambda.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, loadSample, sampleConfig } from '../../helpers/samples.js';
import { startLocalEndpoint, type LocalEndpoint } from '../../helpers/local-endpoint.js';

// Issue 22, item 5: under throttling, invocations ran past the 30 s function timeout and Lambda killed them
// with no record and the claim held. aws-sdk-client-mock replaces the SDK's send (retry loop and middleware
// included), so these tests use a real client against a local server that plays S3: bucket `example-hang`
// never answers, `example-hang-once` not the first time, `example-slow` answers 503 SlowDown after 200 ms,
// anything else answers fully blocked.
const BLOCKED =
  '<?xml version="1.0" encoding="UTF-8"?><PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>';
const SLOW_DOWN = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

let local: LocalEndpoint;
let endpoint: string;
const requests: string[] = [];
const hung: ServerResponse[] = [];

beforeAll(async () => {
  local = await startLocalEndpoint((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    if (request.url?.startsWith('/example-hang-once/') && !requests.slice(0, -1).some((r) => r.startsWith('GET /example-hang-once/'))) {
      hung.push(response);
      return;
    }
    if (request.url?.startsWith('/example-hang/')) {
      hung.push(response);
      return;
    }
    if (request.url?.startsWith('/example-slow/')) {
      setTimeout(() => response.writeHead(503, { 'content-type': 'application/xml' }).end(SLOW_DOWN), 200);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/xml' }).end(BLOCKED);
  }, hung);
  endpoint = local.url;
});
afterAll(() => local.close());
beforeEach(() => {
  requests.length = 0;
});

const read = (bucket: string, region = 'eu-west-1') =>
  awsCall('S3.GetPublicAccessBlock', bucket, () => s3Client({ region, endpoint, readOnly: true }).send(new GetPublicAccessBlockCommand({ Bucket: bucket })));
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the deadline guard on every client', () => {
  it('stops the SDK retrying at the deadline: the throttled call ends then, transient, and no attempt follows', async () => {
    const started = Date.now();

    const call = withCallDeadline(started + 300, Date.now, () => read('example-slow'));

    await expect(call).rejects.toMatchObject({
      name: 'AwsCallError',
      kind: 'transient',
      code: 'DeadlineExceeded',
      api: 'S3.GetPublicAccessBlock',
      resource: 'example-slow',
    });
    expect(Date.now() - started).toBeLessThan(450);
    // Without the deadline this call makes 4 attempts (about a second); with it, the one in flight at the
    // deadline is abandoned and the retry loop starts no other, even once that attempt's answer arrives.
    await settle(800);
    expect(requests.length).toBeGreaterThanOrEqual(1);
    expect(requests.length).toBeLessThanOrEqual(2);
    expect(requests.every((r) => r === 'GET /example-slow/?publicAccessBlock=')).toBe(true);
  });

  it('ends a call whose answer never comes at the deadline, long before the attempt timeout', async () => {
    const started = Date.now();

    await expect(withCallDeadline(started + 200, Date.now, () => read('example-hang', 'eu-west-2'))).rejects.toMatchObject({
      kind: 'transient',
      code: 'DeadlineExceeded',
    });

    expect(Date.now() - started).toBeLessThan(400);
    expect(requests).toEqual(['GET /example-hang/?publicAccessBlock=']);
  });

  it('sends no call at all once the deadline has passed', async () => {
    // A client of its own: the adaptive rate limiter of the throttled one above would delay this call.
    await expect(withCallDeadline(Date.now() - 1, Date.now, () => read('example-ok', 'eu-central-1'))).rejects.toMatchObject({
      kind: 'transient',
      code: 'DeadlineExceeded',
    });
    // The same call with time left is sent and answered.
    const answer = await withCallDeadline(Date.now() + 5_000, Date.now, () => read('example-ok', 'eu-central-1'));

    expect(answer.PublicAccessBlockConfiguration?.BlockPublicAcls).toBe(true);
    expect(requests).toEqual(['GET /example-ok/?publicAccessBlock=']);
  });

  it('abandons an attempt that does not answer within the attempt timeout and retries it, instead of waiting minutes', async () => {
    const started = Date.now();

    const answer = await read('example-hang-once', 'ap-southeast-2');

    expect(answer.PublicAccessBlockConfiguration?.IgnorePublicAcls).toBe(true);
    expect(requests).toEqual(Array(2).fill('GET /example-hang-once/?publicAccessBlock='));
    expect(Date.now() - started).toBeGreaterThanOrEqual(ATTEMPT_TIMEOUT_MS - 100);
    expect(Date.now() - started).toBeLessThan(ATTEMPT_TIMEOUT_MS + 2_000);
  }, 15_000);

  it('leaves calls outside any deadline alone (replay, the CLI)', async () => {
    const answer = await read('example-ok', 'eu-west-3');

    expect(answer.PublicAccessBlockConfiguration?.RestrictPublicBuckets).toBe(true);
    expect(requests).toHaveLength(1);
  });
});

describe('a Lambda invocation whose AWS call hangs', () => {
  const hangingEvent = () => {
    const base = loadSample('public-bucket', 'would-remediate.delete-public-access-block') as Record<string, unknown>;
    return wrapRecord({ ...base, eventID: 'deadline-1', requestParameters: { bucketName: 'example-hang', publicAccessBlock: '' } });
  };

  it('writes a transient failed record before the function times out, gives the claim back, then throws', async () => {
    const store = memoryStateStore();
    const deps = { ...capturingDeps({ mode: 'live', config: sampleConfig({ endpoint }) }), store };
    const handler = lambdaRunner(publicBucket, () => deps);
    const remainingMs = DEADLINE_MARGIN_MS + 400; // the deadline: 400 ms from now
    const started = Date.now();

    await expect(handler(hangingEvent(), { getRemainingTimeInMillis: () => remainingMs })).rejects.toMatchObject({
      name: 'AwsCallError',
      kind: 'transient',
      code: 'DeadlineExceeded',
    });

    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(380);
    expect(elapsed).toBeLessThan(remainingMs);
    expect(requests).toEqual(['GET /example-hang/?publicAccessBlock=']);
    expect(deps.written).toHaveLength(1);
    expect(deps.written[0]).toMatchObject({
      outcome: 'failed',
      eventId: 'deadline-1',
      error: { kind: 'transient', code: 'DeadlineExceeded', api: 'S3.GetPublicAccessBlock' },
      notification: { status: 'deferred' },
    });
    expect(deps.written[0]?.reason).toContain('retried by Lambda/EventBridge');
    // Given back: the retry claims it at once, although the lock would have held for the invocation's time.
    expect(await store.claimEvent('public-bucket#deadline-1', deps.now(), 1_000, 3_600_000)).toMatchObject({ kind: 'claimed' });
  });
});
