import { GetPublicAccessBlockCommand, paginateListBuckets, type S3Client } from '@aws-sdk/client-s3';
import { awsCall, hasErrorCode } from '../../shared/aws/errors.js';
import { s3Client } from '../../shared/aws/s3.js';
import { classifiedPages, type Sweep, type SweepScope, type SweepStep } from '../../shared/runner/sweep.js';
import { disabledSettings, toPublicAccessBlock } from '../../shared/s3/public-access.js';
import { publicBucket, type BucketFacts } from './rule.js';

// ListBuckets takes up to 10,000 per page; 1,000 keeps a page's memory and latency small.
const PAGE_SIZE = 1000;
// GetPublicAccessBlock calls in flight at once: fast through large accounts, far below S3's request rates.
const READS_IN_FLIGHT = 8;

type Clients = { readonly s3: S3Client };

/** null: no block set at all (NoSuchPublicAccessBlockConfiguration); undefined: the bucket is gone. */
async function offSettings(s3: S3Client, bucket: string, owner: string | undefined): Promise<readonly string[] | undefined> {
  return awsCall('S3.GetPublicAccessBlock', bucket, async () => {
    try {
      const answer = await s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket, ExpectedBucketOwner: owner }));
      return disabledSettings(toPublicAccessBlock(answer.PublicAccessBlockConfiguration));
    } catch (error) {
      if (hasErrorCode(error, 'NoSuchPublicAccessBlockConfiguration')) return disabledSettings(null);
      if (hasErrorCode(error, 'NoSuchBucket')) return undefined; // deleted since the list: nothing to sweep
      throw error;
    }
  });
}

/** The facts of a bucket whose Block Public Access is not fully on: the weakening itself is the violation, as for a DeleteBucketPublicAccessBlock. */
export function bucketFacts(bucket: string, account: string | undefined): BucketFacts {
  return {
    bucket,
    resources: [{ type: 'AWS::S3::Bucket', id: bucket }],
    weakening: true,
    requestExposures: [],
    expectedOwner: account && /^\d{12}$/.test(account) ? account : undefined,
  };
}

/**
 * Candidates: the region's buckets (ListBuckets filtered by BucketRegion) whose Block Public Access is not
 * fully on. The rule re-reads the block before deciding, and pins every write to the account.
 */
async function* scan({ s3 }: Clients, _settings: unknown, scope: SweepScope): AsyncGenerator<SweepStep<BucketFacts>> {
  const pages = paginateListBuckets({ client: s3, pageSize: PAGE_SIZE }, { BucketRegion: scope.region, MaxBuckets: PAGE_SIZE });
  let token: string | undefined;
  for await (const page of classifiedPages('S3.ListBuckets', scope.region, pages)) {
    const names = (page.Buckets ?? []).flatMap((b) => (b.Name ? [b.Name] : []));
    for (let i = 0; i < names.length; i += READS_IN_FLIGHT) {
      const chunk = names.slice(i, i + READS_IN_FLIGHT);
      const off = await Promise.all(chunk.map((name) => offSettings(s3, name, bucketFacts(name, scope.account).expectedOwner)));
      const rest = names[i + READS_IN_FLIGHT];
      const next = rest
        ? `bucket ${rest} of the ListBuckets page${token ? ` from token ${token}` : ''}`
        : page.ContinuationToken
          ? `ListBuckets page token ${page.ContinuationToken}`
          : 'done';
      yield { kind: 'page', scanned: chunk.length, next };
      for (const [index, name] of chunk.entries()) {
        if (off[index]?.length) yield { kind: 'finding', resource: name, facts: bucketFacts(name, scope.account) };
      }
    }
    token = page.ContinuationToken;
  }
}

/** The public-bucket sweep: buckets of this region without full Block Public Access. */
export const publicBucketSweep = {
  rule: publicBucket,
  permissions: { 'S3.ListBuckets': 's3:ListAllMyBuckets' },
  clients: (options) => ({ s3: s3Client({ ...options, readOnly: true }) }),
  scan,
} satisfies Sweep<typeof publicBucket, BucketFacts, Clients>;
