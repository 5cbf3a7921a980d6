import { AsyncLocalStorage } from 'node:async_hooks';
import type { AwsCredentialIdentityProvider, MiddlewareStack } from '@smithy/types';
import { AwsCallError } from '../errors.js';

/** Acting in a member account of the organisation: which account, through which role, with its credentials. */
export interface AccountAccess {
  readonly accountId: string;
  readonly roleArn: string;
  readonly sessionName: string;
  /** The session policy the credentials were assumed with: the rule's own actions (shared/aws/sts.ts). */
  readonly sessionPolicy: string;
  /** The member role's temporary credentials, refreshed before they expire (shared/aws/sts.ts). */
  readonly credentials: AwsCredentialIdentityProvider;
}

/** What a client is built for: the event's region, an optional custom endpoint, and whether writes are refused. */
export interface ClientOptions {
  readonly region: string;
  readonly endpoint: string | undefined;
  /** Dry-run: every command that is not a read is refused before it is signed or sent. */
  readonly readOnly: boolean;
  /** The member account to act in; absent: the function's own account and credentials (single-account, central events). */
  readonly account?: AccountAccess | undefined;
}

/** Attempts of one AWS call, the first included. */
export const MAX_ATTEMPTS = 4;
/** How long one attempt may take to connect. */
export const CONNECTION_TIMEOUT_MS = 1_000;
/** How long one attempt may wait for the response (connecting included) before it fails as a TimeoutError, retried. */
export const ATTEMPT_TIMEOUT_MS = 4_000;
/** The SDK's throttling backoff base: before retry n (from 0) it waits up to base x 2^n (@smithy/core, `Retry.throttlingDelay`). */
const THROTTLING_BACKOFF_BASE_MS = 1_000;
/** The longest one AWS call can take with these settings: every attempt timing out, every backoff at its maximum. */
export const WORST_CASE_CALL_MS =
  MAX_ATTEMPTS * ATTEMPT_TIMEOUT_MS
  + Array.from({ length: MAX_ATTEMPTS - 1 }, (_, retry) => THROTTLING_BACKOFF_BASE_MS * 2 ** retry).reduce((a, b) => a + b, 0);

/**
 * Settings every client shares: the event's region, adaptive retries for bursts, the endpoint when set, and
 * per-attempt timeouts. The SDK's default waits minutes for a silent socket; with these the worst case of one
 * call is 4 attempts x 4 s + throttling backoff of at most 1 + 2 + 4 s = 23 s, inside the 27 s a 30 s function
 * keeps for its work (serverless.yml). The invocation's deadline (`withCallDeadline`) still ends every call.
 */
export function baseClientConfig(options: ClientOptions) {
  return {
    region: options.region,
    // Adaptive mode adds client-side rate limiting on throttling, which a burst of events needs.
    retryMode: 'adaptive',
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: ATTEMPT_TIMEOUT_MS, throwOnRequestTimeout: true },
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.account ? { credentials: options.account.credentials } : {}),
  } as const;
}

/** The deadline the AWS calls of one invocation share: its signal aborts when the deadline passes. */
interface DeadlineScope {
  readonly deadline: number;
  readonly now: () => number;
  readonly signal: AbortSignal;
}

// Clients are cached per container and shared by every run in it (several in flight in one process in the
// burst tests), so a run's deadline travels in its own async context, never in a module variable.
const deadlineScopes = new AsyncLocalStorage<DeadlineScope>();

/** The SDK's per-command context key (`SMITHY_CONTEXT_KEY` of @smithy/types) under which its retry loop reads `abortSignal`. */
const SMITHY_CONTEXT = '__smithy_context';

/**
 * Runs `work` with every AWS call it makes, through a guarded client, bounded by `deadline` (epoch ms on the
 * `now` clock): a call is refused once the deadline has passed, and one in flight ends at it. Without a
 * deadline (replay, CLI) calls are unbounded, as before. `work` itself is not cut short: it sees the errors.
 */
export async function withCallDeadline<T>(deadline: number | undefined, now: () => number, work: () => Promise<T>): Promise<T> {
  if (deadline === undefined) return work();
  const controller = new AbortController();
  const left = deadline - now();
  // Already past: aborted before the first call is made, not a timer tick later.
  if (left <= 0) controller.abort();
  const timer = left > 0 ? setTimeout(() => controller.abort(), left) : undefined;
  try {
    return await deadlineScopes.run({ deadline, now, signal: controller.signal }, work);
  } finally {
    clearTimeout(timer);
  }
}

/** The time left for AWS calls in the current `withCallDeadline` scope; undefined outside one (replay, CLI). */
export function callTimeLeftMs(): number | undefined {
  const scope = deadlineScopes.getStore();
  return scope ? scope.deadline - scope.now() : undefined;
}

/** A transient error (classified by shared/aws/errors.ts): the invocation's time for AWS calls is spent. */
function deadlineExceeded(scope: DeadlineScope, what: string): Error {
  return Object.assign(new Error(`${what}: the invocation's deadline ${new Date(scope.deadline).toISOString()} has passed, so the event is retried`), {
    name: 'DeadlineExceeded',
    $metadata: {},
  });
}

/**
 * Adds the deadline guard and returns the client: a call made within `withCallDeadline` is refused after the
 * deadline, and one in flight rejects at it. The SDK's retry loop gets the same signal, so no attempt or backoff
 * wait starts after the deadline; an attempt already on the wire is abandoned, not cut (ATTEMPT_TIMEOUT_MS ends it).
 */
export function addDeadlineGuard<C extends GuardableClient>(client: C): C {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const scope = deadlineScopes.getStore();
      if (!scope) return next(args);
      if (scope.signal.aborted) throw deadlineExceeded(scope, 'not started');
      context[SMITHY_CONTEXT] ??= {};
      const smithy = context[SMITHY_CONTEXT] as { abortSignal?: AbortSignal };
      smithy.abortSignal ??= scope.signal;
      let onAbort = (): void => undefined;
      const expired = new Promise<never>((_, reject) => {
        onAbort = () => reject(deadlineExceeded(scope, 'abandoned'));
      });
      scope.signal.addEventListener('abort', onAbort, { once: true });
      try {
        return await Promise.race([next(args), expired]);
      } finally {
        scope.signal.removeEventListener('abort', onAbort);
      }
    },
    { step: 'initialize', name: 'trailguardDeadlineGuard', priority: 'high' },
  );
  return client;
}

const READ_OPERATIONS = /^(Get|Describe|List|Head|Lookup)[A-Z]/;

/** True for SDK command names that only read (`GetPublicAccessBlockCommand`, `DescribeSecurityGroupRulesCommand`). */
export function isReadCommand(commandName: string): boolean {
  return READ_OPERATIONS.test(commandName);
}

interface GuardableClient {
  // biome-ignore lint/suspicious/noExplicitAny: the guards fit every client's stack, and MiddlewareStack is invariant in its types
  readonly middlewareStack: MiddlewareStack<any, any>;
}

/**
 * Adds the dry-run guard: a structural refusal of writes, whatever a rule's code tries. `alsoAllowed` names the
 * few commands that are not reads by name yet change nothing the account holds (Athena's StartQueryExecution of a
 * SELECT, CloudTrail Lake's StartQuery): the backtests that query a warehouse need them.
 */
export function addReadOnlyGuard(client: GuardableClient, service: string, alsoAllowed: readonly string[] = []): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const commandName = String(context.commandName ?? '');
      if (!isReadCommand(commandName) && !alsoAllowed.includes(commandName)) {
        const operation = commandName.replace(/Command$/, '');
        throw new AwsCallError(`${service}.${operation}`, 'dry-run', 'invalid', 'DryRunWriteRefused', 'dry-run refuses every write');
      }
      return next(args);
    },
    { step: 'initialize', name: 'trailguardReadOnlyGuard', priority: 'high' },
  );
}

/** Returns the cached client for these options, creating it on first use (never at import time). */
export function cachedClient<C extends GuardableClient>(cache: Map<string, C>, service: string, options: ClientOptions, create: () => C): C {
  // The account, role session and session policy are part of the key: a client never carries another account's
  // credentials, nor a session assumed for another rule's (or the enforcement check's) actions.
  const account = options.account
    ? `${options.account.accountId}|${options.account.roleArn}|${options.account.sessionName}|${options.account.sessionPolicy}`
    : 'own';
  const key = `${options.region}|${options.endpoint ?? ''}|${options.readOnly ? 'ro' : 'rw'}|${account}`;
  let client = cache.get(key);
  if (!client) {
    client = create();
    addDeadlineGuard(client);
    if (options.readOnly) addReadOnlyGuard(client, service);
    cache.set(key, client);
  }
  return client;
}
