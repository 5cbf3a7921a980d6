import { DescribeTrailsCommand, type CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import * as v from 'valibot';
import { cloudTrailClient } from '../../shared/aws/cloudtrail.js';
import { awsCall } from '../../shared/aws/errors.js';
import type { Config } from '../../shared/config.js';
import { alert, compliant, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import pattern from './pattern.json' with { type: 'json' };

const BucketRequest = v.looseObject({ bucketName: v.pipe(v.string(), v.minLength(1), v.maxLength(255)) });

interface BucketFacts {
  readonly resources: readonly [ResourceRef];
  readonly bucket: string;
  readonly region: string;
}

/** The trails (as DescribeTrails sees them from the event's region) that deliver to the deleted bucket. */
interface TrailUse {
  readonly trails: readonly string[];
}

type Clients = { readonly cloudTrail: CloudTrailClient };
type Settings = Config['rules']['s3-bucket-deleted'];

function parse({ record, event }: EventContext): BucketFacts {
  const { bucketName } = parseWith(BucketRequest, record.requestParameters, 'detail.requestParameters', event.id);
  return { resources: [{ type: 'AWS::S3::Bucket', id: bucketName }], bucket: bucketName, region: record.awsRegion || event.region };
}

// includeShadowTrails: multi-Region and organisation trails homed elsewhere are listed too; a single-Region
// trail of another Region is not, and the reason says from where it looked.
async function inspect(facts: BucketFacts, { cloudTrail }: Clients): Promise<TrailUse> {
  const answer = await awsCall('CloudTrail.DescribeTrails', facts.bucket, () => cloudTrail.send(new DescribeTrailsCommand({ includeShadowTrails: true })));
  const trails = (answer.trailList ?? []).filter((trail) => trail.S3BucketName === facts.bucket).map((trail) => trail.TrailARN ?? trail.Name ?? 'unnamed');
  return { trails: [...new Set(trails)] };
}

function decide(facts: BucketFacts, state: TrailUse | undefined): Decision {
  const deleted = `S3 bucket ${facts.bucket} was deleted`;
  if (!state) return alert(`${deleted}; whether it held this account's CloudTrail logs could not be checked (offline: no DescribeTrails)`, 'MEDIUM', facts.resources);
  if (state.trails.length > 0) {
    return alert(`${deleted}: it held the CloudTrail logs of ${state.trails.join(', ')}; those logs are gone and the trail cannot deliver until its bucket exists again`, 'CRITICAL', facts.resources);
  }
  return alert(`${deleted}; it held no CloudTrail logs of this account (no trail seen from ${facts.region} delivers to it)`, 'LOW', facts.resources);
}

/** DeleteBucket, saying whether the bucket held this account's CloudTrail logs (a trail's S3BucketName). */
export const s3BucketDeleted = alertRule<BucketFacts, TrailUse, Clients, Settings>({
  id: 's3-bucket-deleted',
  pattern: pattern as EventPattern,
  settings: (config: Config) => config.rules['s3-bucket-deleted'],
  parse,
  reads: {
    permissions: { 'CloudTrail.DescribeTrails': 'cloudtrail:DescribeTrails' },
    clients: (options) => ({ cloudTrail: cloudTrailClient(options) }),
    inspect,
  },
  decide: (facts, state) => decide(facts, state),
  // A failed DeleteBucket (BucketNotEmpty, AccessDenied, NoSuchBucket) deleted nothing.
  failedCall: (record) => compliant(`the DeleteBucket call failed (${record.errorCode ?? 'error'}): no bucket was deleted`),
  title: (record) => `S3 bucket deleted${record.severity === 'CRITICAL' ? ' (CloudTrail logs)' : ''}: ${record.resources[0]?.id ?? 'unknown'}`,
  checkNext: (record) => [
    'was the deletion planned (a stack deletion, a cleanup job)? The actor and user agent are below',
    record.severity === 'CRITICAL'
      ? 'recreate the bucket with the trail\'s bucket policy at once (aws cloudtrail get-trail-status shows LatestDeliveryError meanwhile); the deleted logs are only in copies (replication, the organisation trail)'
      : `trails that deliver to it from other Regions: aws cloudtrail describe-trails --region <region> (look for S3BucketName ${record.resources[0]?.id ?? ''})`,
  ],
});
