import { beforeEach } from 'vitest';
import { createStateTable, notificationTopic, resetEmulator, type ReceivedNotification } from './emulator.js';
import type { LambdaEnv } from './invoke.js';

/** What each test of a rule gets: a wiped emulator with the stack's topic (an SQS inbox subscribed) and state table. */
export interface FreshStack {
  /** The environment a deployed function of the stack would have, in this mode. */
  env(mode: LambdaEnv['mode'], extra?: Partial<LambdaEnv>): LambdaEnv;
  /** The notifications that reached the topic's subscriber since the last call. */
  received(): Promise<ReceivedNotification[]>;
}

/** Registers a `beforeEach` that resets the emulator and recreates the topic and the state table. */
export function freshStackPerTest(): FreshStack {
  let topic: Awaited<ReturnType<typeof notificationTopic>> | undefined;
  let stateTable = '';
  beforeEach(async () => {
    await resetEmulator();
    topic = await notificationTopic();
    stateTable = await createStateTable();
  });
  const current = () => {
    if (!topic) throw new Error('freshStackPerTest: used outside a test');
    return topic;
  };
  return {
    env: (mode, extra = {}) => ({ mode, topicArn: current().topicArn, stateTable, ...extra }),
    received: () => current().received(),
  };
}
