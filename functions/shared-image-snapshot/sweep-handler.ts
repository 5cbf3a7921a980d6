import { sweepHandler } from '../../shared/runner/sweep-lambda.js';
import { sharedImageSnapshotSweep } from './sweep.js';

export const handler = sweepHandler(sharedImageSnapshotSweep);
