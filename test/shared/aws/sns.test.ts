import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import { SNS_SOCKET_TIMEOUT_MS } from '../../../shared/aws/sns.js';
import { buildNotification, snsNotifier } from '../../../shared/notifier.js';
import { record } from '../../helpers/records.js';
import { runSample } from '../../helpers/samples.js';

// aws-sdk-client-mock replaces the SDK's send, retry middleware included: only a real HTTP endpoint proves what a
// Publish does when SNS throttles, fails or hangs. A local server plays SNS (query protocol) from a script of answers.
const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:trailguard-dev-alerts';
const PUBLISHED = '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-42</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>';
const error = (type: string, code: string, message: string) =>
  `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`;

type Answer = 'ok' | 'throttled' | 'unavailable' | 'too-long' | 'hang';
const ANSWERS: Record<Exclude<Answer, 'hang'>, [number, string]> = {
  ok: [200, PUBLISHED],
  throttled: [400, error('Sender', 'Throttling', 'Rate exceeded')],
  unavailable: [503, error('Receiver', 'ServiceUnavailable', 'Service is unavailable')],
  'too-long': [400, error('Sender', 'InvalidParameter', 'Invalid parameter: Message too long')],
};

let server: Server;
let endpoint: string;
let script: Answer[] = [];
const actions: string[] = [];
const hung: ServerResponse[] = [];

function answer(request: IncomingMessage, response: ServerResponse, body: string): void {
  actions.push(new URLSearchParams(body).get('Action') ?? request.url ?? '');
  const next = script.shift() ?? 'ok';
  if (next === 'hang') {
    hung.push(response);
    return;
  }
  const [status, xml] = ANSWERS[next];
  response.writeHead(status, { 'content-type': 'text/xml' }).end(xml);
}

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => answer(request, response, body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'testing');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'testing');
});
afterAll(async () => {
  vi.unstubAllEnvs();
  for (const response of hung) response.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  actions.length = 0;
  script = [];
});

const notification = () => buildNotification(record(), { title: 'Public access blocked on S3 bucket example-reports', lines: [] });

describe('publishing through SNS, against a real HTTP endpoint', () => {
  it('retries throttling and a 503 with backoff, then sends: three Publish requests, one message id', async () => {
    script = ['throttled', 'unavailable', 'ok'];

    const messageId = await snsNotifier(TOPIC, endpoint)(notification());

    expect(messageId).toBe('m-42');
    expect(actions).toEqual(['Publish', 'Publish', 'Publish']);
  });

  it('retries an attempt that hangs once its socket is idle for the timeout, then sends', async () => {
    script = ['hang', 'ok'];
    const started = Date.now();

    const messageId = await snsNotifier(TOPIC, endpoint)(notification());

    expect(messageId).toBe('m-42');
    expect(actions).toEqual(['Publish', 'Publish']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(SNS_SOCKET_TIMEOUT_MS - 100);
  }, 15_000);

  it('does not retry a permanent failure: one request, and the record says the notification failed', async () => {
    script = ['too-long'];

    const { record: result } = await runSample(publicBucket, 'would-remediate.put-bucket-acl-canned-public-read', { notify: snsNotifier(TOPIC, endpoint) });

    expect(actions).toEqual(['Publish']);
    expect(result).toMatchObject({ outcome: 'would-remediate', notification: { status: 'failed', error: 'invalid: InvalidParameter' } });
  });

  it('gives up after four attempts on a lasting outage, and the record says the notification failed', async () => {
    script = ['unavailable', 'unavailable', 'unavailable', 'unavailable', 'ok'];

    const { record: result } = await runSample(publicBucket, 'would-remediate.put-bucket-acl-canned-public-read', { notify: snsNotifier(TOPIC, endpoint) });

    expect(actions).toEqual(['Publish', 'Publish', 'Publish', 'Publish']);
    expect(result).toMatchObject({ outcome: 'would-remediate', notification: { status: 'failed', error: 'transient: ServiceUnavailable' } });
  }, 30_000);
});
