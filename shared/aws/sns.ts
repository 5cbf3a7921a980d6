import { SNSClient } from '@aws-sdk/client-sns';
import { baseClientConfig, cachedClient, type ClientOptions } from './client-options.js';

// Per-attempt limits on a Publish. The SDK's retries (4 attempts with backoff: client-options.ts) cover throttling,
// 5xx and network errors, but its default socket timeout is 5 minutes: a hung connection would outlast the
// function (30 s), and the record, with its `notification.status: failed`, would never be written. With these,
// a hung attempt is a TimeoutError the SDK retries, and the last one still leaves time to write the record.

/** How long one Publish attempt may take to connect. */
export const SNS_CONNECTION_TIMEOUT_MS = 2_000;
/** How long one Publish attempt's socket may stay silent before the attempt is abandoned (and retried). */
export const SNS_SOCKET_TIMEOUT_MS = 3_000;

const clients = new Map<string, SNSClient>();

/** The SNS client for the topic's region. Never read-only: dry-run still notifies. */
export function snsClient(options: Omit<ClientOptions, 'readOnly'>): SNSClient {
  return cachedClient(clients, 'SNS', { ...options, readOnly: false }, () => new SNSClient({
    ...baseClientConfig({ ...options, readOnly: false }),
    requestHandler: { connectionTimeout: SNS_CONNECTION_TIMEOUT_MS, socketTimeout: SNS_SOCKET_TIMEOUT_MS },
  }));
}
