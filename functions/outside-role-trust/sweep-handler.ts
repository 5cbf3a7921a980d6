import { sweepHandler } from '../../shared/runner/sweep-lambda.js';
import { outsideRoleTrustSweep } from './sweep.js';

export const handler = sweepHandler(outsideRoleTrustSweep);
