import { sweepHandler } from '../../shared/runner/sweep-lambda.js';
import { openSecurityGroupSweep } from './sweep.js';

export const handler = sweepHandler(openSecurityGroupSweep);
