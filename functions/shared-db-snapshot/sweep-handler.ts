import { sweepHandler } from '../../shared/runner/sweep-lambda.js';
import { sharedDbSnapshotSweep } from './sweep.js';

export const handler = sweepHandler(sharedDbSnapshotSweep);
