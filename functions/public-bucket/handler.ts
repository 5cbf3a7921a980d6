import middy from '@middy/core';
import { logger } from '../../shared/log.js';
import { eventKeys } from '../../shared/middleware/event-keys.js';
import { lambdaRunner } from '../../shared/runner/lambda.js';
import { publicBucket } from './rule.js';

export const handler = middy(lambdaRunner(publicBucket)).use(eventKeys(logger));
