import { LambdaClient } from '@aws-sdk/client-lambda';
import { baseClientConfig, cachedClient, type ClientOptions } from './client-options.js';

const clients = new Map<string, LambdaClient>();

/** The Lambda client for a region. */
export function lambdaClient(options: ClientOptions): LambdaClient {
  return cachedClient(clients, 'Lambda', options, () => new LambdaClient(baseClientConfig(options)));
}
