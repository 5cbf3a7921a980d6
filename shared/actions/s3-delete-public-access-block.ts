/** S3.DeletePublicAccessBlock: removes a bucket's Block Public Access configuration (undo, when it had none before). */
import { DeletePublicAccessBlockCommand } from '@aws-sdk/client-s3';
import * as v from 'valibot';
import { isAccountId, isBucketName } from '../aws/names.js';
import { awsCommand } from '../shell.js';
import type { ActionType } from './action.js';
import { bucketFlags, PublicAccessBlockPrevious, readPublicAccessBlock } from '../s3/block-actions.js';

export const DeletePublicAccessBlockParams = v.strictObject({
  Bucket: v.pipe(v.string(), v.check(isBucketName, 'a valid S3 bucket name')),
  ExpectedBucketOwner: v.optional(v.pipe(v.string(), v.check(isAccountId, 'a 12-digit account id'))),
});
export type DeletePublicAccessBlockParams = v.InferOutput<typeof DeletePublicAccessBlockParams>;

export const deletePublicAccessBlock = {
  api: 'S3.DeletePublicAccessBlock',
  // S3 has no separate IAM action for the delete.
  iam: 's3:PutBucketPublicAccessBlock',
  clients: ['s3'],
  params: DeletePublicAccessBlockParams,
  previous: PublicAccessBlockPrevious,
  retriggers: true,
  async perform({ params }, { s3 }) {
    await s3.send(new DeletePublicAccessBlockCommand(params));
  },
  async verify({ params }, { s3 }) {
    const block = await readPublicAccessBlock(s3, params.Bucket, params.ExpectedBucketOwner);
    return block === null
      ? { ok: true, detail: `${params.Bucket} reads back with no Block Public Access configuration` }
      : { ok: false, detail: `${params.Bucket} has ${JSON.stringify(block)}` };
  },
  reverse: () => ({ kind: 'none', why: "an operator's undo: to remediate again, remove its exemption and replay the event with --mode live" }),
  command: (step) => awsCommand('s3api', 'delete-public-access-block', bucketFlags(step)),
  describe: ({ params }) => `remove the Block Public Access configuration of ${params.Bucket} (it had none before)`,
} as const satisfies ActionType<DeletePublicAccessBlockParams, v.InferOutput<typeof PublicAccessBlockPrevious>, 's3'>;
