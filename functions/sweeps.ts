import type { AnySweep } from '../shared/runner/sweep.js';
import { openSecurityGroupSweep } from './open-security-group/sweep.js';
import { outsideRoleTrustSweep } from './outside-role-trust/sweep.js';
import { publicBucketSweep } from './public-bucket/sweep.js';
import { publicLambdaFunctionSweep } from './public-lambda-function/sweep.js';
import { sharedDbSnapshotSweep } from './shared-db-snapshot/sweep.js';
import { sharedImageSnapshotSweep } from './shared-image-snapshot/sweep.js';
import { trailLoggingSweep } from './trail-logging/sweep.js';
import { untaggedInstanceSweep } from './untagged-instance/sweep.js';

/** Every rule's reconciliation sweep, for the CLI and tests. No Lambda imports this file: each sweep bundle holds one. */
export const SWEEPS: readonly AnySweep[] = [
  publicBucketSweep,
  openSecurityGroupSweep,
  untaggedInstanceSweep,
  trailLoggingSweep,
  sharedImageSnapshotSweep,
  sharedDbSnapshotSweep,
  publicLambdaFunctionSweep,
  outsideRoleTrustSweep,
];
