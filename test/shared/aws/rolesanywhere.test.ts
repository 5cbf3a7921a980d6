// The hand-signed Roles Anywhere client against a local node:http server on an ephemeral port: what goes on the wire
// (method, path, SigV4 headers, body) and how each kind of answer is classified.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { withCallDeadline } from '../../../shared/aws/client-options.js';
import { mayHaveLanded } from '../../../shared/aws/errors.js';
import { rolesAnywhereClient, rolesAnywhereEndpoint, type RolesAnywhereTuning } from '../../../shared/aws/rolesanywhere.js';
import { AwsCallError } from '../../../shared/errors.js';

const ID = '5b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d';

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}
type Reply = (res: ServerResponse) => void;

const seen: Seen[] = [];
let replies: Reply[] = [];
let server: Server;
let endpoint: string;

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Reply =>
  (res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
const anchor = (enabled: boolean) =>
  json(200, { trustAnchor: { trustAnchorId: ID, name: 'ci-runners', enabled, source: { sourceType: 'CERTIFICATE_BUNDLE' } } });
const silent: Reply = () => undefined;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const reply = replies.length > 1 ? replies.shift() : replies[0];
      (reply ?? json(500, { message: 'no reply scripted' }))(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  seen.length = 0;
  replies = [];
});

const TUNING: RolesAnywhereTuning = {
  credentials: async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session-token' }),
  sleep: async () => undefined,
  attemptTimeoutMs: 300,
};
const client = (readOnly = false, tuning: RolesAnywhereTuning = TUNING) => rolesAnywhereClient({ region: 'eu-west-1', endpoint, readOnly }, tuning);
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('expected a failure'),
    (error: unknown) => error as AwsCallError,
  );

describe('Roles Anywhere client: the wire', () => {
  it('GetTrustAnchor: GET /trustanchor/{id}, SigV4-signed for rolesanywhere in the Region, no body', async () => {
    replies = [anchor(true)];
    expect(await client().getTrustAnchor(ID)).toEqual({ trustAnchorId: ID, name: 'ci-runners', enabled: true, sourceType: 'CERTIFICATE_BUNDLE' });
    expect(seen).toHaveLength(1);
    const [request] = seen;
    expect(request).toMatchObject({ method: 'GET', url: `/trustanchor/${ID}`, body: '' });
    expect(request?.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    const date = String(request?.headers['x-amz-date']).slice(0, 8);
    expect(request?.headers.authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${date}/eu-west-1/rolesanywhere/aws4_request, SignedHeaders=[a-z0-9;-]*host;[a-z0-9;-]*x-amz-date[a-z0-9;-]*, Signature=[0-9a-f]{64}$`,
      ),
    );
    expect(request?.headers['x-amz-security-token']).toBe('session-token');
  });

  it.each([
    ['disableTrustAnchor', 'disable', false],
    ['enableTrustAnchor', 'enable', true],
  ] as const)('%s: POST /trustanchor/{id}/%s with an empty body, answering the anchor', async (method, suffix, enabled) => {
    replies = [anchor(enabled)];
    expect(await client()[method](ID)).toMatchObject({ trustAnchorId: ID, enabled });
    expect(seen).toMatchObject([{ method: 'POST', url: `/trustanchor/${ID}/${suffix}`, body: '' }]);
    expect(seen[0]?.headers.authorization).toContain('/eu-west-1/rolesanywhere/aws4_request');
  });

  it('sends nothing for an id that is no UUID, nor a write in dry-run (reads are still made)', async () => {
    replies = [anchor(true)];
    expect(await failure(client().disableTrustAnchor(`${ID}/../../profiles`))).toMatchObject({ kind: 'invalid', code: 'InvalidTrustAnchorId' });
    expect(await failure(client(true).disableTrustAnchor(ID))).toMatchObject({ kind: 'invalid', code: 'DryRunWriteRefused' });
    expect(await failure(client(true).enableTrustAnchor(ID))).toMatchObject({ kind: 'invalid', code: 'DryRunWriteRefused' });
    expect(seen).toHaveLength(0);
    expect((await client(true).getTrustAnchor(ID)).enabled).toBe(true);
    expect(seen).toHaveLength(1);
  });

  it('calls the regional endpoint without AWS_ENDPOINT_URL (China regions on amazonaws.com.cn)', () => {
    expect(rolesAnywhereEndpoint('eu-west-1')).toBe('https://rolesanywhere.eu-west-1.amazonaws.com');
    expect(rolesAnywhereEndpoint('cn-north-1')).toBe('https://rolesanywhere.cn-north-1.amazonaws.com.cn');
  });
});

describe('Roles Anywhere client: errors, classified as an SDK call’s', () => {
  it('404 ResourceNotFoundException (x-amzn-errortype) is gone; 403 AccessDeniedException (__type) is denied; neither is retried', async () => {
    replies = [json(404, { message: 'Resource not found' }, { 'x-amzn-errortype': 'ResourceNotFoundException:http://internal.amazon.com/coral/' })];
    expect(await failure(client().getTrustAnchor(ID))).toMatchObject({
      api: 'RolesAnywhere.GetTrustAnchor',
      resource: ID,
      kind: 'gone',
      code: 'ResourceNotFoundException',
    });
    replies = [json(403, { __type: 'com.amazonaws.rolesanywhere#AccessDeniedException', message: 'not authorized' })];
    const denied = await failure(client().disableTrustAnchor(ID));
    expect(denied).toMatchObject({ api: 'RolesAnywhere.DisableTrustAnchor', kind: 'denied', code: 'AccessDeniedException' });
    expect(mayHaveLanded(denied)).toBe(false);
    expect(seen).toHaveLength(2);
  });

  it('a 400 ValidationException is invalid, not retried', async () => {
    replies = [json(400, { message: 'bad id' }, { 'x-amzn-errortype': 'ValidationException' })];
    expect(await failure(client().getTrustAnchor(ID))).toMatchObject({ kind: 'invalid', code: 'ValidationException' });
    expect(seen).toHaveLength(1);
  });

  it('throttling (a bare 429) is transient, retried up to four attempts, and known not to have landed', async () => {
    replies = [json(429, {})];
    const throttled = await failure(client().disableTrustAnchor(ID));
    expect(throttled).toMatchObject({ kind: 'transient', code: 'TooManyRequestsException' });
    expect(mayHaveLanded(throttled)).toBe(false);
    expect(seen).toHaveLength(4);
  });

  it('a 5xx is transient and retried: the next attempt answers', async () => {
    replies = [json(503, { message: 'busy' }, { 'x-amzn-errortype': 'ServiceUnavailableException' }), anchor(false)];
    expect((await client().disableTrustAnchor(ID)).enabled).toBe(false);
    expect(seen.map((s) => s.url)).toEqual([`/trustanchor/${ID}/disable`, `/trustanchor/${ID}/disable`]);
  });

  it('an answer without the anchor is refused, not read as disabled', async () => {
    replies = [json(200, { trustAnchor: { trustAnchorId: ID } })];
    expect(await failure(client().getTrustAnchor(ID))).toMatchObject({ kind: 'invalid', code: 'InvalidResponse' });
  });

  // @smithy/node-http-handler's request timeout (a TimeoutError with code ETIMEDOUT), as every SDK client here gets it.
  it('a silent server times out each attempt: transient ETIMEDOUT after four attempts, and it may have landed', async () => {
    replies = [silent];
    const started = Date.now();
    const timedOut = await failure(client().disableTrustAnchor(ID));
    expect(timedOut).toMatchObject({ kind: 'transient', code: 'ETIMEDOUT' });
    expect(mayHaveLanded(timedOut)).toBe(true);
    expect(seen).toHaveLength(4);
    expect(Date.now() - started).toBeLessThan(4 * 300 + 1_000);
  });

  it("ends at the invocation's deadline as DeadlineExceeded, before the attempt timeout", async () => {
    replies = [silent];
    const slow = client(false, { ...TUNING, attemptTimeoutMs: 10_000 });
    const started = Date.now();
    const error = await failure(withCallDeadline(Date.now() + 200, Date.now, () => slow.getTrustAnchor(ID)));
    expect(error).toBeInstanceOf(AwsCallError);
    expect(error).toMatchObject({ kind: 'transient', code: 'DeadlineExceeded' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(seen).toHaveLength(1);
  });

  it('a refused connection is transient and known not to have landed', async () => {
    const closed = rolesAnywhereClient({ region: 'eu-west-1', endpoint: 'http://127.0.0.1:9', readOnly: false }, TUNING);
    const refused = await failure(closed.disableTrustAnchor(ID));
    expect(refused).toMatchObject({ kind: 'transient', code: 'ECONNREFUSED' });
    expect(mayHaveLanded(refused)).toBe(false);
  });
});
