import { sweepHandler } from '../../shared/runner/sweep-lambda.js';
import { publicBucketSweep } from './sweep.js';

export const handler = sweepHandler(publicBucketSweep);
