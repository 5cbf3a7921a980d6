import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { baseClientConfig, cachedClient, type ClientOptions } from './client-options.js';

const clients = new Map<string, CloudTrailClient>();

/** The CloudTrail client for a region (a trail's home region may differ from the event's). */
export function cloudTrailClient(options: ClientOptions): CloudTrailClient {
  return cachedClient(clients, 'CloudTrail', options, () => new CloudTrailClient(baseClientConfig(options)));
}
