import { sweepHandler } from '../../shared/runner/sweep-lambda.js';
import { trailLoggingSweep } from './sweep.js';

export const handler = sweepHandler(trailLoggingSweep);
