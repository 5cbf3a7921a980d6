/**
 * S3.PutBucketPolicy and S3.DeleteBucketPolicy: replace a bucket policy with the same document less the statements (or
 * principals) granting an outside account, or delete it when none remain (outside-bucket-policy); undo puts the
 * replaced document back. Every call is pinned to the event's account (ExpectedBucketOwner): bucket names are global.
 */
import { DeleteBucketPolicyCommand, GetBucketPolicyCommand, PutBucketPolicyCommand, type S3Client } from '@aws-sdk/client-s3';
import * as v from 'valibot';
import { hasErrorCode } from '../aws/errors.js';
import { isAccountId, isBucketName, regionArg } from '../aws/names.js';
import { outsidePolicyOf } from '../outside.js';
import { namesOnlyTrusted, policyDocumentOf, samePolicy, statementsOf } from '../outside-principals.js';
import { isPublicStatement } from '../s3/public-access.js';
import { awsCommand, checked } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';

/** S3's limit for a bucket policy is 20 KB. */
const MAX_BUCKET_POLICY = 20_480;
const PolicyText = v.pipe(
  v.string(),
  v.maxLength(MAX_BUCKET_POLICY, 'a bucket policy of at most 20 KB'),
  v.check((text) => text.trim().startsWith('{') && policyDocumentOf(text) !== undefined, 'a JSON policy document'),
);
const Bucket = v.pipe(v.string(), v.check(isBucketName, 'a valid S3 bucket name'));
const Owner = v.optional(v.pipe(v.string(), v.check(isAccountId, 'a 12-digit account id')));

export const PutBucketPolicyParams = v.strictObject({ Bucket, Policy: PolicyText, ExpectedBucketOwner: Owner });
export type PutBucketPolicyParams = v.InferOutput<typeof PutBucketPolicyParams>;
export const DeleteBucketPolicyParams = v.strictObject({ Bucket, ExpectedBucketOwner: Owner });
export type DeleteBucketPolicyParams = v.InferOutput<typeof DeleteBucketPolicyParams>;

/** The document replaced (or deleted), as JSON text: what undo puts back. */
export const BucketPolicyPrevious = v.strictObject({ Policy: PolicyText });
export type BucketPolicyPrevious = v.InferOutput<typeof BucketPolicyPrevious>;

/** The bucket policy now as JSON text, or null when the bucket has none. */
export async function bucketPolicyText(s3: S3Client, bucket: string, owner: string | undefined): Promise<string | null> {
  try {
    const answer = await s3.send(new GetBucketPolicyCommand({ Bucket: bucket, ExpectedBucketOwner: owner }));
    return answer.Policy ?? null;
  } catch (error) {
    if (hasErrorCode(error, 'NoSuchBucketPolicy')) return null;
    throw error;
  }
}

/**
 * Ours when the new policy grants no one outside, as far as the configuration tells (namesOnlyTrusted), and no one
 * as everyone: trailguard only drops statements. The same call by its role granting another account is judged.
 */
export const putBucketPolicySignature = {
  api: 'S3.PutBucketPolicy',
  eventName: 'PutBucketPolicy',
  isOwnWrite(request, caller) {
    if (typeof request !== 'object' || request === null) return false;
    const document = policyDocumentOf((request as Record<string, unknown>).bucketPolicy);
    return (
      document !== undefined && !statementsOf(document).some(isPublicStatement) && namesOnlyTrusted(document, outsidePolicyOf(caller.config), caller.account)
    );
  },
} as const satisfies SelfSignature;

/** A delete only narrows who may reach the bucket: any by trailguard's roles is its own. */
export const deleteBucketPolicySignature = {
  api: 'S3.DeleteBucketPolicy',
  eventName: 'DeleteBucketPolicy',
  isOwnWrite: () => true,
} as const satisfies SelfSignature;

const pinned = (owner: string | undefined) => (owner ? checked(owner, 'account id', isAccountId) : undefined);

export const putBucketPolicy = {
  api: 'S3.PutBucketPolicy',
  iam: 's3:PutBucketPolicy',
  clients: ['s3'],
  params: PutBucketPolicyParams,
  previous: BucketPolicyPrevious,
  // Undo puts the outside grant back: outside-bucket-policy acts on it again unless exempted.
  retriggers: true,
  signature: putBucketPolicySignature,
  async perform({ params }, { s3 }) {
    await s3.send(new PutBucketPolicyCommand(params));
  },
  async verify({ params }, { s3 }) {
    const now = await bucketPolicyText(s3, params.Bucket, params.ExpectedBucketOwner);
    return now !== null && samePolicy(policyDocumentOf(now), policyDocumentOf(params.Policy))
      ? { ok: true, detail: `the policy of ${params.Bucket} reads back as written` }
      : { ok: false, detail: `the policy of ${params.Bucket} reads back ${now === null ? 'as none' : 'other than written'}` };
  },
  reverse({ params, previous, resource, region }): Reversal {
    if (!previous) return { kind: 'none', why: 'the record has no replaced policy in previous.Policy: nothing known to put back' };
    const back = { Bucket: params.Bucket, Policy: previous.Policy, ...(params.ExpectedBucketOwner ? { ExpectedBucketOwner: params.ExpectedBucketOwner } : {}) };
    return { kind: 'steps', steps: [reverseStepOf(putBucketPolicy, { ...resource, region }, back, { Policy: params.Policy })] };
  },
  command: ({ params, region }) =>
    awsCommand('s3api', 'put-bucket-policy', {
      region: regionArg(region),
      bucket: checked(params.Bucket, 'bucket name', isBucketName),
      policy: params.Policy,
      expectedBucketOwner: pinned(params.ExpectedBucketOwner),
    }),
  describe: ({ params }) => `replace the policy of bucket ${params.Bucket} (${statementsOf(policyDocumentOf(params.Policy) ?? {}).length} statements)`,
} satisfies ActionType<PutBucketPolicyParams, BucketPolicyPrevious, 's3'>;

export const deleteBucketPolicy = {
  api: 'S3.DeleteBucketPolicy',
  iam: 's3:DeleteBucketPolicy',
  clients: ['s3'],
  params: DeleteBucketPolicyParams,
  previous: BucketPolicyPrevious,
  retriggers: true,
  signature: deleteBucketPolicySignature,
  async perform({ params }, { s3 }) {
    await s3.send(new DeleteBucketPolicyCommand(params));
  },
  async verify({ params }, { s3 }) {
    const now = await bucketPolicyText(s3, params.Bucket, params.ExpectedBucketOwner);
    return now === null
      ? { ok: true, detail: `${params.Bucket} reads back with no bucket policy` }
      : { ok: false, detail: `${params.Bucket} still has a bucket policy` };
  },
  reverse({ params, previous, resource, region }): Reversal {
    if (!previous) return { kind: 'none', why: 'the record has no deleted policy in previous.Policy: nothing known to put back' };
    const back = { Bucket: params.Bucket, Policy: previous.Policy, ...(params.ExpectedBucketOwner ? { ExpectedBucketOwner: params.ExpectedBucketOwner } : {}) };
    return { kind: 'steps', steps: [reverseStepOf(putBucketPolicy, { ...resource, region }, back)] };
  },
  command: ({ params, region }) =>
    awsCommand('s3api', 'delete-bucket-policy', {
      region: regionArg(region),
      bucket: checked(params.Bucket, 'bucket name', isBucketName),
      expectedBucketOwner: pinned(params.ExpectedBucketOwner),
    }),
  describe: ({ params }) => `delete the policy of bucket ${params.Bucket}`,
} satisfies ActionType<DeleteBucketPolicyParams, BucketPolicyPrevious, 's3'>;
