/**
 * Names and ids as AWS APIs accept them, for the event values that go into suggested commands (see
 * `shared/shell.ts`): a value that fails its check is not a name of that API, and gets no command.
 * Trail names and ARNs are `shared/cloudtrail/trail.ts`'s; security group ids are `shared/ec2`'s.
 */
import { checked, type Checked } from '../shell.js';

// Region codes such as us-east-1, us-gov-west-1, eusc-de-east-1 (the European Sovereign Cloud's four letters).
const REGION = /^[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}$/;
const ACCOUNT_ID = /^\d{12}$/;
// S3 today: 3-63 of a-z 0-9 . -; buckets made before 2018 in us-east-1 may have capitals and `_`, up to 255.
const BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/;
const KEY_ID = '(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})';
// EnableKey, CancelKeyDeletion, ListAliases take a key id or a key ARN (not an alias).
const KMS_KEY = new RegExp(`^(?:arn:aws(?:-[a-z]+)*:kms:[a-z]{2,4}(?:-[a-z]+)+-\\d{1,2}:\\d{12}:key/)?${KEY_ID}$`);
// IAM user and role names are 1-64, group names 1-128 of letters, digits and `+=,.@_-`.
const IAM_NAME = /^[\w+=,.@-]{1,128}$/;
const IAM_POLICY_ARN = /^arn:aws(?:-[a-z]+)*:iam::(?:\d{12}|aws):policy\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,128}$/;
// EventBridge Scheduler schedule and group names: 1-64 of letters, digits, `-`, `_`, `.`.
const SCHEDULE_NAME = /^[0-9A-Za-z_.-]{1,64}$/;
const INSTANCE_ID = /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
// Any EC2 resource id: a lowercase prefix (`i`, `vol`, `eni`, `sg`…) and 8 or 17 hex digits.
const EC2_ID = /^[a-z]+(?:-[a-z]+)*-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
// EC2 security group names: up to 255 characters, ASCII only (VPC groups allow fewer, `a-zA-Z0-9 ._-:/()#,@[]+=&;{}!$*`).
const GROUP_NAME = /^[\x20-\x7e]{1,255}$/;
// AWS Config recorder and delivery channel names: 1-256 characters, not only spaces (`.*\S.*`); no controls.
const CONFIG_NAME = /^(?=.*\S)[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]{1,256}$/u;

/** True for a region code (`eu-west-1`). */
export const isRegionName = (value: string): boolean => REGION.test(value);
/** True for a 12-digit account id. */
export const isAccountId = (value: string): boolean => ACCOUNT_ID.test(value);
/** True for a name S3 allows for a bucket (current rules, and legacy us-east-1 names). */
export const isBucketName = (value: string): boolean => BUCKET_NAME.test(value);
/** True for a KMS key id or key ARN. */
export const isKmsKeyRef = (value: string): boolean => KMS_KEY.test(value);
/** True for an IAM user, role or group name. */
export const isIamName = (value: string): boolean => IAM_NAME.test(value);
/** True for a managed policy ARN (the account's or `aws`). */
export const isIamPolicyArn = (value: string): boolean => IAM_POLICY_ARN.test(value);
/** True for an EventBridge Scheduler schedule or group name. */
export const isScheduleName = (value: string): boolean => SCHEDULE_NAME.test(value);
/** True for an EC2 instance id. */
export const isInstanceId = (value: string): boolean => INSTANCE_ID.test(value);
/** True for any EC2 resource id (`i-…`, `vol-…`, `eni-…`). */
export const isEc2Id = (value: string): boolean => EC2_ID.test(value);
/** True for an EC2 security group name. */
export const isGroupName = (value: string): boolean => GROUP_NAME.test(value);
/** True for an AWS Config recorder or delivery channel name. */
export const isConfigName = (value: string): boolean => CONFIG_NAME.test(value);

/** The region of a record for a command's `--region`: refused unless it is a region code. */
export const regionArg = (value: string | null | undefined): Checked => checked(value, 'region', isRegionName);
