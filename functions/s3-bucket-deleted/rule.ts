import { DescribeTrailsCommand, type CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import * as v from 'valibot';
import { cloudTrailClient } from '../../shared/aws/cloudtrail.js';
import { awsCall } from '../../shared/aws/errors.js';
import type { Config } from '../../shared/config.js';
import { AwsCallError, type AwsErrorKind } from '../../shared/errors.js';
import { alert, compliant, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { isBucketName, regionArg } from '../../shared/aws/names.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { awsCommand, checked, noCommand, placeholder } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const BucketRequest = v.looseObject({ bucketName: v.pipe(v.string(), v.minLength(1), v.maxLength(255)) });

interface BucketFacts {
  readonly resources: readonly [ResourceRef];
  readonly bucket: string;
  readonly region: string;
}

/**
 * The trails (as DescribeTrails sees them from the event's region) that deliver to the deleted bucket, or
 * why that could not be read (the call was denied or refused: it stays an alert about the bucket).
 */
type TrailUse =
  | { readonly checked: true; readonly trails: readonly string[] }
  | { readonly checked: false; readonly kind: Exclude<AwsErrorKind, 'transient'>; readonly code: string };

const DESCRIBE_TRAILS = 'CloudTrail.DescribeTrails';
const PERMISSIONS = { [DESCRIBE_TRAILS]: 'cloudtrail:DescribeTrails' } as const;

type Clients = { readonly cloudTrail: CloudTrailClient };
type Settings = Config['rules']['s3-bucket-deleted'];

/**
 * What this rule reports: a deleted bucket that held a trail's logs (CRITICAL), one that held none (LOW), and one
 * not checked: offline (MEDIUM), or because DescribeTrails was denied or refused (HIGH).
 */
export const FINDINGS = ['trail-bucket-deleted', 'bucket-deleted', 'bucket-deleted-unchecked', 'trail-check-failed'] as const;
type Finding = (typeof FINDINGS)[number];

function parse({ record, event }: EventContext): BucketFacts {
  const { bucketName } = parseWith(BucketRequest, record.requestParameters, 'detail.requestParameters', event.id);
  return { resources: [{ type: 'AWS::S3::Bucket', id: bucketName }], bucket: bucketName, region: record.awsRegion || event.region };
}

// includeShadowTrails: multi-Region and organisation trails homed elsewhere are listed too; a single-Region
// trail of another Region is not, and the reason says from where it looked.
// A failed read must not cost the alert: the bucket is deleted either way, so a denied or refused
// DescribeTrails becomes an "unchecked" alert naming the bucket (else the record is `failed` with no resource).
// Transient failures are rethrown, so Lambda/EventBridge retry and the retry can still check.
async function inspect(facts: BucketFacts, { cloudTrail }: Clients): Promise<TrailUse> {
  try {
    const answer = await awsCall(DESCRIBE_TRAILS, facts.bucket, () => cloudTrail.send(new DescribeTrailsCommand({ includeShadowTrails: true })));
    const trails = (answer.trailList ?? []).filter((trail) => trail.S3BucketName === facts.bucket).map((trail) => trail.TrailARN ?? trail.Name ?? 'unnamed');
    return { checked: true, trails: [...new Set(trails)] };
  } catch (error) {
    if (!(error instanceof AwsCallError) || error.kind === 'transient') throw error;
    return { checked: false, kind: error.kind, code: error.code };
  }
}

function uncheckedBecause(state: Extract<TrailUse, { checked: false }>): string {
  const permission = PERMISSIONS[DESCRIBE_TRAILS];
  return state.kind === 'denied'
    ? `${DESCRIBE_TRAILS} was denied (${state.code}): the role needs ${permission}, or an SCP blocks it`
    : `${DESCRIBE_TRAILS} (${permission}) failed: ${state.code} (${state.kind})`;
}

function decide(facts: BucketFacts, state: TrailUse | undefined): Decision {
  const deleted = `S3 bucket ${facts.bucket} was deleted`;
  if (!state)
    return alert(
      `${deleted}; whether it held this account's CloudTrail logs could not be checked (offline: no DescribeTrails)`,
      'MEDIUM',
      facts.resources,
      'bucket-deleted-unchecked',
    );
  // HIGH, not MEDIUM: it may have been a trail's bucket, and whatever blocks the read may block more.
  if (!state.checked)
    return alert(
      `${deleted}; whether it held this account's CloudTrail logs could not be checked: ${uncheckedBecause(state)}`,
      'HIGH',
      facts.resources,
      'trail-check-failed',
    );
  if (state.trails.length > 0) {
    return alert(
      `${deleted}: it held the CloudTrail logs of ${state.trails.join(', ')}; those logs are gone and the trail cannot deliver until its bucket exists again`,
      'CRITICAL',
      facts.resources,
      'trail-bucket-deleted',
    );
  }
  return alert(
    `${deleted}; it held no CloudTrail logs of this account (no trail seen from ${facts.region} delivers to it)`,
    'LOW',
    facts.resources,
    'bucket-deleted',
  );
}

/**
 * DescribeTrails filtered to the trails writing to the bucket. The name sits in a JMESPath JSON literal inside
 * the quoted query, so only a valid bucket name (no quote or backtick can occur in one) goes in.
 */
function trailsOfBucket(bucket: string | undefined): string {
  const name = checked(bucket, 'bucket name', isBucketName);
  if ('invalid' in name) return noCommand(name.invalid);
  return awsCommand('cloudtrail', 'describe-trails', {
    region: placeholder('<region>'),
    query: `trailList[?S3BucketName==\`${JSON.stringify(name.valid)}\`].TrailARN`,
  });
}

/** DeleteBucket, saying whether the bucket held this account's CloudTrail logs (a trail's S3BucketName). */
export const s3BucketDeleted = alertRule<BucketFacts, TrailUse, Clients, Settings, Finding>({
  id: 's3-bucket-deleted',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['s3-bucket-deleted'],
  parse,
  reads: {
    permissions: PERMISSIONS,
    clients: (options) => ({ cloudTrail: cloudTrailClient(options) }),
    inspect,
  },
  decide: (facts, state) => decide(facts, state),
  // A failed DeleteBucket (BucketNotEmpty, AccessDenied, NoSuchBucket) deleted nothing.
  failedCall: (record) => compliant(`the DeleteBucket call failed (${record.errorCode ?? 'error'}): no bucket was deleted`),
  title: (record, finding) => `S3 bucket deleted${finding === 'trail-bucket-deleted' ? ' (CloudTrail logs)' : ''}: ${record.resources[0]?.id ?? 'unknown'}`,
  checkNext: (record, finding) => [
    'was the deletion planned (a stack deletion, a cleanup job)? The actor and user agent are below',
    ...(finding === 'trail-check-failed'
      ? [
          `whether it was a trail's bucket, by hand: ${awsCommand('cloudtrail', 'describe-trails', { includeShadowTrails: true, region: regionArg(record.region) })}; then fix what blocked ${PERMISSIONS[DESCRIBE_TRAILS]}`,
        ]
      : []),
    finding === 'trail-bucket-deleted'
      ? 'recreate the bucket, with the bucket policy the trail needs, at once (aws cloudtrail get-trail-status shows LatestDeliveryError meanwhile); the deleted logs are only in copies (replication, the organisation trail)'
      : `trails that deliver to it from other Regions: ${trailsOfBucket(record.resources[0]?.id)}`,
  ],
});
