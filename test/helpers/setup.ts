import { expect } from 'vitest';
import { allCustomMatcher } from 'aws-sdk-client-mock-vitest';
import { logger } from '../../shared/log.js';

expect.extend(allCustomMatcher);
// Tests read records from the runner's return value and `deps.write`; the Lambda logger stays quiet.
logger.setSink(() => undefined);
