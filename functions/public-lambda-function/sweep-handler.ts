import { sweepHandler } from '../../shared/runner/sweep-lambda.js';
import { publicLambdaFunctionSweep } from './sweep.js';

export const handler = sweepHandler(publicLambdaFunctionSweep);
