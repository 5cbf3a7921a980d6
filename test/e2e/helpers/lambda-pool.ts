import type { Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { vi } from 'vitest';
import type { RuleId } from '../../../shared/config.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { ACCOUNT, REGION } from './emulator.js';
import { withLambdaEnv, type LambdaEnv } from './invoke.js';

/**
 * Lambda's asynchronous invocation model, in-process: each function gets `concurrency` containers (each its own
 * module graph, so its own config, SDK clients and retry state, as separate Lambda environments have), each
 * container runs one invocation at a time with a Lambda-like context and deadline, and an invocation that
 * throws is invoked again later, up to `retries` times, then dead-lettered.
 */

/** One EventBridge delivery to one function. */
export interface Delivery {
  readonly rule: RuleId;
  readonly event: { readonly id: string; readonly detail: { readonly eventID: string } };
}

/** One invocation and what it wrote. */
export interface Invocation {
  readonly rule: RuleId;
  /** Index of the delivery in the input list. */
  readonly delivery: number;
  /** 0 for the delivery itself, then Lambda's retries. */
  readonly attempt: number;
  readonly ms: number;
  readonly threw: boolean;
  /** It reached the deadline: middy ended it with a Timeout error, as Lambda would have killed it. */
  readonly timedOut: boolean;
  /** The remediation-log records this invocation wrote (the runner promises exactly one). */
  readonly records: readonly RemediationRecord[];
}

export interface PoolOptions {
  /** Invocations in flight per function. */
  readonly concurrency: number;
  /** The function timeout the context's getRemainingTimeInMillis counts down from. */
  readonly timeoutMs: number;
  /** Lambda's retries of a failed asynchronous invocation (its default is 2). */
  readonly retries: number;
  /** Delay before the first retry; the second waits twice as long (Lambda: about 1 min, then 2 min). */
  readonly retryDelayMs: number;
  /** Extra environment of the functions (AWS_ENDPOINT_URL, TRAILGUARD_RELIABILITY). */
  readonly variables?: Readonly<Record<string, string>>;
}

export interface PoolRun {
  readonly invocations: readonly Invocation[];
  /** Deliveries whose every try threw: Lambda's on-failure destination (the dead-letter queue) gets them. */
  readonly deadLettered: readonly number[];
  readonly startedAt: number;
  readonly endedAt: number;
  /** Records written, by the end of the run, by invocations that had already timed out (Lambda would have killed them). */
  readonly recordsAfterKill: readonly RemediationRecord[];
}

/** middy's `timeoutEarlyInMillis` default: it rejects this long before the context's deadline. */
const TIMEOUT_EARLY_MS = 5;

type Handler = (event: unknown, context: Context) => Promise<unknown>;

// Static imports only (as in invoke.ts): the module graph sees each handler.
const HANDLERS: Partial<Record<RuleId, () => Promise<{ handler: Handler }>>> = {
  'public-bucket': () => import('../../../functions/public-bucket/handler.js'),
  'open-security-group': () => import('../../../functions/open-security-group/handler.js'),
  'trail-logging': () => import('../../../functions/trail-logging/handler.js'),
};

interface Container {
  readonly handler: Handler;
  /** The records written since the last call. */
  readonly take: () => RemediationRecord[];
}

/** A cold start: a fresh module graph, config from the environment on first use, the log captured. */
async function startContainer(rule: RuleId): Promise<Container> {
  const load = HANDLERS[rule];
  if (!load) throw new Error(`lambda-pool: no handler import for ${rule}`);
  vi.resetModules();
  const { resetProcessConfig } = await import('../../../shared/config.js');
  resetProcessConfig();
  const { logger } = await import('../../../shared/log.js');
  const { RECORD_MESSAGE } = await import('../../../shared/remediation-log.js');
  const written: RemediationRecord[] = [];
  logger.setSink((line) => {
    const parsed = JSON.parse(line) as { message?: unknown } & RemediationRecord;
    if (parsed.message === RECORD_MESSAGE) written.push(parsed);
  });
  const { handler } = await load();
  return { handler, take: () => written.splice(0) };
}

/** The context Lambda passes: the time left counts down to this invocation's deadline. */
function lambdaContext(rule: RuleId, deadline: number, awsRequestId: string): Context {
  const functionName = `trailguard-e2e-${rule}`;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'e2e',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  } as Context;
}

interface Queued {
  readonly delivery: number;
  readonly attempt: number;
  readonly notBefore: number;
}

/** Delivers every event to its function's containers, `concurrency` in flight per function, and simulates Lambda's retries. */
export async function deliverConcurrently(deliveries: readonly Delivery[], env: LambdaEnv, options: PoolOptions): Promise<PoolRun> {
  return withLambdaEnv(env, async () => {
    // Restored by withLambdaEnv afterwards, like the rest of the Lambda environment.
    Object.assign(process.env, options.variables ?? {});
    const rules = [...new Set(deliveries.map((d) => d.rule))];
    const invocations: Invocation[] = [];
    const deadLettered: number[] = [];
    const requestIds = deliveries.map(() => randomUUID());
    const queues = new Map<RuleId, Queued[]>(rules.map((rule) => [rule, []]));
    for (const [index, d] of deliveries.entries()) queues.get(d.rule)?.push({ delivery: index, attempt: 0, notBefore: 0 });
    const containers: [RuleId, Container][] = [];
    for (const rule of rules) for (let i = 0; i < options.concurrency; i += 1) containers.push([rule, await startContainer(rule)]);
    const inFlight = new Map<RuleId, number>(rules.map((rule) => [rule, 0]));
    const startedAt = Date.now();

    const killed: Container[] = [];

    const worker = async (rule: RuleId, first: Container) => {
      let container = first;
      const queue = queues.get(rule) ?? [];
      for (;;) {
        const now = Date.now();
        const next = queue.findIndex((q) => q.notBefore <= now);
        if (next < 0) {
          if (queue.length === 0 && (inFlight.get(rule) ?? 0) === 0) return;
          await sleep(10);
          continue;
        }
        const [item] = queue.splice(next, 1);
        if (!item) continue;
        inFlight.set(rule, (inFlight.get(rule) ?? 0) + 1);
        const started = Date.now();
        // Lambda's retries of one asynchronous invocation keep its request id.
        const context = lambdaContext(rule, started + options.timeoutMs, requestIds[item.delivery] ?? randomUUID());
        // middy ends the invocation with a Timeout error just before the deadline, as Lambda would kill it.
        const threw = await container.handler(deliveries[item.delivery]?.event, context).then(
          () => false,
          () => true,
        );
        const ms = Date.now() - started;
        const timedOut = ms >= options.timeoutMs - TIMEOUT_EARLY_MS;
        invocations.push({ rule, delivery: item.delivery, attempt: item.attempt, ms, threw, timedOut, records: container.take() });
        if (timedOut) {
          // Lambda resets an environment whose invocation timed out: the next one starts cold. The old one's
          // run goes on here (it cannot be killed in-process); what it writes later is kept apart.
          killed.push(container);
          container = await startContainer(rule);
        }
        if (threw && item.attempt < options.retries) {
          queue.push({ delivery: item.delivery, attempt: item.attempt + 1, notBefore: Date.now() + options.retryDelayMs * 2 ** item.attempt });
        } else if (threw) {
          deadLettered.push(item.delivery);
        }
        inFlight.set(rule, (inFlight.get(rule) ?? 0) - 1);
      }
    };
    await Promise.all(containers.map(([rule, container]) => worker(rule, container)));
    const endedAt = Date.now();
    return { invocations, deadLettered, startedAt, endedAt, recordsAfterKill: killed.flatMap((c) => c.take()) };
  });
}

/** The p-th percentile (0–100) of the values, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}
