import { RDSClient } from '@aws-sdk/client-rds';
import { baseClientConfig, cachedClient, type ClientOptions } from './client-options.js';

const clients = new Map<string, RDSClient>();

/** The RDS client for a region. */
export function rdsClient(options: ClientOptions): RDSClient {
  return cachedClient(clients, 'RDS', options, () => new RDSClient(baseClientConfig(options)));
}
