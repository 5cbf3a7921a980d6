import { SNSClient } from '@aws-sdk/client-sns';
import type { HandlerExecutionContext, RetryErrorInfo, RetryStrategyV2, RetryToken } from '@smithy/types';
import { TrailguardError } from '../errors.js';
import { setTimeout as wait } from 'node:timers/promises';
import { ATTEMPT_TIMEOUT_MS, baseClientConfig, cachedClient, callTimeLeftMs, type ClientOptions, MAX_ATTEMPTS } from './client-options.js';
import { classifyAwsError, errorCodeOf, NOT_SENT_CODES } from './errors.js';

// A Publish to a standard topic has no idempotency token: every request SNS accepts is delivered, so a resent
// Publish whose first copy was accepted pages twice (FIFO topics deduplicate, but cannot deliver to email, SMS or
// HTTPS). So a Publish is resent only when SNS said the request failed, or never got it:
// - a 4xx answer (Throttling, or any other refusal): SNS checks and throttles a request before it accepts it;
// - SNS's own 5xx answers, 500 InternalFailure/InternalError and 503 ServiceUnavailable: "the request processing
//   has failed", and AWS's guidance for SNS is to retry every request that fails with them
//   (https://repost.aws/knowledge-center/sns-5xx-errors); the rare copy that went out anyway carries the same
//   dedupKey (shared/notification-key.ts), so PagerDuty or Opsgenie fold it;
// - a failure to connect (refused, no DNS answer, unreachable, the connect timeout): no byte was sent.
// Everything else may have published, with nothing said: no answer within the request timeout (a Publish
// answered after 3.5 s under a 3 s timeout had gone out, was resent and paged twice), a reset after the request
// went out, a 502/504 from a gateway that gave up waiting on a request SNS may have handled. Those end the call:
// OutcomeUnknownError, recorded as `notification.status: failed` with `error: 'ambiguous: …'`, which the
// NotificationFailed alarm counts.

/** SNS's 5xx answers that say the request failed: InternalFailure/InternalError (500), ServiceUnavailable (503). */
const FAILED_STATUSES = new Set([500, 503]);

// @smithy/node-http-handler marks its connect timeout only in the message (set-connection-timeout.js): a
// TimeoutError with no `code`, unlike the request timeout (`code: 'ETIMEDOUT'`). Should the text change, the
// timeout reads as ambiguous and is not resent: the safe side for a page.
const CONNECT_TIMEOUT_MESSAGE = 'did not establish a connection';

interface WireError {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/** True when an answer with this status says the request failed: a 4xx refusal, or SNS's 500 or 503. */
const isFailedAnswer = (status: number) => (status >= 400 && status < 500) || FAILED_STATUSES.has(status);

/** True when an attempt's failure says SNS did not take the request (see above): it may be resent. */
export function isSafeToResend(error: unknown): boolean {
  const e = (error ?? {}) as WireError;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return isFailedAnswer(status);
  if (typeof e.code === 'string') return NOT_SENT_CODES.has(e.code);
  return e.name === 'TimeoutError' && typeof e.message === 'string' && e.message.includes(CONNECT_TIMEOUT_MESSAGE);
}

/** The backoff base before retry n (from 0) of a throttled Publish: up to base x 2^n, as the SDK's (client-options.ts). */
export const SNS_THROTTLING_BACKOFF_BASE_MS = 1_000;
/** The backoff base after a connect failure or SNS's 500/503: the SDK's for transient errors. */
const SNS_BACKOFF_BASE_MS = 50;

/**
 * The longest one Publish can take: every attempt at ATTEMPT_TIMEOUT_MS (baseClientConfig's request timeout), every
 * backoff at the throttling maximum. Within WORST_CASE_CALL_MS, the budget the function timeout is sized for.
 */
export const SNS_WORST_CASE_CALL_MS =
  MAX_ATTEMPTS * ATTEMPT_TIMEOUT_MS
  + Array.from({ length: MAX_ATTEMPTS - 1 }, (_, retry) => SNS_THROTTLING_BACKOFF_BASE_MS * 2 ** retry).reduce((a, b) => a + b, 0);

const retryToken = (count: number, delay: number): RetryToken => ({ getRetryCount: () => count, getRetryDelay: () => delay });

/**
 * The SDK's retry loop for SNS: up to MAX_ATTEMPTS, resending only an error the SDK finds retryable (throttling,
 * transient) and that is safe to resend. The loop itself waits the delay, and stops at the deadline.
 */
class PublishOnceRetryStrategy implements RetryStrategyV2 {
  async acquireInitialRetryToken(): Promise<RetryToken> {
    return retryToken(0, 0);
  }

  async refreshRetryTokenForRetry(previous: RetryToken, info: RetryErrorInfo): Promise<RetryToken> {
    const retries = previous.getRetryCount();
    const retryable = info.errorType === 'THROTTLING' || info.errorType === 'TRANSIENT';
    // The SDK throws the attempt's own error when this refuses; this one is never seen.
    if (retries + 1 >= MAX_ATTEMPTS || !retryable || !isSafeToResend(info.error)) throw new Error('not resent');
    const base = info.errorType === 'THROTTLING' ? SNS_THROTTLING_BACKOFF_BASE_MS : SNS_BACKOFF_BASE_MS;
    return retryToken(retries + 1, Math.floor(Math.random() * base * 2 ** retries));
  }

  recordSuccess(): void {}
}

/**
 * A request that SNS may have carried out, so it was not resent: sent, and then no answer (a response timeout,
 * a reset, the invocation's deadline) or a gateway's 502/504. `code` is the last attempt's (`ETIMEDOUT`, `ECONNRESET`).
 */
export class OutcomeUnknownError extends TrailguardError {
  override readonly name = 'OutcomeUnknownError';
  constructor(
    readonly api: string,
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(`${api}: the request was sent but its outcome is unknown (${code}); not resent, as SNS may have published it`, options);
  }
}

/** The error's code; for an answer with no code of SNS's making (a gateway's HTML page), its HTTP status. */
function codeOf(error: unknown): string {
  const code = errorCodeOf(error);
  const status = (error as WireError | undefined)?.$metadata?.httpStatusCode;
  return status !== undefined && /^Unknown/.test(code) ? `HTTP${status}` : code;
}

/** Where a command's last attempt stands on the wire: answered, failed (safe to resend), unknown, or still out. */
type WireState = 'in-flight' | 'answered' | 'failed' | 'unknown';
const wireStates = new WeakMap<HandlerExecutionContext, WireState>();

/**
 * Tracks each attempt at the wire (innermost, under the deserializer: it sees the raw status), and turns a call
 * that ends while its last attempt is unknown or still out (abandoned at the deadline) into OutcomeUnknownError.
 * The outer part is added before the deadline guard (cachedClient adds that after `create`), so it wraps it.
 */
function addOutcomeTracking(client: SNSClient): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      wireStates.set(context, 'in-flight');
      try {
        const result = await next(args);
        const status = (result.response as { statusCode?: number }).statusCode ?? 200;
        wireStates.set(context, status < 400 ? 'answered' : isFailedAnswer(status) ? 'failed' : 'unknown');
        return result;
      } catch (error) {
        wireStates.set(context, isSafeToResend(error) ? 'failed' : 'unknown');
        throw error;
      }
    },
    { step: 'deserialize', priority: 'low', name: 'trailguardPublishWire' },
  );
  client.middlewareStack.add(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        const state = wireStates.get(context);
        if (state !== 'in-flight' && state !== 'unknown') throw error;
        throw new OutcomeUnknownError(`SNS.${String(context.commandName ?? '').replace(/Command$/, '')}`, codeOf(error), { cause: error });
      }
    },
    { step: 'initialize', priority: 'high', name: 'trailguardPublishOutcome' },
  );
}

/** Rounds of one Publish, each of up to MAX_ATTEMPTS, while SNS keeps refusing it and the invocation has time. */
export const PUBLISH_ROUNDS = 3;
/** The pause before another round: a refusal on every attempt of a round is an outage or a throttled burst, not a blip. */
export const PUBLISH_ROUND_PAUSE_MS = 2_000;

/**
 * Sends a Publish again, in another round after a pause, while SNS refused every attempt of the last one (throttled,
 * its 500/503, or no connection: nothing was published, so nobody is paged twice) and the invocation's deadline
 * leaves room for the pause and one attempt: a page outweighs the seconds. Never after an end that may have
 * published (OutcomeUnknownError), nor after any other refusal (a missing permission, a bad topic), nor without a
 * deadline (replay and the CLI report the failure at once). A round cut by the deadline ends as its attempt does.
 */
export async function publishWhileRefused<T>(send: () => Promise<T>, sleep: (ms: number) => Promise<unknown> = wait): Promise<T> {
  for (let round = 1; ; round += 1) {
    try {
      return await send();
    } catch (error) {
      const left = callTimeLeftMs();
      const refused = !(error instanceof OutcomeUnknownError) && isSafeToResend(error) && classifyAwsError(error, 'SNS.Publish', 'topic').kind === 'transient';
      if (!refused || round >= PUBLISH_ROUNDS || left === undefined || left < PUBLISH_ROUND_PAUSE_MS + ATTEMPT_TIMEOUT_MS) throw error;
      await sleep(PUBLISH_ROUND_PAUSE_MS);
    }
  }
}

const clients = new Map<string, SNSClient>();

/**
 * The SNS client for the topic's region. Never read-only: dry-run still notifies. Its attempts have the shared
 * timeouts and budget (baseClientConfig), but a Publish is resent only when SNS said it failed (see above).
 */
export function snsClient(options: Omit<ClientOptions, 'readOnly'>): SNSClient {
  return cachedClient(clients, 'SNS', { ...options, readOnly: false }, () => {
    const client = new SNSClient({ ...baseClientConfig({ ...options, readOnly: false }), retryStrategy: new PublishOnceRetryStrategy() });
    addOutcomeTracking(client);
    return client;
  });
}
