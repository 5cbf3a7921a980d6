/**
 * The self signature of every write trailguard's functions make, for the loop guard (shared/runner/self-calls.ts):
 * only these signature consts are imported, never the action objects, so a rule's bundle does not carry the SDK
 * commands of other rules' writes. test/shared/runner/self-calls.test.ts holds this list to every rule's actions.
 */
import type { SelfSignature } from './action.js';
import { putEventSelectorsSignature } from './cloudtrail-put-event-selectors.js';
import { startLoggingSignature } from './cloudtrail-start-logging.js';
import { updateTrailSignature } from './cloudtrail-update-trail.js';
import { createTagsSignature } from './ec2-create-tags.js';
import { disableSerialConsoleAccessSignature } from './ec2-serial-console-access.js';
import { deleteLoginProfileSignature } from './iam-delete-login-profile.js';
import { modifyImageAttributeSignature } from './ec2-modify-image-attribute.js';
import { modifySnapshotAttributeSignature } from './ec2-modify-snapshot-attribute.js';
import { modifyDBClusterSnapshotAttributeSignature, modifyDBSnapshotAttributeSignature } from './rds-modify-db-snapshot-attribute.js';
import { updateAssumeRolePolicySignature } from './iam-update-assume-role-policy.js';
import { deleteBucketPolicySignature, putBucketPolicySignature } from './s3-bucket-policy.js';
import { deleteBucketLifecycleSignature, putBucketLifecycleSignature } from './s3-bucket-lifecycle.js';
import { removePermissionSignature } from './lambda-remove-permission.js';
import { disableTrustAnchorSignature } from './rolesanywhere-trust-anchor.js';
import { revokeSecurityGroupIngressSignature } from './ec2-revoke-security-group-ingress.js';
import { stopInstancesSignature } from './ec2-stop-instances.js';
import { putPublicAccessBlockSignature } from './s3-put-public-access-block.js';
import { createScheduleSignature } from './scheduler-create-schedule.js';

export const SELF_SIGNATURES: readonly SelfSignature[] = [
  putPublicAccessBlockSignature,
  revokeSecurityGroupIngressSignature,
  createTagsSignature,
  stopInstancesSignature,
  createScheduleSignature,
  startLoggingSignature,
  updateTrailSignature,
  putEventSelectorsSignature,
  modifySnapshotAttributeSignature,
  modifyImageAttributeSignature,
  modifyDBSnapshotAttributeSignature,
  modifyDBClusterSnapshotAttributeSignature,
  updateAssumeRolePolicySignature,
  putBucketPolicySignature,
  deleteBucketPolicySignature,
  putBucketLifecycleSignature,
  deleteBucketLifecycleSignature,
  deleteLoginProfileSignature,
  disableSerialConsoleAccessSignature,
  removePermissionSignature,
  disableTrustAnchorSignature,
];
