// moto serves no IAM Roles Anywhere. These tests run the real handler in-process with AWS_ENDPOINT_URL pointed at a
// small local server that is a FAKE Roles Anywhere (requests signed for the `rolesanywhere` service, answered from a
// map of trust anchors) and forwards every other request (SNS, DynamoDB) to the emulator unchanged. What they prove is
// the wiring: config → client → signed HTTP → read, disable, read back → record → notification; not AWS's behaviour.
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stepOfReverse } from '../../../shared/actions/action.js';
import { ACTION_TYPES } from '../../../shared/actions/registry.js';
import { reversalOf } from '../../../shared/actions/reversal.js';
import { ACCOUNT, ENDPOINT } from '../../e2e/helpers/emulator.js';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler, type LambdaEnv } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';

const stack = freshStackPerTest();
const SAMPLE = 'would-remediate.trust-anchor-created-certificate-bundle';

/** The fake's trust anchors (id → enabled), the Roles Anywhere requests it answered, and a fault to answer instead. */
const anchors = new Map<string, boolean>();
const seen: { method: string; path: string; authorization: string }[] = [];
let denyWrites = false;
let server: Server;
let fakeEndpoint = '';

function answerRolesAnywhere(req: IncomingMessage, res: ServerResponse): void {
  const [, id = '', verb] = /^\/trustanchor\/([^/]+)(?:\/(disable|enable))?$/.exec(req.url ?? '') ?? [];
  seen.push({ method: req.method ?? '', path: req.url ?? '', authorization: String(req.headers.authorization ?? '') });
  const send = (status: number, body: unknown, type?: string) => {
    res.writeHead(status, { 'content-type': 'application/json', ...(type ? { 'x-amzn-errortype': type } : {}) });
    res.end(JSON.stringify(body));
  };
  if (!anchors.has(id)) send(404, { message: 'Resource not found' }, 'ResourceNotFoundException');
  else if (verb && denyWrites) send(403, { message: 'not authorized' }, 'AccessDeniedException');
  else {
    if (verb) anchors.set(id, verb === 'enable');
    send(200, { trustAnchor: { trustAnchorId: id, name: 'ci-runners', enabled: anchors.get(id), source: { sourceType: 'CERTIFICATE_BUNDLE' } } });
  }
}

/** Every other request goes to the emulator as it came (its signature is for the emulator's host: moto checks none). */
function forward(req: IncomingMessage, res: ServerResponse): void {
  const target = new URL(req.url ?? '/', ENDPOINT);
  const upstream = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', () => res.writeHead(502).end());
  req.pipe(upstream);
}

beforeAll(async () => {
  server = createServer((req, res) =>
    / Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/rolesanywhere\/aws4_request/.test(String(req.headers.authorization ?? ''))
      ? answerRolesAnywhere(req, res)
      : forward(req, res),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fakeEndpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
beforeEach(() => {
  anchors.clear();
  seen.length = 0;
  denyWrites = false;
});

/** The handler with the function's environment, its endpoint the fake in front of the emulator. */
async function invoke(event: unknown, env: LambdaEnv) {
  const saved = process.env.AWS_ENDPOINT_URL;
  process.env.AWS_ENDPOINT_URL = fakeEndpoint;
  try {
    return await invokeHandler('trust-anchor-created', event, env);
  } finally {
    process.env.AWS_ENDPOINT_URL = saved;
  }
}

/** An anchor the fake holds, enabled, and the CreateTrustAnchor event that made it. */
function createdAnchor() {
  const id = randomUUID();
  anchors.set(id, true);
  const event = sampleEvent('trust-anchor-created', SAMPLE, {
    responseElements: { trustAnchor: { trustAnchorId: id, name: 'ci-runners', enabled: true } },
  });
  return { id, event };
}

describe('trust-anchor-created against a fake Roles Anywhere endpoint (moto serves none), the emulator behind it', () => {
  it('live, remediate on: reads the anchor, disables it, reads it back disabled, notifies; the reversal is the enable', async () => {
    const { id, event } = createdAnchor();

    const { record } = await invoke(event, stack.env('live', { rules: { 'trust-anchor-created': { remediate: true } } }));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'HIGH',
      actions: [{ api: 'RolesAnywhere.DisableTrustAnchor', status: 'done', params: { trustAnchorId: id }, verification: { ok: true } }],
      notification: { status: 'sent' },
    });
    expect(anchors.get(id)).toBe(false);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([`GET /trustanchor/${id}`, `POST /trustanchor/${id}/disable`, `GET /trustanchor/${id}`]);
    for (const { authorization } of seen) expect(authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=\w+\/\d{8}\/us-east-1\/rolesanywhere\/aws4_request, /);
    expect(await stack.received()).toMatchObject([{ attributes: { rule: 'trust-anchor-created', severity: 'HIGH', outcome: 'remediated', account: ACCOUNT } }]);

    const action = record.actions[0];
    if (!action) throw new Error('no action');
    const reversal = reversalOf(ACTION_TYPES, record, action);
    if (reversal.kind !== 'steps') throw new Error(`expected steps, got ${reversal.kind}`);
    const [step] = reversal.steps;
    if (!step) throw new Error('no step');
    expect(step.type.command(stepOfReverse(step))).toBe(`aws rolesanywhere enable-trust-anchor --trust-anchor-id '${id}' --region 'us-east-1'`);
  });

  it('live, remediate off (the default): reads, never writes, alerts with the command', async () => {
    const { id, event } = createdAnchor();

    const { record } = await invoke(event, stack.env('live'));

    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', actions: [], notification: { status: 'sent' } });
    expect(record.reason).toContain(`aws rolesanywhere disable-trust-anchor --trust-anchor-id '${id}' --region 'us-east-1'`);
    expect(anchors.get(id)).toBe(true);
    expect(seen.map((s) => s.method)).toEqual(['GET']);
  });

  it('live, the disable denied: failed, naming the IAM action, and the anchor is left as it was', async () => {
    const { id, event } = createdAnchor();
    denyWrites = true;

    const { record } = await invoke(event, stack.env('live', { rules: { 'trust-anchor-created': { remediate: true } } }));

    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'denied', permission: 'rolesanywhere:DisableTrustAnchor' } });
    expect(anchors.get(id)).toBe(true);
    expect(await stack.received()).toMatchObject([{ attributes: { outcome: 'failed' } }]);
  });
});
