/**
 * A minimal SSM Parameter Store reader for the Lambdas: exactly GetParameters and GetParametersByPath over the
 * awsJson1_1 protocol, signed with SigV4. @aws-sdk/client-ssm adds ~18 KB zipped to every bundle (its error classes
 * register at import), and Powertools Parameters wraps that same client, so neither fits the bundle budget
 * (docs/performance.md); the signer, request type, HTTP handler and hash used here are in every bundle already.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { HttpRequest } from '@smithy/core/protocols';
import { NodeHttpHandler, streamCollector } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider, HttpHandlerOptions, HttpResponse } from '@smithy/types';
import { ATTEMPT_TIMEOUT_MS, CONNECTION_TIMEOUT_MS, MAX_ATTEMPTS } from '../aws/client-options.js';
import { classifyAwsError } from '../aws/errors.js';
import { AwsCallError } from '../errors.js';
import { Sha256 } from '../aws/sha256.js';

/** One parameter as read: its full name, its value (attacker-controlled text until validated) and its version. */
export interface StoredParameter {
  readonly name: string;
  readonly value: string;
  readonly version: number;
}

/** What the live configuration reads from Parameter Store; injected, so tests need no network. */
export interface ParameterReader {
  /** The named parameters that exist, and the names that do not (InvalidParameters). */
  getParameters(names: readonly string[], deadline?: number): Promise<{ readonly found: readonly StoredParameter[]; readonly missing: readonly string[] }>;
  /** Every parameter directly in a folder (non-recursive), all pages. */
  getParametersByPath(path: string, deadline?: number): Promise<readonly StoredParameter[]>;
}

/** One parameter by name (GetParameter, ssm:GetParameter), or undefined when there is none: the config-store-change alert's read. */
export interface ParameterGetter {
  getParameter(name: string, deadline?: number): Promise<StoredParameter | undefined>;
}

/** The HTTP layer: @smithy/node-http-handler's shape, injectable in tests. */
export interface RequestHandler {
  handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }>;
}

/** Where and as whom the reader calls. */
export interface SsmReaderOptions {
  readonly region: string;
  /** AWS_ENDPOINT_URL when set (moto, LocalStack); else the regional endpoint. */
  readonly endpoint?: string | undefined;
  readonly credentials?: AwsCredentialIdentityProvider;
  readonly handler?: RequestHandler;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). @default Math.random */
  readonly random?: () => number;
}

/** GetParametersByPath's page size: SSM's maximum. */
export const PAGE_SIZE = 10;
/**
 * Pages read of one folder at most: 2,000 exemptions for one rule, twice the scale the bench decides within. A
 * folder that never ends is a fault, not a configuration (an account holds 10,000 standard parameters per Region).
 */
export const MAX_PAGES = 200;
/** Backoff before retry n (from 0): up to base x 2^n, capped. Throttling waits longer, as the SDK does. */
const BACKOFF_BASE_MS = 100;
const THROTTLING_BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 2_000;

/** The regional endpoint: `ssm.<region>.amazonaws.com`, `.amazonaws.com.cn` in the China regions. */
export function ssmEndpoint(region: string): string {
  return `https://ssm.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

interface WireParameter {
  readonly Name?: unknown;
  readonly Value?: unknown;
  readonly Version?: unknown;
}

/** The parameters of an answer, each with a string name and value and a numeric version; others are left out. */
function parametersOf(list: unknown): StoredParameter[] {
  if (!Array.isArray(list)) return [];
  return (list as WireParameter[])
    .filter((p) => typeof p?.Name === 'string' && typeof p.Value === 'string' && typeof p.Version === 'number')
    .map((p) => ({ name: p.Name as string, value: p.Value as string, version: p.Version as number }));
}

/** The error an awsJson1_1 answer carries: `__type` (`com.amazonaws…#ThrottlingException`) and `message`. */
function wireError(status: number, body: string, headerType: string | undefined): Error & { $metadata: { httpStatusCode: number } } {
  let parsed: { __type?: unknown; message?: unknown; Message?: unknown } = {};
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    // Not JSON (a gateway's page): the status decides the kind.
  }
  const rawType = typeof parsed.__type === 'string' ? parsed.__type : (headerType ?? '');
  const code = rawType.split('#').pop()?.split(':')[0] || `HTTP${status}`;
  const message = typeof parsed.message === 'string' ? parsed.message : typeof parsed.Message === 'string' ? parsed.Message : '';
  return Object.assign(new Error(message.slice(0, 300)), { name: code, $metadata: { httpStatusCode: status } });
}

/** A Parameter Store reader over awsJson1_1 (see the module comment). Nothing is created until the first call. */
export function ssmReader(options: SsmReaderOptions): ParameterReader & ParameterGetter {
  const url = new URL(options.endpoint ?? ssmEndpoint(options.region));
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  let signer: SignatureV4 | undefined;
  let handler: RequestHandler | undefined;

  /** One attempt: sign, send, parse; an error answer becomes an error named by its code, with its status. */
  async function attempt(operation: string, input: object, deadline: number | undefined): Promise<Record<string, unknown>> {
    signer ??= new SignatureV4({
      service: 'ssm',
      region: options.region,
      credentials: options.credentials ?? defaultProvider(),
      sha256: Sha256,
    });
    handler ??=
      options.handler ?? new NodeHttpHandler({ connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: ATTEMPT_TIMEOUT_MS, throwOnRequestTimeout: true });
    const body = JSON.stringify(input);
    const request = new HttpRequest({
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      method: 'POST',
      path: url.pathname || '/',
      headers: {
        host: url.host,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AmazonSSM.${operation}`,
        'content-length': String(Buffer.byteLength(body)),
      },
      body,
    });
    const signed = await signer.sign(request);
    const left = deadline === undefined ? undefined : deadline - now();
    const { response } = await handler.handle(signed as HttpRequest, left === undefined ? {} : { abortSignal: AbortSignal.timeout(Math.max(1, left)) });
    // The SDK's own collector (in every bundle already); a test double may answer with a string.
    const text = typeof response.body === 'string' ? response.body : Buffer.from(await streamCollector(response.body)).toString('utf8');
    if (response.statusCode >= 300) throw wireError(response.statusCode, text, response.headers['x-amzn-errortype']);
    try {
      return JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw Object.assign(new Error('the answer is not JSON'), { name: 'InvalidResponse', $metadata: { httpStatusCode: response.statusCode }, cause: error });
    }
  }

  /** One call: attempts until success, a fault that is not transient, MAX_ATTEMPTS, or a wait that would pass the deadline. */
  async function call(operation: string, input: object, resource: string, deadline: number | undefined): Promise<Record<string, unknown>> {
    for (let retry = 0; ; retry += 1) {
      if (deadline !== undefined && now() >= deadline) {
        throw new AwsCallError(`SSM.${operation}`, resource, 'transient', 'DeadlineExceeded', "the invocation's deadline has passed");
      }
      try {
        return await attempt(operation, input, deadline);
      } catch (error) {
        const classified = classifyAwsError(error, `SSM.${operation}`, resource);
        if (classified.kind !== 'transient' || retry + 1 >= MAX_ATTEMPTS) throw classified;
        const base = /thrott/i.test(classified.code) ? THROTTLING_BACKOFF_BASE_MS : BACKOFF_BASE_MS;
        const wait = Math.floor(random() * Math.min(BACKOFF_CAP_MS, base * 2 ** retry));
        if (deadline !== undefined && now() + wait >= deadline) throw classified;
        await sleep(wait);
      }
    }
  }

  return {
    async getParameter(name, deadline) {
      try {
        const answer = await call('GetParameter', { Name: name, WithDecryption: false }, name, deadline);
        return parametersOf([answer.Parameter])[0];
      } catch (error) {
        if (error instanceof AwsCallError && error.code === 'ParameterNotFound') return undefined;
        throw error;
      }
    },
    async getParameters(names, deadline) {
      const answer = await call('GetParameters', { Names: names, WithDecryption: false }, names.join(','), deadline);
      const missing = Array.isArray(answer.InvalidParameters) ? answer.InvalidParameters.filter((n): n is string => typeof n === 'string') : [];
      return { found: parametersOf(answer.Parameters), missing };
    },
    async getParametersByPath(path, deadline) {
      const found: StoredParameter[] = [];
      let token: string | undefined;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const input = { Path: path, Recursive: false, WithDecryption: false, MaxResults: PAGE_SIZE, ...(token ? { NextToken: token } : {}) };
        const answer = await call('GetParametersByPath', input, path, deadline);
        found.push(...parametersOf(answer.Parameters));
        token = typeof answer.NextToken === 'string' && answer.NextToken.length > 0 ? answer.NextToken : undefined;
        if (!token) return found;
      }
      throw new AwsCallError('SSM.GetParametersByPath', path, 'invalid', 'TooManyPages', `more than ${MAX_PAGES * PAGE_SIZE} parameters in one folder`);
    },
  };
}
