import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import { ATTEMPT_TIMEOUT_MS, MAX_ATTEMPTS, withCallDeadline } from '../../../shared/aws/client-options.js';
import { isSafeToResend, OutcomeUnknownError, PUBLISH_ROUND_PAUSE_MS, PUBLISH_ROUNDS, publishWhileRefused } from '../../../shared/aws/sns.js';
import { buildNotification, snsNotifier } from '../../../shared/notifier.js';
import { record } from '../../helpers/records.js';
import { runSample } from '../../helpers/samples.js';
import { startLocalEndpoint, type LocalEndpoint } from '../../helpers/local-endpoint.js';

// aws-sdk-client-mock replaces the SDK's send, retry middleware included: only a real HTTP endpoint proves what a
// Publish does when SNS throttles, fails or hangs. A local server plays SNS (query protocol) from a script of
// answers, and keeps each Publish it received: every one of them would have been delivered.
const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:trailguard-dev-alerts';
const PUBLISHED =
  '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-42</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>';
const error = (type: string, code: string, message: string) =>
  `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>${type}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`;

/** `late`: published, answered only after the request timeout; `reset`: read, then the connection is cut. */
type Answer = 'ok' | 'throttled' | 'internal' | 'unavailable' | 'gateway-timeout' | 'too-long' | 'hang' | 'late' | 'reset';
const ANSWERS: Record<'ok' | 'throttled' | 'internal' | 'unavailable' | 'gateway-timeout' | 'too-long', [number, string]> = {
  ok: [200, PUBLISHED],
  throttled: [400, error('Sender', 'Throttling', 'Rate exceeded')],
  internal: [500, error('Receiver', 'InternalError', 'Internal error')],
  unavailable: [503, error('Receiver', 'ServiceUnavailable', 'Service is unavailable')],
  // A gateway between us and SNS that gave up waiting: not SNS's answer, and no error body of its making.
  'gateway-timeout': [504, '<html><body>504 Gateway Time-out</body></html>'],
  'too-long': [400, error('Sender', 'InvalidParameter', 'Invalid parameter: Message too long')],
};

let local: LocalEndpoint;
let endpoint: string;
let script: Answer[] = [];
const received: URLSearchParams[] = [];
const hung: ServerResponse[] = [];

function answer(request: IncomingMessage, response: ServerResponse, body: string): void {
  received.push(new URLSearchParams(body));
  const next = script.shift() ?? 'ok';
  if (next === 'hang') {
    hung.push(response);
    return;
  }
  if (next === 'reset') {
    request.socket.destroy();
    return;
  }
  if (next === 'late') {
    setTimeout(() => response.writeHead(200, { 'content-type': 'text/xml' }).end(PUBLISHED), ATTEMPT_TIMEOUT_MS + 500);
    return;
  }
  const [status, xml] = ANSWERS[next];
  response.writeHead(status, { 'content-type': 'text/xml' }).end(xml);
}

/** The value of one message attribute of a received Publish (query protocol: MessageAttributes.entry.N). */
function attributeOf(params: URLSearchParams, name: string): string | undefined {
  const entry = [...params.entries()].find(([key, value]) => /^MessageAttributes\.entry\.\d+\.Name$/.test(key) && value === name)?.[0];
  return entry ? (params.get(entry.replace(/Name$/, 'Value.StringValue')) ?? undefined) : undefined;
}

/** The `dedupKey` of the JSON form a machine subscriber (SQS) gets from a received Publish. */
const jsonDedupKeyOf = (params: URLSearchParams) => (JSON.parse(JSON.parse(params.get('Message') ?? '{}').sqs) as { dedupKey?: string }).dedupKey;

const actions = () => received.map((params) => params.get('Action'));

beforeAll(async () => {
  local = await startLocalEndpoint((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on('end', () => answer(request, response, body));
  }, hung);
  endpoint = local.url;
});
afterAll(() => local.close());
beforeEach(() => {
  received.length = 0;
  script = [];
});

const notification = () => buildNotification(record(), { title: 'Public access blocked on S3 bucket example-reports', lines: [] });
const SAMPLE = 'would-remediate.put-bucket-acl-canned-public-read';

describe('a Publish is resent only when SNS said it failed or never got it, against a real HTTP endpoint', () => {
  it('resends a throttled Publish with backoff, each copy with the same dedupKey attribute and JSON field', async () => {
    script = ['throttled', 'throttled', 'ok'];
    const sent = notification();

    const messageId = await snsNotifier(TOPIC, endpoint)(sent);

    expect(messageId).toBe('m-42');
    expect(actions()).toEqual(['Publish', 'Publish', 'Publish']);
    expect(received.map((params) => attributeOf(params, 'dedupKey'))).toEqual([sent.dedupKey, sent.dedupKey, sent.dedupKey]);
    expect(received.map(jsonDedupKeyOf)).toEqual([sent.dedupKey, sent.dedupKey, sent.dedupKey]);
    expect(sent.dedupKey).toMatch(/^trailguard:public-bucket:remediated:[0-9a-f]{64}$/);
  }, 15_000);

  it('resends after a refused connection: nothing was sent, so every attempt is made', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));

    const publishing = snsNotifier(TOPIC, `http://127.0.0.1:${port}`)(notification());

    await expect(publishing).rejects.toMatchObject({ code: 'ECONNREFUSED', $metadata: { attempts: MAX_ATTEMPTS } });
    await expect(publishing).rejects.not.toBeInstanceOf(OutcomeUnknownError);
  });

  it('does not resend a Publish answered after the request timeout: one request, and the record says it is ambiguous', async () => {
    script = ['late'];
    const started = Date.now();

    const { record: result } = await runSample(publicBucket, SAMPLE, { notify: snsNotifier(TOPIC, endpoint) });

    expect(actions()).toEqual(['Publish']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(ATTEMPT_TIMEOUT_MS - 100);
    expect(result).toMatchObject({ outcome: 'would-remediate', notification: { status: 'failed', error: 'ambiguous: ETIMEDOUT' } });
  }, 15_000);

  it('does not resend a Publish whose connection was reset after the request was sent', async () => {
    script = ['reset', 'ok'];

    const { record: result } = await runSample(publicBucket, SAMPLE, { notify: snsNotifier(TOPIC, endpoint) });

    expect(actions()).toEqual(['Publish']);
    expect(result).toMatchObject({ outcome: 'would-remediate', notification: { status: 'failed', error: 'ambiguous: ECONNRESET' } });
  });

  it('resends after SNS answers 500 InternalError or 503 ServiceUnavailable, as AWS advises for SNS, with the same dedupKey', async () => {
    script = ['internal', 'unavailable', 'ok'];
    const sent = notification();

    const messageId = await snsNotifier(TOPIC, endpoint)(sent);

    expect(messageId).toBe('m-42');
    expect(actions()).toEqual(['Publish', 'Publish', 'Publish']);
    expect(received.map((params) => attributeOf(params, 'dedupKey'))).toEqual([sent.dedupKey, sent.dedupKey, sent.dedupKey]);
  });

  it("does not resend after a gateway's 504, which may follow a Publish SNS handled", async () => {
    script = ['gateway-timeout', 'ok'];

    const { record: result } = await runSample(publicBucket, SAMPLE, { notify: snsNotifier(TOPIC, endpoint) });

    expect(actions()).toEqual(['Publish']);
    expect(result).toMatchObject({ outcome: 'would-remediate', notification: { status: 'failed', error: 'ambiguous: HTTP504' } });
  });

  it('does not retry a permanent failure: one request, and the record says the notification failed', async () => {
    script = ['too-long'];

    const { record: result } = await runSample(publicBucket, SAMPLE, { notify: snsNotifier(TOPIC, endpoint) });

    expect(actions()).toEqual(['Publish']);
    expect(result).toMatchObject({ outcome: 'would-remediate', notification: { status: 'failed', error: 'invalid: InvalidParameter' } });
  });

  it('gives up after four attempts on a lasting outage, and the record says the notification failed', async () => {
    script = ['unavailable', 'unavailable', 'unavailable', 'unavailable', 'ok'];

    const { record: result } = await runSample(publicBucket, SAMPLE, { notify: snsNotifier(TOPIC, endpoint) });

    expect(actions()).toEqual(['Publish', 'Publish', 'Publish', 'Publish']);
    expect(result).toMatchObject({ outcome: 'would-remediate', notification: { status: 'failed', error: 'transient: ServiceUnavailable' } });
  }, 30_000);

  it('with an invocation deadline ahead, sends a Publish SNS refused on every attempt again in another round, after a pause', async () => {
    script = ['unavailable', 'throttled', 'internal', 'unavailable', 'ok'];
    const started = Date.now();

    const messageId = await withCallDeadline(Date.now() + 20_000, Date.now, () => snsNotifier(TOPIC, endpoint)(notification()));

    expect(messageId).toBe('m-42');
    expect(actions()).toEqual(Array(MAX_ATTEMPTS + 1).fill('Publish'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(PUBLISH_ROUND_PAUSE_MS);
  }, 30_000);

  it('makes no further round when the deadline leaves no room for the pause and an attempt', async () => {
    script = ['unavailable', 'unavailable', 'unavailable', 'unavailable', 'ok'];

    const publishing = withCallDeadline(Date.now() + PUBLISH_ROUND_PAUSE_MS + ATTEMPT_TIMEOUT_MS - 500, Date.now, () =>
      snsNotifier(TOPIC, endpoint)(notification()),
    );

    await expect(publishing).rejects.toMatchObject({ name: 'ServiceUnavailable' });
    expect(actions()).toEqual(Array(MAX_ATTEMPTS).fill('Publish'));
  }, 30_000);

  it('calls a Publish abandoned at the invocation deadline ambiguous, and does not resend it', async () => {
    script = ['hang', 'ok'];

    const publishing = withCallDeadline(Date.now() + 300, Date.now, () => snsNotifier(TOPIC, endpoint)(notification()));

    await expect(publishing).rejects.toBeInstanceOf(OutcomeUnknownError);
    await expect(publishing).rejects.toMatchObject({ code: 'DeadlineExceeded' });
    expect(actions()).toEqual(['Publish']);
  });

  it('refuses a Publish past the deadline before sending it, as a plain transient error', async () => {
    const publishing = withCallDeadline(Date.now() - 1, Date.now, () => snsNotifier(TOPIC, endpoint)(notification()));

    await expect(publishing).rejects.toMatchObject({ name: 'DeadlineExceeded' });
    await expect(publishing).rejects.not.toBeInstanceOf(OutcomeUnknownError);
    expect(actions()).toEqual([]);
  });
});

describe('isSafeToResend: which failed attempts say SNS did not take the message', () => {
  // Shapes as @smithy/node-http-handler and the SDK's deserializer produce them.
  const connectTimeout = Object.assign(
    new Error('@smithy/node-http-handler - the request socket did not establish a connection with the server within the configured timeout of 1000 ms.'),
    { name: 'TimeoutError' },
  );
  const requestTimeout = Object.assign(new Error('@smithy/node-http-handler - [ERROR] a request has exceeded the configured 4000 ms requestTimeout.'), {
    name: 'TimeoutError',
    code: 'ETIMEDOUT',
  });
  const answered = (status: number, name: string) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
  const network = (code: string) => Object.assign(new Error(code), { code });

  it.each([
    ['a throttling answer', answered(400, 'Throttling'), true],
    ['an authorization refusal', answered(403, 'AuthorizationError'), true],
    ['a refused connection', network('ECONNREFUSED'), true],
    ['a name that does not resolve', network('ENOTFOUND'), true],
    ['an unreachable host', network('EHOSTUNREACH'), true],
    ['the connect timeout', connectTimeout, true],
    ['the request timeout', requestTimeout, false],
    ['a reset connection', network('ECONNRESET'), false],
    ['a broken pipe', network('EPIPE'), false],
    ['a 500 InternalError', answered(500, 'InternalError'), true],
    ['a 503 ServiceUnavailable', answered(503, 'ServiceUnavailable'), true],
    ['a 502 from a gateway', answered(502, 'BadGateway'), false],
    ['a 504 from a gateway', answered(504, 'GatewayTimeout'), false],
    ['something else', new Error('boom'), false],
  ])('%s', (_what, failure, proven) => {
    expect(isSafeToResend(failure)).toBe(proven);
  });
});

describe('publishWhileRefused: the rounds of one Publish', () => {
  const answered = (status: number, name: string) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
  const pauses: number[] = [];
  const sleep = async (ms: number) => {
    pauses.push(ms);
  };
  beforeEach(() => {
    pauses.length = 0;
  });
  /** A send that fails with each of `failures` in turn, then publishes. */
  const sendFailing = (failures: Error[]) => {
    let calls = 0;
    const send = async () => {
      calls += 1;
      const failure = failures[calls - 1];
      if (failure) throw failure;
      return 'm-1';
    };
    return { send, calls: () => calls };
  };
  const inScope = <T>(work: () => Promise<T>) => withCallDeadline(Date.now() + 60_000, Date.now, work);

  it('stops after PUBLISH_ROUNDS rounds of refusals', async () => {
    const { send, calls } = sendFailing(Array(PUBLISH_ROUNDS + 1).fill(answered(400, 'Throttling')));

    await expect(inScope(() => publishWhileRefused(send, sleep))).rejects.toMatchObject({ name: 'Throttling' });
    expect(calls()).toBe(PUBLISH_ROUNDS);
    expect(pauses).toEqual(Array(PUBLISH_ROUNDS - 1).fill(PUBLISH_ROUND_PAUSE_MS));
  });

  it.each([
    ['an end that may have published', new OutcomeUnknownError('SNS.Publish', 'ECONNRESET')],
    ['a refusal that will not change (no permission)', answered(403, 'AuthorizationError')],
    ['a gateway 502', answered(502, 'BadGateway')],
  ])('never sends again after %s', async (_what, failure) => {
    const { send, calls } = sendFailing([failure]);

    await expect(inScope(() => publishWhileRefused(send, sleep))).rejects.toBe(failure);
    expect(calls()).toBe(1);
    expect(pauses).toEqual([]);
  });

  it('never sends again without a deadline (replay and the CLI report the failure at once)', async () => {
    const { send, calls } = sendFailing([answered(500, 'InternalError')]);

    await expect(publishWhileRefused(send, sleep)).rejects.toMatchObject({ name: 'InternalError' });
    expect(calls()).toBe(1);
  });
});
