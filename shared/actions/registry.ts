/**
 * Every action type, for the CLI (report, undo), the loop guard's tests and the template tests. No Lambda imports
 * this file: a rule's bundle holds only the action types the rule declares (and the reversing ones they name).
 */
import type { AnyActionType } from './action.js';
import { putEventSelectors } from './cloudtrail-put-event-selectors.js';
import { startLogging } from './cloudtrail-start-logging.js';
import { updateTrail } from './cloudtrail-update-trail.js';
import { authorizeSecurityGroupIngress } from './ec2-authorize-security-group-ingress.js';
import { createTags } from './ec2-create-tags.js';
import { deleteTags } from './ec2-delete-tags.js';
import { disableSerialConsoleAccess, enableSerialConsoleAccess } from './ec2-serial-console-access.js';
import { deleteLoginProfile } from './iam-delete-login-profile.js';
import { disableTrustAnchor, enableTrustAnchor } from './rolesanywhere-trust-anchor.js';
import { modifyImageAttribute } from './ec2-modify-image-attribute.js';
import { modifySnapshotAttribute } from './ec2-modify-snapshot-attribute.js';
import { modifyDBClusterSnapshotAttribute, modifyDBSnapshotAttribute } from './rds-modify-db-snapshot-attribute.js';
import { updateAssumeRolePolicy } from './iam-update-assume-role-policy.js';
import { deleteBucketPolicy, putBucketPolicy } from './s3-bucket-policy.js';
import { deleteBucketLifecycle, putBucketLifecycleConfiguration } from './s3-bucket-lifecycle.js';
import { addPermission } from './lambda-add-permission.js';
import { removePermission } from './lambda-remove-permission.js';
import { revokeSecurityGroupIngress } from './ec2-revoke-security-group-ingress.js';
import { startInstances } from './ec2-start-instances.js';
import { stopInstances } from './ec2-stop-instances.js';
import { deletePublicAccessBlock } from './s3-delete-public-access-block.js';
import { putPublicAccessBlock } from './s3-put-public-access-block.js';
import { createSchedule } from './scheduler-create-schedule.js';
import { deleteSchedule } from './scheduler-delete-schedule.js';

export const ACTION_TYPES: readonly AnyActionType[] = [
  putPublicAccessBlock,
  deletePublicAccessBlock,
  revokeSecurityGroupIngress,
  authorizeSecurityGroupIngress,
  createTags,
  deleteTags,
  stopInstances,
  startInstances,
  createSchedule,
  deleteSchedule,
  startLogging,
  updateTrail,
  putEventSelectors,
  modifySnapshotAttribute,
  modifyImageAttribute,
  modifyDBSnapshotAttribute,
  modifyDBClusterSnapshotAttribute,
  updateAssumeRolePolicy,
  putBucketPolicy,
  deleteBucketPolicy,
  putBucketLifecycleConfiguration,
  deleteBucketLifecycle,
  deleteLoginProfile,
  disableSerialConsoleAccess,
  enableSerialConsoleAccess,
  removePermission,
  addPermission,
  disableTrustAnchor,
  enableTrustAnchor,
];
