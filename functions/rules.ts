import type { AnyRule } from '../shared/rule.js';
import { openSecurityGroup } from './open-security-group/rule.js';
import { publicBucket } from './public-bucket/rule.js';
import { trailLogging } from './trail-logging/rule.js';
import { untaggedInstance } from './untagged-instance/rule.js';
import { rootActivity } from './root-activity/rule.js';
import { consoleSigninWithoutMfa } from './console-signin-without-mfa/rule.js';
import { consoleSigninFailures } from './console-signin-failures/rule.js';
import { iamPolicyChange } from './iam-policy-change/rule.js';
import { kmsKeyDeletion } from './kms-key-deletion/rule.js';
import { configRecorderStopped } from './config-recorder-stopped/rule.js';
import { networkChange } from './network-change/rule.js';
import { s3BucketDeleted } from './s3-bucket-deleted/rule.js';

/** Every rule, for the CLI and the invariant tests. No Lambda imports this file: each bundle holds one rule. */
export const RULES: readonly AnyRule[] = [
  publicBucket, openSecurityGroup, untaggedInstance, trailLogging,
  // Audit alerts (issue 10): notify-only.
  rootActivity, consoleSigninWithoutMfa, consoleSigninFailures, iamPolicyChange,
  kmsKeyDeletion, configRecorderStopped, networkChange, s3BucketDeleted,
];
