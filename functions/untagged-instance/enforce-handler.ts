import middy from '@middy/core';
import { logger } from '../../shared/log.js';
import { eventKeys } from '../../shared/middleware/event-keys.js';
import { lambdaScheduledRunner } from '../../shared/runner/lambda.js';
import { readEnforceInput, unreadableEnforceInput, untaggedInstanceEnforce } from './enforce.js';

export const handler = middy(lambdaScheduledRunner(untaggedInstanceEnforce, { read: readEnforceInput, unreadable: unreadableEnforceInput })).use(
  eventKeys(logger),
);
