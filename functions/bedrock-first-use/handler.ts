import middy from '@middy/core';
import { logger } from '../../shared/log.js';
import { eventKeys } from '../../shared/middleware/event-keys.js';
import { lambdaRunner } from '../../shared/runner/lambda.js';
import { bedrockFirstUse } from './rule.js';

export const handler = middy(lambdaRunner(bedrockFirstUse)).use(eventKeys(logger));
