import { createHash } from 'node:crypto';
import { Agent, createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP proxy in front of the emulator: it sees every request trailguard's clients send (to count the
 * writes AWS would have received) and can answer some of them with the errors AWS answers under load, before
 * forwarding (the call never landed) or after (the call landed, its response was lost).
 */

/** One request as the proxy understood it. */
export interface CallInfo {
  /** The SigV4 credential scope's service: `s3`, `ec2`, `dynamodb`, `cloudtrail`, `sns`, `sts`. */
  readonly service: string;
  /** The API operation: `PutPublicAccessBlock`, `PutItem`, `StartLogging`, … */
  readonly operation: string;
  /** What it is about: the bucket, the `sg-` group, the trail name, the state item's `pk`, the SNS subject. */
  readonly resource: string;
  /** `amz-sdk-invocation-id`: one per SDK command, the same for all its retries. */
  readonly command: string;
  readonly attempt: number;
  /** SHA-256 of the request body: the same write sent again has the same digest. */
  readonly bodyDigest: string;
}

/** How the proxy treats one request. */
export type Fault =
  | { readonly when: 'before'; readonly error: ErrorKind }
  | { readonly when: 'after'; readonly error: ErrorKind }
  /** No answer: the connection stays silent for `ms`, then is dropped (a hung endpoint). */
  | { readonly when: 'hang'; readonly ms: number };

/** Throttling (the service's own code and status) or a 5xx. */
export type ErrorKind = 'throttling' | 'server-error';

/** A request and what became of it. */
export interface ProxiedCall extends CallInfo {
  /** `refused`: answered with an error, never forwarded; `lost-response`: forwarded, then answered with an error. */
  readonly fault: 'none' | 'refused' | 'lost-response' | 'hung';
  readonly status: number;
  /** The start of an error answer's body (the emulator's own, or the fault's). */
  readonly error?: string;
}

/** Decides each request's fault from the request and every call before it (undefined: forward it as it is). */
export type FaultPlan = (call: CallInfo, before: readonly ProxiedCall[]) => Fault | undefined;

export interface AwsProxy {
  readonly url: string;
  /** Every request so far, in arrival order. */
  readonly calls: ProxiedCall[];
  /** Replaces the fault plan and forgets the calls seen so far. */
  reset(plan?: FaultPlan): void;
  close(): Promise<void>;
}

const NO_FAULTS: FaultPlan = () => undefined;

/** Starts the proxy on 127.0.0.1 (a random port), forwarding to `target`. */
export async function startAwsProxy(target: string): Promise<AwsProxy> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const calls: ProxiedCall[] = [];
  let plan: FaultPlan = NO_FAULTS;

  const hangs = new Set<ReturnType<typeof setTimeout>>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readAll(req);
    const info = describeCall(req, body);
    const fault = plan(info, calls);
    if (fault?.when === 'hang') {
      calls.push({ ...info, fault: 'hung', status: 0 });
      const timer = setTimeout(() => {
        hangs.delete(timer);
        res.destroy();
      }, fault.ms);
      hangs.add(timer);
      return;
    }
    if (fault?.when === 'before') {
      const error = errorFor(info, fault.error);
      calls.push({ ...info, fault: 'refused', status: error.status });
      return send(res, error);
    }
    const answer = await forward(upstream, agent, req, body);
    if (fault?.when === 'after') {
      const error = errorFor(info, fault.error);
      calls.push({ ...info, fault: 'lost-response', status: error.status });
      return send(res, error);
    }
    calls.push({ ...info, fault: 'none', status: answer.status, ...(answer.status >= 400 ? { error: answer.body.toString('utf8').slice(0, 300) } : {}) });
    return send(res, answer);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    reset(next = NO_FAULTS) {
      plan = next;
      calls.length = 0;
    },
    close: () =>
      new Promise((resolve) => {
        for (const timer of hangs) clearTimeout(timer);
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

function readAll(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

function forward(upstream: URL, agent: Agent, req: IncomingMessage, body: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const out = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      readAll(answer).then((data) => resolve({ status: answer.statusCode ?? 502, headers: passable(answer.headers), body: data }), reject);
    });
    out.on('error', reject);
    out.end(body);
  });
}

/** The upstream's headers minus framing (the proxy sends the whole body with its own length). */
function passable(headers: IncomingHttpHeaders): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || ['transfer-encoding', 'connection', 'keep-alive', 'content-length'].includes(name)) continue;
    kept[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return kept;
}

function send(res: ServerResponse, answer: Answer): void {
  res.writeHead(answer.status, { ...answer.headers, 'content-length': String(answer.body.length) });
  res.end(answer.body);
}

const header = (req: IncomingMessage, name: string) => {
  const value = req.headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
};

/** S3 sub-resources by query key, named as the API reference names their operations. */
const S3_SUBRESOURCES: Readonly<Record<string, string>> = {
  publicAccessBlock: 'PublicAccessBlock',
  policyStatus: 'BucketPolicyStatus',
  acl: 'BucketAcl',
  policy: 'BucketPolicy',
  tagging: 'BucketTagging',
  ownershipControls: 'BucketOwnershipControls',
};
const VERBS: Readonly<Record<string, string>> = { GET: 'Get', PUT: 'Put', DELETE: 'Delete', HEAD: 'Head', POST: 'Post' };

export function describeCall(req: IncomingMessage, body: Buffer): CallInfo {
  const service = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\//.exec(header(req, 'authorization'))?.[1] ?? 'unknown';
  const text = body.toString('utf8');
  const url = new URL(req.url ?? '/', 'http://proxy');
  const target = header(req, 'x-amz-target');
  const form = header(req, 'content-type').startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(text) : undefined;
  let operation: string;
  let resource = '';
  if (target) {
    // JSON protocols (DynamoDB, CloudTrail): `DynamoDB_20120810.PutItem`.
    operation = target.split('.').pop() ?? target;
    const json = parseJson(text);
    const pk = (json.Key as { pk?: { S?: string } } | undefined)?.pk?.S ?? (json.Item as { pk?: { S?: string } } | undefined)?.pk?.S;
    const name = typeof json.Name === 'string' ? json.Name.replace(/^arn:[^:]+:cloudtrail:[^:]*:\d+:trail\//, '') : undefined;
    resource = pk ?? name ?? '';
  } else if (form) {
    // Query protocols (EC2, SNS, STS): `Action=RevokeSecurityGroupIngress`.
    operation = form.get('Action') ?? 'unknown';
    resource = /sg-[0-9a-f]+/.exec(text)?.[0] ?? form.get('Subject') ?? '';
  } else {
    // S3 REST, path-style: /bucket?publicAccessBlock (the SDK adds x-id=<Operation> to most requests).
    const key = [...url.searchParams.keys()].find((k) => k !== 'x-id') ?? '';
    operation = url.searchParams.get('x-id') ?? `${VERBS[req.method ?? 'GET'] ?? req.method}${S3_SUBRESOURCES[key] ?? (key || 'Object')}`;
    resource = decodeURIComponent(url.pathname.split('/')[1] ?? '');
  }
  const attempt = Number(/attempt=(\d+)/.exec(header(req, 'amz-sdk-request'))?.[1] ?? 1);
  return { service, operation, resource, command: header(req, 'amz-sdk-invocation-id'), attempt, bodyDigest: createHash('sha256').update(body).digest('hex') };
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const xml = (status: number, body: string): Answer => ({ status, headers: { 'content-type': 'text/xml' }, body: Buffer.from(body) });

/** The error each service answers, in its protocol: what the SDK parses and the classifier sees from AWS. */
function errorFor(call: CallInfo, kind: ErrorKind): Answer {
  const throttled = kind === 'throttling';
  switch (call.service) {
    case 's3':
      return throttled
        ? xml(
            503,
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>proxy</RequestId></Error>',
          )
        : xml(
            500,
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>proxy</RequestId></Error>',
          );
    case 'ec2': {
      const code = throttled ? 'RequestLimitExceeded' : 'InternalError';
      return xml(
        throttled ? 503 : 500,
        `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${code}</Message></Error></Errors><RequestID>proxy</RequestID></Response>`,
      );
    }
    case 'dynamodb':
    case 'cloudtrail': {
      const prefix = call.service === 'dynamodb' ? 'com.amazonaws.dynamodb.v20120810#' : 'com.amazonaws.cloudtrail.v20131101#';
      const type = throttled ? 'ThrottlingException' : 'InternalServerError';
      return {
        status: throttled ? 400 : 500,
        headers: { 'content-type': call.service === 'dynamodb' ? 'application/x-amz-json-1.0' : 'application/x-amz-json-1.1', 'x-amzn-errortype': type },
        body: Buffer.from(JSON.stringify({ __type: `${prefix}${type}`, message: throttled ? 'Rate exceeded' : 'Internal server error' })),
      };
    }
    default: {
      // SNS, STS (AWS query protocol).
      const code = throttled ? 'Throttling' : 'InternalFailure';
      return xml(
        throttled ? 400 : 500,
        `<ErrorResponse><Error><Type>${throttled ? 'Sender' : 'Receiver'}</Type><Code>${code}</Code><Message>${throttled ? 'Rate exceeded' : 'Internal failure'}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>`,
      );
    }
  }
}

/** A number in [0, 1) from the seed and the parts: the same request in the same run gets the same answer. */
export function seeded(seed: string, ...parts: readonly (string | number)[]): number {
  const digest = createHash('sha256')
    .update([seed, ...parts].join('\u0000'))
    .digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}
