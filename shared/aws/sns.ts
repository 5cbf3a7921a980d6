import { SNSClient } from '@aws-sdk/client-sns';
import { baseClientConfig, cachedClient, type ClientOptions } from './client-options.js';

const clients = new Map<string, SNSClient>();

/** The SNS client for the topic's region. Never read-only: dry-run still notifies. */
export function snsClient(options: Omit<ClientOptions, 'readOnly'>): SNSClient {
  return cachedClient(clients, 'SNS', { ...options, readOnly: false }, () => new SNSClient(baseClientConfig({ ...options, readOnly: false })));
}
