// A local HTTP endpoint that speaks the AWS wire protocols the functions use, for the init + first event bench
// (bench/first-event.ts): the real SDK in a child process signs, sends and parses over real HTTP, against
// AWS_ENDPOINT_URL pointing here. What it answers is a script: the answers bench/fake-aws.ts's stateful world
// gave each call when the same event was handled in-process (bench/first-event-record.ts), served per service
// and operation in the order they were recorded, so a remediation's read-back sees the fix, and the function
// and its SDK floor get the very same answers. A call the script does not hold is answered with an error and
// reported, which invalidates the measurement.
//
// Protocols: awsJson 1.0/1.1 (DynamoDB, CloudTrail, SSM), awsQuery (SNS), ec2Query (EC2), restXml (S3). The
// answers are the smallest bodies the SDK's deserializers read the recorded output back from (test/bench).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Answer } from './first-event-record.js';

/** One scripted answer: the call it answers (service as bench/fake-aws.ts names it, operation) and the answer. */
export interface ScriptedAnswer {
  readonly service: string;
  readonly operation: string;
  readonly answer: Answer;
}

/** What one script's session saw: calls answered from the script, script entries never asked, calls it could not answer. */
export interface Session {
  readonly served: readonly string[];
  readonly missing: readonly string[];
  readonly unexpected: readonly string[];
}

export interface FakeEndpoint {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Starts a session answering from `script` (the previous session must be finished). */
  serve(script: readonly ScriptedAnswer[]): void;
  /** Ends the session and says what it saw. */
  finish(): Session;
  close(): Promise<void>;
}

/** The SigV4 credential scope's service (`…/us-east-1/ec2/aws4_request`) → the name bench/fake-aws.ts uses. */
const SERVICES: Readonly<Record<string, string>> = {
  s3: 'S3',
  ec2: 'EC2',
  cloudtrail: 'CloudTrail',
  sns: 'SNS',
  dynamodb: 'DynamoDB',
  ssm: 'SSM',
};

/** S3's restXml operations the functions call, by method and subresource. */
const S3_OPERATIONS: Readonly<Record<string, string>> = {
  'GET publicAccessBlock': 'GetPublicAccessBlock',
  'PUT publicAccessBlock': 'PutPublicAccessBlock',
  'DELETE publicAccessBlock': 'DeletePublicAccessBlock',
  'GET policyStatus': 'GetBucketPolicyStatus',
};

const REQUEST_ID = '00000000-0000-4000-8000-0000000fe1d0';

interface Wire {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Which call a request is: its service (from the signature's scope) and operation (per protocol). */
export function identify(method: string, url: URL, headers: IncomingMessage['headers'], body: string): { service: string; operation: string } {
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(String(headers.authorization ?? ''));
  const service = SERVICES[scope?.[1] ?? ''];
  if (!service) throw new Error(`no known service in the request's signature: ${String(headers.authorization ?? 'unsigned').slice(0, 120)}`);
  const target = headers['x-amz-target'];
  if (typeof target === 'string') return { service, operation: target.slice(target.lastIndexOf('.') + 1) };
  if (service === 'S3') {
    const subresource = [...url.searchParams.keys()].find((key) => S3_OPERATIONS[`${method} ${key}`] !== undefined);
    const operation = url.searchParams.get('x-id') ?? (subresource ? S3_OPERATIONS[`${method} ${subresource}`] : undefined);
    if (!operation) throw new Error(`an S3 request the fake endpoint does not know: ${method} ${url.pathname}${url.search}`);
    return { service, operation };
  }
  const action = new URLSearchParams(body).get('Action');
  if (!action) throw new Error(`a ${service} request with neither X-Amz-Target nor Action`);
  return { service, operation: action };
}

const escapeXml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** `value` as XML elements, each key renamed by `name`; a list is `<item>`s (EC2) or repeated `member` elements. */
function xml(value: unknown, name: (key: string) => string, listItem: string): string {
  if (Array.isArray(value)) return value.map((item) => `<${listItem}>${xml(item, name, listItem)}</${listItem}>`).join('');
  if (value !== null && typeof value === 'object')
    return Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .map(([key, item]) => `<${name(key)}>${xml(item, name, listItem)}</${name(key)}>`)
      .join('');
  return escapeXml(String(value));
}

// EC2's wire names are its members' names with a lower-case first letter, but for these (the ec2Name traits of
// the shapes the functions read).
const EC2_NAMES: Readonly<Record<string, string>> = {
  SecurityGroups: 'securityGroupInfo',
  SecurityGroupRules: 'securityGroupRuleSet',
  Reservations: 'reservationSet',
  Instances: 'instancesSet',
  Tags: 'tagSet',
  BlockDeviceMappings: 'blockDeviceMapping',
  State: 'instanceState',
};
const ec2Name = (key: string) => EC2_NAMES[key] ?? `${key.charAt(0).toLowerCase()}${key.slice(1)}`;

// S3's answers whose output is one XML payload member: the member is the document's root.
const S3_PAYLOADS: Readonly<Record<string, string>> = {
  GetPublicAccessBlock: 'PublicAccessBlockConfiguration',
  GetBucketPolicyStatus: 'PolicyStatus',
};
const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** The wire form of a scripted answer in the service's protocol. */
export function encode(service: string, operation: string, answer: Answer): Wire {
  const xmlHeaders = { 'content-type': 'text/xml', 'x-amzn-requestid': REQUEST_ID };
  switch (service) {
    case 'DynamoDB':
    case 'CloudTrail':
    case 'SSM': {
      const type = `application/x-amz-json-${service === 'DynamoDB' ? '1.0' : '1.1'}`;
      if ('error' in answer)
        return {
          status: answer.status,
          headers: { 'content-type': type, 'x-amzn-requestid': REQUEST_ID, 'x-amzn-errortype': answer.error.name },
          body: JSON.stringify({ __type: answer.error.name, message: answer.error.message }),
        };
      return { status: 200, headers: { 'content-type': type, 'x-amzn-requestid': REQUEST_ID }, body: JSON.stringify(answer.output) };
    }
    case 'SNS': {
      if ('error' in answer)
        return {
          status: answer.status,
          headers: xmlHeaders,
          body: `<ErrorResponse><Error><Type>Sender</Type><Code>${escapeXml(answer.error.name)}</Code><Message>${escapeXml(answer.error.message)}</Message></Error><RequestId>${REQUEST_ID}</RequestId></ErrorResponse>`,
        };
      const result = xml(answer.output, (key) => key, 'member');
      return {
        status: 200,
        headers: xmlHeaders,
        body: `<${operation}Response xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><${operation}Result>${result}</${operation}Result><ResponseMetadata><RequestId>${REQUEST_ID}</RequestId></ResponseMetadata></${operation}Response>`,
      };
    }
    case 'EC2': {
      if ('error' in answer)
        return {
          status: answer.status,
          headers: xmlHeaders,
          body: `<Response><Errors><Error><Code>${escapeXml(answer.error.name)}</Code><Message>${escapeXml(answer.error.message)}</Message></Error></Errors><RequestID>${REQUEST_ID}</RequestID></Response>`,
        };
      const result = xml(answer.output, ec2Name, 'item');
      return {
        status: 200,
        headers: xmlHeaders,
        body: `<${operation}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${REQUEST_ID}</requestId>${result}</${operation}Response>`,
      };
    }
    case 'S3': {
      const headers = { 'content-type': 'application/xml', 'x-amz-request-id': REQUEST_ID };
      if ('error' in answer) {
        // S3 answers a missing configuration with 404, whatever status the in-process fake gave it.
        const status = answer.error.name.startsWith('NoSuch') ? 404 : answer.status;
        return {
          status,
          headers,
          body: `<Error><Code>${escapeXml(answer.error.name)}</Code><Message>${escapeXml(answer.error.message)}</Message><RequestId>${REQUEST_ID}</RequestId></Error>`,
        };
      }
      const payload = S3_PAYLOADS[operation];
      if (payload === undefined) {
        if (Object.keys(answer.output).length > 0) throw new Error(`the fake endpoint cannot encode S3.${operation}'s output`);
        return { status: 200, headers, body: '' };
      }
      const root = answer.output[payload];
      return { status: 200, headers, body: `<${payload} xmlns="${S3_NS}">${xml(root, (key) => key, 'member')}</${payload}>` };
    }
    default:
      throw new Error(`the fake endpoint speaks no protocol of ${service}`);
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** Starts the endpoint on a free local port. */
export async function startFakeEndpoint(): Promise<FakeEndpoint> {
  let pending: (ScriptedAnswer & { label: string })[] | undefined;
  let served: string[] = [];
  let unexpected: string[] = [];
  const reply = (response: ServerResponse, wire: Wire) => {
    response.writeHead(wire.status, { ...wire.headers, 'content-length': String(Buffer.byteLength(wire.body)) });
    response.end(wire.body);
  };
  const server: Server = createServer(async (request, response) => {
    const body = await readBody(request);
    let label = `${request.method} ${request.url}`;
    try {
      const { service, operation } = identify(request.method ?? 'GET', new URL(request.url ?? '/', 'http://localhost'), request.headers, body);
      label = `${service}.${operation}`;
      const index = pending?.findIndex((entry) => entry.label === label) ?? -1;
      const entry = pending?.[index];
      if (!pending || !entry) throw new Error(`no scripted answer for ${label}`);
      pending.splice(index, 1);
      served.push(label);
      reply(response, encode(service, operation, entry.answer));
    } catch (error) {
      unexpected.push(`${label}: ${(error as Error).message}`);
      // An error no SDK retries (4xx, not throttling): the run fails fast, and the session reports why.
      reply(response, {
        status: 400,
        headers: { 'content-type': 'text/plain', 'x-amzn-errortype': 'FakeEndpointUnexpectedCall' },
        body: (error as Error).message,
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    serve(script) {
      if (pending) throw new Error('the fake endpoint is still serving a session');
      pending = script.map((entry) => ({ ...entry, label: `${entry.service}.${entry.operation}` }));
      served = [];
      unexpected = [];
    },
    finish() {
      const session = { served, missing: (pending ?? []).map((entry) => entry.label), unexpected };
      pending = undefined;
      return session;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
