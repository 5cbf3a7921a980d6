/** S3.PutPublicAccessBlock: turns Block Public Access on for a bucket (public-bucket), or puts an earlier setting back (undo). */
import { PutPublicAccessBlockCommand } from '@aws-sdk/client-s3';
import * as v from 'valibot';
import { isAccountId, isBucketName } from '../aws/names.js';
import { Block, bucketFlags, PublicAccessBlockPrevious, readPublicAccessBlock } from '../s3/block-actions.js';
import { disabledSettings, toPublicAccessBlock, type PublicAccessBlock } from '../s3/public-access.js';
import { awsCommand } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';
import { deletePublicAccessBlock } from './s3-delete-public-access-block.js';

/** The SDK input, as trailguard writes it: the bucket, the four flags, and the owner the write is pinned to. */
export const PutPublicAccessBlockParams = v.strictObject({
  Bucket: v.pipe(v.string(), v.check(isBucketName, 'a valid S3 bucket name')),
  PublicAccessBlockConfiguration: Block,
  ExpectedBucketOwner: v.optional(v.pipe(v.string(), v.check(isAccountId, 'a 12-digit account id'))),
});
export type PutPublicAccessBlockParams = v.InferOutput<typeof PutPublicAccessBlockParams>;

const isAllBlocked = (block: PublicAccessBlock) => disabledSettings(block).length === 0;

/**
 * All four flags `true` (booleans: a string "true" is no SDK call of ours). The flags sit in
 * `PublicAccessBlockConfiguration` next to `xmlns` in CloudTrail (S/s3-PutBucketPublicAccessBlock-flags-false-envelope.json).
 */
export const putPublicAccessBlockSignature = {
  api: 'S3.PutPublicAccessBlock',
  eventName: 'PutBucketPublicAccessBlock',
  isOwnWrite(request) {
    const block = typeof request === 'object' && request !== null ? (request as Record<string, unknown>).PublicAccessBlockConfiguration : undefined;
    if (typeof block !== 'object' || block === null) return false;
    const flags = block as Record<string, unknown>;
    return flags.BlockPublicAcls === true && flags.IgnorePublicAcls === true && flags.BlockPublicPolicy === true && flags.RestrictPublicBuckets === true;
  },
} as const satisfies SelfSignature;

export const putPublicAccessBlock = {
  // A literal, not `putPublicAccessBlockSignature.api`: a property read at module level keeps esbuild from dropping this
  // object (and its SDK commands) from bundles that import only the signature. A test holds the two equal.
  api: 'S3.PutPublicAccessBlock',
  iam: 's3:PutBucketPublicAccessBlock',
  clients: ['s3'],
  params: PutPublicAccessBlockParams,
  previous: PublicAccessBlockPrevious,
  retriggers: true,
  signature: putPublicAccessBlockSignature,
  async perform({ params }, { s3 }) {
    await s3.send(new PutPublicAccessBlockCommand(params));
  },
  async verify({ params }, { s3 }) {
    const block = await readPublicAccessBlock(s3, params.Bucket, params.ExpectedBucketOwner);
    const wanted = params.PublicAccessBlockConfiguration;
    if (block !== null && JSON.stringify(block) === JSON.stringify(toPublicAccessBlock(wanted))) {
      return {
        ok: true,
        detail: isAllBlocked(wanted) ? 'all four Block Public Access settings read back as true' : `${params.Bucket} reads back with ${JSON.stringify(block)}`,
      };
    }
    const off = disabledSettings(block);
    return {
      ok: false,
      detail:
        block === null ? `${params.Bucket} reads back with no Block Public Access configuration` : `read back with ${off.join(', ') || 'no setting'} still off`,
    };
  },
  reverse(step): Reversal {
    const { previous, params, resource, region } = step;
    if (!previous) return { kind: 'none', why: 'the record has no earlier Block Public Access setting (it was not read): nothing known to put back' };
    const at = { ...resource, region };
    const owner = params.ExpectedBucketOwner === undefined ? {} : { ExpectedBucketOwner: params.ExpectedBucketOwner };
    const before = previous.PublicAccessBlockConfiguration;
    return {
      kind: 'steps',
      steps: [
        before === null
          ? reverseStepOf(
              deletePublicAccessBlock,
              at,
              { Bucket: params.Bucket, ...owner },
              { PublicAccessBlockConfiguration: params.PublicAccessBlockConfiguration },
            )
          : reverseStepOf(
              putPublicAccessBlock,
              at,
              { Bucket: params.Bucket, PublicAccessBlockConfiguration: before, ...owner },
              { PublicAccessBlockConfiguration: params.PublicAccessBlockConfiguration },
            ),
      ],
    };
  },
  command(step) {
    return awsCommand('s3api', 'put-public-access-block', {
      ...bucketFlags(step),
      publicAccessBlockConfiguration: JSON.stringify(step.params.PublicAccessBlockConfiguration),
    });
  },
  describe({ params }) {
    const block = params.PublicAccessBlockConfiguration;
    return isAllBlocked(block)
      ? `turn on all four Block Public Access settings of ${params.Bucket}`
      : `set the Block Public Access configuration of ${params.Bucket} to ${JSON.stringify(block)}`;
  },
} as const satisfies ActionType<PutPublicAccessBlockParams, PublicAccessBlockPrevious, 's3'>;
