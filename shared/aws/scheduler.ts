import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { baseClientConfig, cachedClient, type ClientOptions } from './client-options.js';

const clients = new Map<string, SchedulerClient>();

/** The EventBridge Scheduler client for a region (the region of the schedule's target function). */
export function schedulerClient(options: ClientOptions): SchedulerClient {
  return cachedClient(clients, 'Scheduler', options, () => new SchedulerClient(baseClientConfig(options)));
}
