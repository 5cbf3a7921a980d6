import { sweepHandler } from '../../shared/runner/sweep-lambda.js';
import { untaggedInstanceSweep } from './sweep.js';

export const handler = sweepHandler(untaggedInstanceSweep);
