import type { MiddlewareStack } from '@smithy/types';
import { AwsCallError } from '../errors.js';

/** What a client is built for: the event's region, an optional custom endpoint, and whether writes are refused. */
export interface ClientOptions {
  readonly region: string;
  readonly endpoint: string | undefined;
  /** Dry-run: every command that is not a read is refused before it is signed or sent. */
  readonly readOnly: boolean;
}

/** Settings every client shares: the event's region, adaptive retries for bursts, the endpoint when set. */
export function baseClientConfig(options: ClientOptions) {
  return {
    region: options.region,
    // Adaptive mode adds client-side rate limiting on throttling, which a burst of events needs.
    retryMode: 'adaptive',
    maxAttempts: 4,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  } as const;
}

const READ_OPERATIONS = /^(Get|Describe|List|Head|Lookup)[A-Z]/;

/** True for SDK command names that only read (`GetPublicAccessBlockCommand`, `DescribeSecurityGroupRulesCommand`). */
export function isReadCommand(commandName: string): boolean {
  return READ_OPERATIONS.test(commandName);
}

interface GuardableClient {
  readonly middlewareStack: MiddlewareStack<any, any>;
}

/** Adds the dry-run guard: a structural refusal of writes, whatever a rule's code tries. */
export function addReadOnlyGuard(client: GuardableClient, service: string): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const commandName = String(context.commandName ?? '');
      if (!isReadCommand(commandName)) {
        const operation = commandName.replace(/Command$/, '');
        throw new AwsCallError(`${service}.${operation}`, 'dry-run', 'invalid', 'DryRunWriteRefused', 'dry-run refuses every write');
      }
      return next(args);
    },
    { step: 'initialize', name: 'trailguardReadOnlyGuard', priority: 'high' },
  );
}

/** Returns the cached client for these options, creating it on first use (never at import time). */
export function cachedClient<C extends GuardableClient>(
  cache: Map<string, C>,
  service: string,
  options: ClientOptions,
  create: () => C,
): C {
  const key = `${options.region}|${options.endpoint ?? ''}|${options.readOnly ? 'ro' : 'rw'}`;
  let client = cache.get(key);
  if (!client) {
    client = create();
    if (options.readOnly) addReadOnlyGuard(client, service);
    cache.set(key, client);
  }
  return client;
}
