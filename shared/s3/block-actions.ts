/** Block Public Access, as the S3 actions read, validate and name it (shared by Put and Delete, which reverse each other). */
import { GetPublicAccessBlockCommand, type S3Client } from '@aws-sdk/client-s3';
import * as v from 'valibot';
import type { Step } from '../actions/action.js';
import { awsCall, hasErrorCode } from '../aws/errors.js';
import { isAccountId, isBucketName, regionArg } from '../aws/names.js';
import { checked } from '../shell.js';
import { toPublicAccessBlock, type PublicAccessBlock } from './public-access.js';

const Flag = v.boolean();
export const Block = v.strictObject({ BlockPublicAcls: Flag, IgnorePublicAcls: Flag, BlockPublicPolicy: Flag, RestrictPublicBuckets: Flag });

/** What the write replaced: the bucket's configuration, or null when it had none. */
export const PublicAccessBlockPrevious = v.strictObject({ PublicAccessBlockConfiguration: v.nullable(Block) });
export type PublicAccessBlockPrevious = v.InferOutput<typeof PublicAccessBlockPrevious>;

/** The bucket's Block Public Access configuration now; null when none is set. */
export async function readPublicAccessBlock(s3: S3Client, bucket: string, owner: string | undefined): Promise<PublicAccessBlock | null> {
  return awsCall('S3.GetPublicAccessBlock', bucket, async () => {
    try {
      const answer = await s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket, ExpectedBucketOwner: owner }));
      return toPublicAccessBlock(answer.PublicAccessBlockConfiguration);
    } catch (error) {
      if (hasErrorCode(error, 'NoSuchPublicAccessBlockConfiguration')) return null; // no block set at all
      throw error;
    }
  });
}

/** `--bucket`, `--expected-bucket-owner` and `--region` of a bucket call, each refused (no command) unless S3 would take it. */
export function bucketFlags(step: Step<{ readonly Bucket: string; readonly ExpectedBucketOwner?: string | undefined }, unknown>) {
  const owner = step.params.ExpectedBucketOwner;
  return {
    region: regionArg(step.region),
    bucket: checked(step.params.Bucket, 'bucket name', isBucketName),
    ...(owner === undefined ? {} : { expectedBucketOwner: checked(owner, 'account id', isAccountId) }),
  };
}
