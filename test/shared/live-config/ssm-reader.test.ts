import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpRequest } from '@smithy/core/protocols';
import { Hash } from '@smithy/core/serde';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, describe, expect, it } from 'vitest';
import { AwsCallError } from '../../../shared/errors.js';
import { ssmEndpoint, ssmReader, type RequestHandler } from '../../../shared/live-config/ssm-reader.js';

const CREDENTIALS = async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' });

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}

/** A handler that answers from a script, keeping every request it was given. */
function scripted(answers: readonly (Answer | Error)[]): RequestHandler & { readonly requests: HttpRequest[] } {
  const requests: HttpRequest[] = [];
  let next = 0;
  return {
    requests,
    async handle(request) {
      requests.push(request);
      const answer = answers[Math.min(next, answers.length - 1)];
      next += 1;
      if (answer instanceof Error) throw answer;
      if (!answer) throw new Error('no answer scripted');
      return {
        response: {
          statusCode: answer.status,
          headers: answer.headers ?? {},
          body: typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body),
        } as never,
      };
    },
  };
}

const waits: number[] = [];
const readerWith = (handler: RequestHandler, extra: { now?: () => number } = {}) =>
  ssmReader({
    region: 'eu-west-1',
    credentials: CREDENTIALS,
    handler,
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0.5,
    ...extra,
  });
const bodyOf = (request: HttpRequest | undefined) => JSON.parse(String(request?.body)) as Record<string, unknown>;

afterEach(() => {
  waits.length = 0;
});

describe('ssmReader', () => {
  it('signs a GetParameters request for the ssm service with the awsJson1_1 target and content type', async () => {
    const handler = scripted([
      { status: 200, body: { Parameters: [{ Name: '/tg/dev/rules', Value: '{}', Version: 3, Type: 'String' }], InvalidParameters: [] } },
    ]);

    const answer = await readerWith(handler).getParameters(['/tg/dev/rules']);

    expect(answer).toEqual({ found: [{ name: '/tg/dev/rules', value: '{}', version: 3 }], missing: [] });
    const [request] = handler.requests;
    expect(request?.hostname).toBe('ssm.eu-west-1.amazonaws.com');
    expect(request?.method).toBe('POST');
    expect(request?.headers['x-amz-target']).toBe('AmazonSSM.GetParameters');
    expect(request?.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/ssm\/aws4_request, SignedHeaders=[^,]*x-amz-target[^,]*, Signature=[0-9a-f]{64}$/,
    );
    expect(request?.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(bodyOf(request)).toEqual({ Names: ['/tg/dev/rules'], WithDecryption: false });
  });

  it("signs exactly as SignatureV4 with the SDK's own SHA-256 would (its node:crypto hash and HMAC agree)", async () => {
    const handler = scripted([{ status: 200, body: { Parameters: [] } }]);
    await readerWith(handler).getParameters(['/tg/dev/rules']);
    const sent = handler.requests[0];
    const stamp = String(sent?.headers['x-amz-date']).replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z');
    const { authorization: _, 'x-amz-date': __, 'x-amz-content-sha256': ___, ...headers } = sent?.headers ?? {};
    const reference = new SignatureV4({ service: 'ssm', region: 'eu-west-1', credentials: CREDENTIALS, sha256: Hash.bind(null, 'sha256') });

    const expected = await reference.sign(new HttpRequest({ ...sent, headers }), { signingDate: new Date(stamp) });

    expect(sent?.headers.authorization).toBe(expected.headers.authorization);
  });

  it('names the parameters that do not exist', async () => {
    const handler = scripted([{ status: 200, body: { Parameters: [], InvalidParameters: ['/tg/dev/rules'] } }]);
    await expect(readerWith(handler).getParameters(['/tg/dev/rules'])).resolves.toEqual({ found: [], missing: ['/tg/dev/rules'] });
  });

  it('reads every page of a folder, non-recursively, 10 at a time, passing NextToken on', async () => {
    const page = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({ Name: `/tg/dev/exemptions/all/e${from + i}`, Value: '{}', Version: 1 }));
    const handler = scripted([
      { status: 200, body: { Parameters: page(0, 10), NextToken: 'token-1' } },
      { status: 200, body: { Parameters: page(10, 10), NextToken: 'token-2' } },
      { status: 200, body: { Parameters: page(20, 3) } },
    ]);

    const found = await readerWith(handler).getParametersByPath('/tg/dev/exemptions/all');

    expect(found.map((p) => p.name)).toEqual(page(0, 23).map((p) => p.Name));
    expect(handler.requests.map((r) => r.headers['x-amz-target'])).toEqual(Array(3).fill('AmazonSSM.GetParametersByPath'));
    expect(handler.requests.map(bodyOf)).toEqual([
      { Path: '/tg/dev/exemptions/all', Recursive: false, WithDecryption: false, MaxResults: 10 },
      { Path: '/tg/dev/exemptions/all', Recursive: false, WithDecryption: false, MaxResults: 10, NextToken: 'token-1' },
      { Path: '/tg/dev/exemptions/all', Recursive: false, WithDecryption: false, MaxResults: 10, NextToken: 'token-2' },
    ]);
  });

  it('retries throttling with jittered, growing back-off, and succeeds', async () => {
    const throttled = { status: 400, body: { __type: 'com.amazonaws.ssm#ThrottlingException', message: 'Rate exceeded' } };
    const handler = scripted([throttled, throttled, { status: 200, body: { Parameters: [] } }]);

    await expect(readerWith(handler).getParametersByPath('/tg/dev/exemptions/all')).resolves.toEqual([]);

    expect(handler.requests).toHaveLength(3);
    expect(waits).toEqual([250, 500]);
  });

  it('gives up on a 5xx after 4 attempts, as a transient AwsCallError', async () => {
    const handler = scripted([{ status: 500, body: { __type: 'InternalServerError', message: 'oops' } }]);

    const failure = readerWith(handler).getParameters(['/tg/dev/rules']);

    await expect(failure).rejects.toMatchObject({ name: 'AwsCallError', api: 'SSM.GetParameters', kind: 'transient', code: 'InternalServerError' });
    expect(handler.requests).toHaveLength(4);
    expect(waits).toHaveLength(3);
  });

  it('classifies AccessDenied as denied and does not retry it', async () => {
    const handler = scripted([{ status: 400, body: { __type: 'AccessDeniedException', message: 'not authorized to perform ssm:GetParametersByPath' } }]);

    await expect(readerWith(handler).getParametersByPath('/tg/dev/exemptions/x')).rejects.toMatchObject({ kind: 'denied', code: 'AccessDeniedException' });
    expect(handler.requests).toHaveLength(1);
  });

  it('classifies a validation error as invalid, and a gateway page without a code by its status', async () => {
    await expect(readerWith(scripted([{ status: 400, body: { __type: 'ValidationException', message: 'bad' } }])).getParameters(['x'])).rejects.toMatchObject({
      kind: 'invalid',
      code: 'ValidationException',
    });
    const gateway = scripted([{ status: 502, body: '<html>Bad Gateway</html>' }]);
    await expect(readerWith(gateway).getParameters(['x'])).rejects.toMatchObject({ kind: 'transient', code: 'HTTP502' });
    expect(gateway.requests).toHaveLength(4);
  });

  it('retries a refused connection, a network fault, and takes the code from the x-amzn-errortype header when the body has none', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const handler = scripted([
      refused,
      { status: 400, body: {}, headers: { 'x-amzn-errortype': 'ThrottlingException:http://internal' } },
      { status: 200, body: { Parameters: [] } },
    ]);

    await expect(readerWith(handler).getParameters(['x'])).resolves.toEqual({ found: [], missing: [] });
    expect(handler.requests).toHaveLength(3);
  });

  it('stops retrying when the next wait would pass the deadline', async () => {
    let clock = 1_000;
    const handler = scripted([{ status: 400, body: { __type: 'ThrottlingException' } }]);
    const reader = readerWith(handler, { now: () => clock });

    await expect(reader.getParameters(['x'], 1_100)).rejects.toBeInstanceOf(AwsCallError);
    expect(handler.requests).toHaveLength(1);
    clock = 2_000;
    await expect(reader.getParameters(['x'], 1_100)).rejects.toMatchObject({ kind: 'transient', code: 'DeadlineExceeded' });
    expect(handler.requests).toHaveLength(1);
  });

  it('uses the .com.cn endpoint in the China regions', () => {
    expect(ssmEndpoint('cn-north-1')).toBe('https://ssm.cn-north-1.amazonaws.com.cn');
    expect(ssmEndpoint('us-east-1')).toBe('https://ssm.us-east-1.amazonaws.com');
  });
});

describe('ssmReader over HTTP (NodeHttpHandler against a local server)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  it('sends the signed request to the configured endpoint and reads the answer', async () => {
    const seen: { headers: IncomingMessage['headers']; body: string }[] = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ Parameters: [{ Name: '/tg/dev/rules', Value: '{"public-bucket":{"enabled":false}}', Version: 7 }] }));
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    const reader = ssmReader({ region: 'us-east-1', endpoint: `http://127.0.0.1:${port}`, credentials: CREDENTIALS });
    const answer = await reader.getParameters(['/tg/dev/rules'], Date.now() + 5_000);

    expect(answer.found).toEqual([{ name: '/tg/dev/rules', value: '{"public-bucket":{"enabled":false}}', version: 7 }]);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.headers['x-amz-target']).toBe('AmazonSSM.GetParameters');
    expect(seen[0]?.headers.authorization).toContain('/us-east-1/ssm/aws4_request');
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({ Names: ['/tg/dev/rules'], WithDecryption: false });
  });
});
