// Records, per rule, every AWS call its Lambda handler makes for its bench sample in live mode, with the
// call's input and the answer it got: the real handler (TypeScript, through tsx) with every call answered
// in-process by bench/fake-aws.ts's stateful world, so a write changes what the read-back sees. The calls are
// recorded once; bench/first-event.ts then replays the answers over HTTP (bench/fake-endpoint.ts) to the
// bundled function, and the same calls, same inputs, same answers to its SDK floor.
// Usage: node --import tsx bench/first-event-record.ts [rule…]; prints one JSON line (FirstEventRecording).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SNSClient } from '@aws-sdk/client-sns';
import type { HttpRequest } from '@smithy/core/protocols';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { HttpHandlerOptions } from '@smithy/types';
import { RULES } from '../functions/rules.js';
import { logger } from '../shared/log.js';
import { installFakeAws, World, worldFor } from './fake-aws.js';
import { BENCH_SAMPLES, expectedOutcome, PRIOR_EVENTS, PRIOR_EVENTS_VARY, variedEvent } from './minimums.js';
import { lambdaEnv } from './warm.js';

/**
 * The live configuration's prefix, as serverless.yml gives it (/${self:service}/${sls:stage}): stage prod, the one
 * config-store-change's sample writes to (a change under another stage's prefix is not its alert).
 */
export const BENCH_PARAMETER_PREFIX = '/trailguard/prod';

/** The environment of a packaged function in live mode: bench/warm.ts's, with the live configuration's prefix. */
export function packagedEnv(): Record<string, string> {
  return { ...lambdaEnv('live'), TRAILGUARD_PARAMETER_PREFIX: BENCH_PARAMETER_PREFIX, TRAILGUARD_CONFIG_MAX_AGE_SECONDS: '60' };
}

/** What a call was answered: an SDK output (without $metadata), or an error with its HTTP status. */
export type Answer =
  | { readonly status: 200; readonly output: Record<string, unknown> }
  | { readonly status: number; readonly error: { readonly name: string; readonly message: string } };

/** One AWS call of a handled event. */
export interface RecordedCall {
  /** The client's service as fake-aws names it (S3, EC2, CloudTrail, SNS, DynamoDB, Scheduler), or SSM. */
  readonly service: string;
  /** `GetPublicAccessBlock` */
  readonly operation: string;
  /** The SDK client class and command class (`S3Client`, `GetPublicAccessBlockCommand`); absent for a raw call. */
  readonly client?: string;
  readonly command?: string;
  /**
   * A hand-written signed HTTP call (shared/live-config/ssm-reader.ts: the live configuration, and
   * config-store-change's GetParameter), not an SDK client's: it has no command to replay.
   */
  readonly raw: boolean;
  /** Calls started while another was in flight share its step (Promise.all), as the floor will send them. */
  readonly step: number;
  readonly input: unknown;
  readonly answer: Answer;
}

export interface RuleRecording {
  readonly rule: string;
  readonly sample: string;
  /** events/<rule>/<sample>.json, from the project root. */
  readonly event: string;
  readonly outcome: string;
  readonly expected: string;
  readonly calls: readonly RecordedCall[];
}

export interface FirstEventRecording {
  /** The environment the calls were recorded in: the children get the same (plus AWS_ENDPOINT_URL). */
  readonly env: Readonly<Record<string, string>>;
  readonly rules: readonly RuleRecording[];
}

const CLIENTS = [
  ['S3', S3Client],
  ['EC2', EC2Client],
  ['CloudTrail', CloudTrailClient],
  ['SNS', SNSClient],
  ['DynamoDB', DynamoDBClient],
  ['Scheduler', SchedulerClient],
] as const;

/** Throws unless `value` survives JSON unchanged: an input or answer is replayed from JSON. */
function assertPlain(value: unknown, where: string): void {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return;
  if (value === undefined) return;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) assertPlain(item, `${where}[${index}]`);
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) assertPlain(item, `${where}.${key}`);
    return;
  }
  throw new Error(`${where} is no plain JSON value (${Object.prototype.toString.call(value)}): the first-event bench cannot replay it`);
}

const errorAnswer = (error: unknown): Answer => {
  const e = error as { name?: unknown; message?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : 400;
  return { status, error: { name: String(e.name ?? 'Error'), message: String(e.message ?? '') } };
};

/** The live configuration as the stack creates it: `<prefix>/rules` holding `{}`, no exemption in any folder. */
function liveConfigAnswer(operation: string, input: { Names?: string[] }): Record<string, unknown> | undefined {
  if (operation === 'GetParametersByPath') return { Parameters: [] };
  if (operation === 'GetParameters' && input.Names?.every((name) => name === `${BENCH_PARAMETER_PREFIX}/rules`))
    return { Parameters: input.Names.map((Name) => ({ Name, Type: 'String', Value: '{}', Version: 1 })), InvalidParameters: [] };
  return undefined;
}

type Handler = (event: unknown, context: unknown) => Promise<{ outcome: string; reason: string }>;

const context = {
  awsRequestId: '00000000-0000-4000-8000-000000000001',
  functionName: 'trailguard-dev-bench',
  getRemainingTimeInMillis: () => 30_000,
  callbackWaitsForEmptyEventLoop: true,
};

/**
 * Handles each rule's bench sample once in live mode (after its uncounted prior events, bench/minimums.ts) and
 * records its calls. Installs the in-process fake for good: run it in a process of its own (the bench does).
 */
export async function recordFirstEvents(only: readonly string[] = []): Promise<FirstEventRecording> {
  const env = packagedEnv();
  Object.assign(process.env, env);
  let world = new World('111122223333', 'us-east-1', {});
  const fake = installFakeAws(() => world);
  fake.counting = false;
  logger.setSink(() => undefined);
  let calls: RecordedCall[] = [];
  let inFlight = 0;
  let step = -1;
  const record = async (call: Omit<RecordedCall, 'step' | 'answer'>, answer: () => Promise<{ answer: Answer; result: () => unknown }>) => {
    if (!fake.counting) return (await answer()).result();
    assertPlain(call.input, `${call.service}.${call.operation} input`);
    if (inFlight === 0) step += 1;
    const at = step;
    inFlight += 1;
    try {
      const got = await answer();
      if ('output' in got.answer) assertPlain(got.answer.output, `${call.service}.${call.operation} answer`);
      calls.push({ ...call, step: at, answer: got.answer });
      return got.result();
    } finally {
      inFlight -= 1;
    }
  };
  for (const [service, Client] of CLIENTS) {
    const prototype = Client.prototype as unknown as { send: (command: unknown) => Promise<unknown> };
    const faked = prototype.send;
    prototype.send = function send(this: unknown, command: unknown) {
      const { constructor: Command, input } = command as { constructor: { name: string }; input: unknown };
      const operation = Command.name.replace(/Command$/, '');
      return record({ service, operation, client: Client.name, command: Command.name, raw: false, input }, async () => {
        try {
          const output = (await faked.call(this, command)) as Record<string, unknown>;
          return { answer: { status: 200, output }, result: () => output };
        } catch (error) {
          return {
            answer: errorAnswer(error),
            result: () => {
              throw error;
            },
          };
        }
      });
    };
  }
  // The hand-written SSM calls reach NodeHttpHandler (fake-aws answers them there, after signing).
  const fakedHandle = NodeHttpHandler.prototype.handle;
  NodeHttpHandler.prototype.handle = function handle(this: NodeHttpHandler, request: HttpRequest, options?: HttpHandlerOptions) {
    const target = String(request.headers['x-amz-target'] ?? '');
    if (!target.startsWith('AmazonSSM.')) return fakedHandle.call(this, request, options);
    const operation = target.slice('AmazonSSM.'.length);
    const input = JSON.parse(String(request.body)) as { Names?: string[] };
    return record({ service: 'SSM', operation, raw: true, input }, async () => {
      const own = liveConfigAnswer(operation, input);
      const { response } = own
        ? { response: { statusCode: 200, body: JSON.stringify(own), headers: {} } }
        : ((await fakedHandle.call(this, request, options)) as { response: { statusCode: number; body: string; headers: object } });
      const body = JSON.parse(String(response.body)) as Record<string, unknown>;
      const answer: Answer =
        response.statusCode === 200
          ? { status: 200, output: body }
          : { status: response.statusCode, error: { name: String(body.__type ?? 'Error'), message: String(body.message ?? '') } };
      return { answer, result: () => ({ response }) };
    }) as ReturnType<NodeHttpHandler['handle']>;
  };

  const rules: RuleRecording[] = [];
  for (const rule of RULES.filter((r) => only.length === 0 || only.includes(r.id))) {
    const sample = BENCH_SAMPLES[rule.id];
    const event = join('events', rule.id, `${sample}.json`);
    const text = readFileSync(join(import.meta.dirname, '..', event), 'utf8');
    // The prior events in a container of their own (a module instance of their own): the measured event is a
    // cold container's first, which reads the live configuration, as in the child that handles it alone.
    const prior = (await import(`../functions/${rule.id}/handler.js?prior`)) as { handler: Handler };
    const { handler } = (await import(`../functions/${rule.id}/handler.js`)) as { handler: Handler };
    world = worldFor(JSON.parse(text));
    const vary = PRIOR_EVENTS_VARY[rule.id];
    for (let i = 0; i < (PRIOR_EVENTS[rule.id] ?? 0); i += 1) await prior.handler(vary ? variedEvent(JSON.parse(text), vary, i) : JSON.parse(text), context);
    calls = [];
    step = -1;
    fake.counting = true;
    const result = await handler(JSON.parse(text), context);
    fake.counting = false;
    rules.push({ rule: rule.id, sample, event, outcome: result.outcome, expected: expectedOutcome(rule.id, 'live'), calls });
  }
  return { env, rules };
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  process.stdout.write(`${JSON.stringify(await recordFirstEvents(process.argv.slice(2)))}\n`);
}
