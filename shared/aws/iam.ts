import { IAMClient } from '@aws-sdk/client-iam';
import { baseClientConfig, cachedClient, type ClientOptions } from './client-options.js';

const clients = new Map<string, IAMClient>();

/**
 * The IAM client. IAM is global: its one endpoint answers whatever Region the client names, so the cache keys by the
 * options as every factory does, and a rule passes the record's Region (us-east-1 for IAM's events).
 */
export function iamClient(options: ClientOptions): IAMClient {
  return cachedClient(clients, 'IAM', options, () => new IAMClient(baseClientConfig(options)));
}
