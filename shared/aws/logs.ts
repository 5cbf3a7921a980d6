import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { baseClientConfig, type ClientOptions } from './client-options.js';

const clients = new Map<string, CloudWatchLogsClient>();

/**
 * The CloudWatch Logs client for a region (the operators' `report` reads the stack's log groups with it).
 * Never used by a Lambda; it only reads (DescribeLogGroups, FilterLogEvents), so no read-only guard is added.
 */
export function logsClient(options: Omit<ClientOptions, 'readOnly'>): CloudWatchLogsClient {
  const key = `${options.region}|${options.endpoint ?? ''}`;
  let client = clients.get(key);
  if (!client) {
    client = new CloudWatchLogsClient(baseClientConfig({ ...options, readOnly: true }));
    clients.set(key, client);
  }
  return client;
}
