/**
 * A minimal IAM Roles Anywhere client: GetTrustAnchor, DisableTrustAnchor and EnableTrustAnchor, signed with SigV4 by
 * the SDK's own signer. Why not @aws-sdk/client-rolesanywhere: the registry's only release (3.332.0) is too old to
 * share the SDK core every other client here uses, and would add a second copy of it to the bundle.
 *
 * REST-JSON (docs/cloudtrail-shapes.md#roles-anywhere): `GET /trustanchor/{trustAnchorId}`, `POST
 * /trustanchor/{trustAnchorId}/disable` and `/enable`, no body; each answers `{"trustAnchor": {…}}`. Errors name their
 * code in the `x-amzn-errortype` header or the body's `__type`/`code`: they are given the SDK's error shape (`name`,
 * `$metadata.httpStatusCode`) so that shared/aws/errors.ts classifies them as any SDK call's. Signer, request type,
 * HTTP handler and hash are the ones shared/live-config/ssm-reader.ts uses, in every bundle already.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { HttpRequest } from '@smithy/core/protocols';
import { NodeHttpHandler, streamCollector } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider, HttpHandlerOptions, HttpResponse } from '@smithy/types';
import * as v from 'valibot';
import { AwsCallError } from '../errors.js';
import { ATTEMPT_TIMEOUT_MS, callTimeLeftMs, CONNECTION_TIMEOUT_MS, MAX_ATTEMPTS, type ClientOptions } from './client-options.js';
import { classifyAwsError } from './errors.js';
import { isRegionName } from './names.js';
import { Sha256 } from './sha256.js';

/** Roles Anywhere ids are UUIDs (a trust anchor's ARN ends in `trust-anchor/<id>`): nothing else reaches a URL path. */
const TRUST_ANCHOR_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isTrustAnchorId = (value: string): boolean => TRUST_ANCHOR_ID.test(value);

/** What trailguard reads of a trust anchor (the API's TrustAnchorDetail); the certificate itself is never kept. */
export interface TrustAnchor {
  readonly trustAnchorId: string;
  readonly name?: string;
  readonly enabled: boolean;
  readonly sourceType?: string;
}

/** The three calls, small enough for tests to fake; each throws an AwsCallError naming the API and the anchor. */
export interface RolesAnywhereClient {
  getTrustAnchor(trustAnchorId: string): Promise<TrustAnchor>;
  disableTrustAnchor(trustAnchorId: string): Promise<TrustAnchor>;
  enableTrustAnchor(trustAnchorId: string): Promise<TrustAnchor>;
}

/** The HTTP layer: @smithy/node-http-handler's shape, injectable in tests (as shared/live-config/ssm-reader.ts's). */
export interface RequestHandler {
  handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }>;
}

/** What tests replace; production uses the shared client settings (shared/aws/client-options.ts). */
export interface RolesAnywhereTuning {
  readonly credentials?: AwsCredentialIdentityProvider;
  readonly handler?: RequestHandler;
  /** How long one attempt may wait for its answer. @default ATTEMPT_TIMEOUT_MS */
  readonly attemptTimeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
}

const Detail = v.looseObject({
  trustAnchor: v.looseObject({
    trustAnchorId: v.string(),
    name: v.optional(v.string()),
    enabled: v.boolean(),
    source: v.optional(v.looseObject({ sourceType: v.optional(v.string()) })),
  }),
});

/** Backoff before retry n (from 0): up to base x 2^n, capped. Throttling waits longer, as the SDK does. */
const BACKOFF_BASE_MS = 100;
const THROTTLING_BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 2_000;

/**
 * The error a REST-JSON answer carries, in the SDK's shape (`name` = the code, `$metadata.httpStatusCode`) so that
 * classifyAwsError and mayHaveLanded judge it as an SDK call's: the code from `x-amzn-errortype`
 * (`ResourceNotFoundException:http://…`), else the body's `__type` (`ns#Code`) or `code`; a 429 without one is throttling.
 */
function wireError(status: number, body: string, headerType: string | undefined): Error {
  let parsed: { __type?: unknown; code?: unknown; message?: unknown; Message?: unknown } = {};
  try {
    parsed = (JSON.parse(body) ?? {}) as typeof parsed;
  } catch {
    // Not JSON (a gateway's page): the status decides the kind.
  }
  const rawType = headerType ?? (typeof parsed.__type === 'string' ? parsed.__type : typeof parsed.code === 'string' ? parsed.code : '');
  const code = rawType.split(':')[0]?.split('#').pop()?.trim() || (status === 429 ? 'TooManyRequestsException' : `HTTP${status}`);
  const message = typeof parsed.message === 'string' ? parsed.message : typeof parsed.Message === 'string' ? parsed.Message : '';
  return Object.assign(new Error(message.slice(0, 300)), { name: code, $metadata: { httpStatusCode: status } });
}

/** The regional endpoint: `rolesanywhere.<region>.amazonaws.com`, `.amazonaws.com.cn` in the China regions. */
export function rolesAnywhereEndpoint(region: string): string {
  return `https://rolesanywhere.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

type Operation = 'GetTrustAnchor' | 'DisableTrustAnchor' | 'EnableTrustAnchor';
const ROUTES: Readonly<Record<Operation, { readonly method: 'GET' | 'POST'; readonly suffix: string }>> = {
  GetTrustAnchor: { method: 'GET', suffix: '' },
  DisableTrustAnchor: { method: 'POST', suffix: '/disable' },
  EnableTrustAnchor: { method: 'POST', suffix: '/enable' },
};

function createClient(options: ClientOptions, tuning: RolesAnywhereTuning): RolesAnywhereClient {
  const sleep = tuning.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = tuning.random ?? Math.random;
  const attemptTimeoutMs = tuning.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS;
  let signer: SignatureV4 | undefined;
  let handler: RequestHandler | undefined;

  /** One attempt: sign, send, parse; an error answer becomes an error named by its code, with its status. */
  async function attempt(operation: Operation, id: string): Promise<TrustAnchor> {
    if (!options.endpoint && !isRegionName(options.region))
      throw new AwsCallError(`RolesAnywhere.${operation}`, id, 'invalid', 'InvalidRegion', 'not a Region name');
    const url = new URL(options.endpoint ?? rolesAnywhereEndpoint(options.region));
    signer ??= new SignatureV4({
      service: 'rolesanywhere',
      region: options.region,
      credentials: tuning.credentials ?? options.account?.credentials ?? defaultProvider(),
      sha256: Sha256,
    });
    handler ??=
      tuning.handler ?? new NodeHttpHandler({ connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: attemptTimeoutMs, throwOnRequestTimeout: true });
    const route = ROUTES[operation];
    const request = new HttpRequest({
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      method: route.method,
      // The id is a UUID (checked by the caller): nothing in it needs escaping.
      path: `${url.pathname.replace(/\/$/, '')}/trustanchor/${id}${route.suffix}`,
      headers: { host: url.host, accept: 'application/json' },
    });
    const signed = await signer.sign(request);
    // The invocation's deadline (withCallDeadline) ends an attempt in flight; the handler's own timeout ends the rest.
    const left = callTimeLeftMs();
    const deadline = left === undefined ? undefined : AbortSignal.timeout(Math.max(1, left));
    let response: HttpResponse;
    try {
      ({ response } = await handler.handle(signed as HttpRequest, deadline ? { abortSignal: deadline } : {}));
    } catch (error) {
      if (deadline?.aborted) throw Object.assign(new Error("the invocation's deadline has passed"), { name: 'DeadlineExceeded', $metadata: {}, cause: error });
      throw error;
    }
    // The SDK's own collector (in every bundle already); a test double may answer with a string.
    const text = typeof response.body === 'string' ? response.body : Buffer.from(await streamCollector(response.body)).toString('utf8');
    if (response.statusCode >= 300) throw wireError(response.statusCode, text, response.headers['x-amzn-errortype']);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // Left undefined: refused below as an answer without a trust anchor.
    }
    const detail = v.safeParse(Detail, json);
    if (!detail.success) {
      throw Object.assign(new Error('the answer holds no trustAnchor with its id and enabled'), {
        name: 'InvalidResponse',
        $metadata: { httpStatusCode: response.statusCode },
      });
    }
    const { trustAnchorId, name, enabled, source } = detail.output.trustAnchor;
    return { trustAnchorId, enabled, ...(name !== undefined ? { name } : {}), ...(source?.sourceType ? { sourceType: source.sourceType } : {}) };
  }

  /** One call: attempts until success, a fault that is not transient, MAX_ATTEMPTS, or a wait that would pass the deadline. */
  async function call(operation: Operation, id: string): Promise<TrustAnchor> {
    const api = `RolesAnywhere.${operation}`;
    // Dry-run refuses every write before it is signed or sent, as the SDK clients' guard does (client-options.ts).
    if (options.readOnly && ROUTES[operation].method !== 'GET')
      throw new AwsCallError(api, 'dry-run', 'invalid', 'DryRunWriteRefused', 'dry-run refuses every write');
    if (!isTrustAnchorId(id)) throw new AwsCallError(api, id, 'invalid', 'InvalidTrustAnchorId', 'not a trust anchor id (a UUID)');
    for (let retry = 0; ; retry += 1) {
      const before = callTimeLeftMs();
      if (before !== undefined && before <= 0) throw new AwsCallError(api, id, 'transient', 'DeadlineExceeded', "the invocation's deadline has passed");
      try {
        return await attempt(operation, id);
      } catch (error) {
        const classified = classifyAwsError(error, api, id);
        const left = callTimeLeftMs();
        // A transient failure as the invocation's deadline passed (a timeout at that moment): said so, as the SDK clients' guard does.
        if (classified.kind === 'transient' && classified.code !== 'DeadlineExceeded' && left !== undefined && left <= 0)
          throw new AwsCallError(api, id, 'transient', 'DeadlineExceeded', "the invocation's deadline has passed", { cause: error });
        if (classified.kind !== 'transient' || classified.code === 'DeadlineExceeded' || retry + 1 >= MAX_ATTEMPTS) throw classified;
        const base = /thrott|TooManyRequests/i.test(classified.code) ? THROTTLING_BACKOFF_BASE_MS : BACKOFF_BASE_MS;
        const wait = Math.floor(random() * Math.min(BACKOFF_CAP_MS, base * 2 ** retry));
        if (left !== undefined && wait >= left) throw classified;
        await sleep(wait);
      }
    }
  }

  return {
    getTrustAnchor: (id) => call('GetTrustAnchor', id),
    disableTrustAnchor: (id) => call('DisableTrustAnchor', id),
    enableTrustAnchor: (id) => call('EnableTrustAnchor', id),
  };
}

const clients = new Map<string, RolesAnywhereClient>();

/**
 * The Roles Anywhere client for a Region: cached per Region, endpoint (AWS_ENDPOINT_URL), dry-run and member account,
 * as the SDK factories are, and built on first use (never at import time).
 */
export function rolesAnywhereClient(options: ClientOptions, tuning: RolesAnywhereTuning = {}): RolesAnywhereClient {
  if (Object.keys(tuning).length > 0) return createClient(options, tuning);
  const account = options.account
    ? `${options.account.accountId}|${options.account.roleArn}|${options.account.sessionName}|${options.account.sessionPolicy}`
    : 'own';
  const key = `${options.region}|${options.endpoint ?? ''}|${options.readOnly ? 'ro' : 'rw'}|${account}`;
  let client = clients.get(key);
  if (!client) {
    client = createClient(options, tuning);
    clients.set(key, client);
  }
  return client;
}
