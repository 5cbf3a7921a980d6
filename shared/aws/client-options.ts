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

/** Settings every client shares: the event's region, adaptive retries for bursts, the endpoint when set. */
export function baseClientConfig(options: ClientOptions) {
  return {
    region: options.region,
    // Adaptive mode adds client-side rate limiting on throttling, which a burst of events needs.
    retryMode: 'adaptive',
    maxAttempts: 4,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.account ? { credentials: options.account.credentials } : {}),
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
  // The account, role session and session policy are part of the key: a client never carries another account's
  // credentials, nor a session assumed for another rule's (or the enforcement check's) actions.
  const account = options.account
    ? `${options.account.accountId}|${options.account.roleArn}|${options.account.sessionName}|${options.account.sessionPolicy}` : 'own';
  const key = `${options.region}|${options.endpoint ?? ''}|${options.readOnly ? 'ro' : 'rw'}|${account}`;
  let client = cache.get(key);
  if (!client) {
    client = create();
    if (options.readOnly) addReadOnlyGuard(client, service);
    cache.set(key, client);
  }
  return client;
}
