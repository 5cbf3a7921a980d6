import type { AnyRule } from '../shared/rule.js';
import type { ScheduledInputReader } from '../shared/runner/lambda.js';
import { openSecurityGroup } from './open-security-group/rule.js';
import { publicBucket } from './public-bucket/rule.js';
import { trailLogging } from './trail-logging/rule.js';
import { sharedImageSnapshot } from './shared-image-snapshot/rule.js';
import { sharedDbSnapshot } from './shared-db-snapshot/rule.js';
import { publicLambdaFunction } from './public-lambda-function/rule.js';
import { lambdaBackdoor } from './lambda-backdoor/rule.js';
import { untaggedInstance } from './untagged-instance/rule.js';
import { readEnforceInput, unreadableEnforceInput, untaggedInstanceEnforce } from './untagged-instance/enforce.js';
import { rootActivity } from './root-activity/rule.js';
import { consoleSigninWithoutMfa } from './console-signin-without-mfa/rule.js';
import { consoleSigninFailures } from './console-signin-failures/rule.js';
import { iamPolicyChange } from './iam-policy-change/rule.js';
import { kmsKeyDeletion } from './kms-key-deletion/rule.js';
import { configRecorderStopped } from './config-recorder-stopped/rule.js';
import { networkChange } from './network-change/rule.js';
import { s3BucketDeleted } from './s3-bucket-deleted/rule.js';
import { configStoreChange } from './config-store-change/rule.js';
import { networkLogsDeleted } from './network-logs-deleted/rule.js';
import { organizationLeft } from './organization-left/rule.js';
import { instanceUserDataChanged } from './instance-user-data-changed/rule.js';
import { imageDeregistered } from './image-deregistered/rule.js';
import { federationTokenIssued } from './federation-token-issued/rule.js';
import { secretsBulkRead } from './secrets-bulk-read/rule.js';
import { parametersBulkDecrypt } from './parameters-bulk-decrypt/rule.js';
import { iamEnumeratedByInstance } from './iam-enumerated-by-instance/rule.js';
import { instanceCredentialsOutside } from './instance-credentials-outside/rule.js';
import { deniedCallsBurst } from './denied-calls-burst/rule.js';
import { instanceUserDataRead } from './instance-user-data-read/rule.js';
import { remoteSessionSpread } from './remote-session-spread/rule.js';
import { consoleAccessAdded } from './console-access-added/rule.js';
import { serialConsoleEnabled } from './serial-console-enabled/rule.js';
import { trustAnchorCreated } from './trust-anchor-created/rule.js';
import { notebookLifecycleAttached } from './notebook-lifecycle-attached/rule.js';
import { modelAccessEnabled } from './model-access-enabled/rule.js';
import { sesEnumeration } from './ses-enumeration/rule.js';
import { bedrockFirstUse } from './bedrock-first-use/rule.js';
import { outsideRoleTrust } from './outside-role-trust/rule.js';
import { outsideBucketPolicy } from './outside-bucket-policy/rule.js';
import { trailBucketLifecycle } from './trail-bucket-lifecycle/rule.js';

/** Every rule, for the CLI and the invariant tests. No Lambda imports this file: each bundle holds one rule. */
export const RULES: readonly AnyRule[] = [
  publicBucket,
  openSecurityGroup,
  untaggedInstance,
  trailLogging,
  sharedImageSnapshot,
  sharedDbSnapshot,
  publicLambdaFunction,
  consoleAccessAdded,
  serialConsoleEnabled,
  outsideRoleTrust,
  outsideBucketPolicy,
  trailBucketLifecycle,
  // Audit alerts (issue 10): notify-only.
  rootActivity,
  consoleSigninWithoutMfa,
  consoleSigninFailures,
  iamPolicyChange,
  kmsKeyDeletion,
  configRecorderStopped,
  networkChange,
  s3BucketDeleted,
  configStoreChange,
  networkLogsDeleted,
  organizationLeft,
  instanceUserDataChanged,
  imageDeregistered,
  federationTokenIssued,
  // Stolen-credential signals (issue 20): reads counted per principal.
  secretsBulkRead,
  parametersBulkDecrypt,
  iamEnumeratedByInstance,
  instanceCredentialsOutside,
  deniedCallsBurst,
  instanceUserDataRead,
  remoteSessionSpread,
  lambdaBackdoor,
  trustAnchorCreated,
  notebookLifecycleAttached,
  modelAccessEnabled,
  sesEnumeration,
  bedrockFirstUse,
];

/** A check that EventBridge Scheduler invokes with its own input, not an event: its rule, and how its input is read. */
export interface ScheduledCheck extends ScheduledInputReader {
  readonly rule: AnyRule;
}

/**
 * Every rule's scheduled checks (trigger `schedule`), for `redrive`, the member stack and the tests. Each runs in
 * the function of its rule folder that has no event of the stack's own (scripts/rule-files.cjs, kind `check`).
 */
export const CHECKS: readonly ScheduledCheck[] = [{ rule: untaggedInstanceEnforce, read: readEnforceInput, unreadable: unreadableEnforceInput }];
