import { EC2Client } from '@aws-sdk/client-ec2';
import { baseClientConfig, cachedClient, type ClientOptions } from './client-options.js';

const clients = new Map<string, EC2Client>();

/** The EC2 client for a region. */
export function ec2Client(options: ClientOptions): EC2Client {
  return cachedClient(clients, 'EC2', options, () => new EC2Client(baseClientConfig(options)));
}
