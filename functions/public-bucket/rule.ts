import { GetBucketAclCommand, GetBucketPolicyStatusCommand, type S3Client } from '@aws-sdk/client-s3';
import * as v from 'valibot';
import { awsCall, hasErrorCode } from '../../shared/aws/errors.js';
import { s3Client } from '../../shared/aws/s3.js';
import type { Config } from '../../shared/config.js';
import { asList, bucketNameFrom, firstString } from '../../shared/events/normalize.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { permissionsOf, planOf, type PlannedAction } from '../../shared/actions/action.js';
import { putPublicAccessBlock } from '../../shared/actions/s3-put-public-access-block.js';
import { PublicAccessBlockPrevious, readPublicAccessBlock } from '../../shared/s3/block-actions.js';
import { compliant, violation, type Decision, type Message, type Rule } from '../../shared/rule.js';
import {
  ALL_BLOCKED,
  disabledSettings,
  PUBLIC_CANNED_ACLS,
  publicGroupOf,
  publicGroupsInGrantHeader,
  publicStatements,
  toPublicAccessBlock,
  type PublicAccessBlock,
} from '../../shared/s3/public-access.js';
import pattern from './pattern.json' with { type: 'json' };

/** What the event says: the bucket, and what the request itself exposed (for offline decisions). */
export interface BucketFacts {
  readonly bucket: string;
  readonly resources: readonly [{ readonly type: 'AWS::S3::Bucket'; readonly id: string }];
  /** The call turned Block Public Access (partly) off: the weakening itself is the violation. */
  readonly weakening: boolean;
  readonly requestExposures: readonly string[];
  /** Pins writes to the event's account: bucket names are global, and a deleted name can be re-created elsewhere. */
  readonly expectedOwner: string | undefined;
}

/** What the bucket looks like now (dry-run and live); policy and ACL are read only when they matter. */
export interface BucketState {
  readonly publicAccessBlock: PublicAccessBlock | null;
  readonly policyPublic?: boolean;
  readonly publicGrants?: readonly string[];
}

type Clients = { readonly s3: S3Client };
type Settings = { readonly enabled: boolean };

/** The one write this rule makes. */
const ACTIONS = [putPublicAccessBlock];

// Bucket names (legacy us-east-1 names allow upper case and _); anything else never reaches an API call.
const BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/;
const GRANT_HEADERS = ['x-amz-grant-read', 'x-amz-grant-read-acp', 'x-amz-grant-write', 'x-amz-grant-write-acp', 'x-amz-grant-full-control'];
const Request = v.looseObject({
  bucketName: v.pipe(v.string(), v.transform(bucketNameFrom), v.regex(BUCKET_NAME, 'a valid S3 bucket name')),
});

function requestExposures(eventName: string, request: Record<string, unknown>): string[] {
  const found: string[] = [];
  const canned = firstString(request['x-amz-acl']);
  if (canned && PUBLIC_CANNED_ACLS.has(canned)) found.push(`canned ACL ${canned}`);
  for (const header of GRANT_HEADERS) {
    const value = firstString(request[header]);
    for (const group of value ? publicGroupsInGrantHeader(value) : []) found.push(`${header} to ${group}`);
  }
  const acl = request.AccessControlPolicy as { AccessControlList?: { Grant?: unknown } } | undefined;
  // `Grant` is a list, or one object when there is one grant (docs/cloudtrail-shapes.md#lists).
  for (const grant of asList(acl?.AccessControlList?.Grant as unknown)) {
    const g = grant as { Grantee?: { URI?: unknown }; Permission?: unknown } | null;
    const group = publicGroupOf(g?.Grantee?.URI);
    if (group) found.push(`ACL grants ${String(g?.Permission ?? 'access')} to ${group}`);
  }
  if (eventName === 'PutBucketPolicy') {
    const sids = publicStatements(policyOf(request.bucketPolicy));
    if (sids.length > 0) found.push(`policy allows everyone without a restricting condition (statement ${sids.join(', ')})`);
  }
  if (eventName === 'DeleteBucketPublicAccessBlock') found.push('Block Public Access removed');
  if (eventName === 'PutBucketPublicAccessBlock') {
    const off = disabledSettings(toPublicAccessBlock(request.PublicAccessBlockConfiguration));
    if (off.length > 0) found.push(`Block Public Access weakened (${off.join(', ')} off)`);
  }
  return found;
}

/** `bucketPolicy` is a parsed object in real records (S/s3-PutBucketPolicy-principal-star-records-file.json); accept a JSON string too. */
function policyOf(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

function plan(facts: BucketFacts, previous: PublicAccessBlock | null | undefined): PlannedAction {
  const params = {
    Bucket: facts.bucket,
    PublicAccessBlockConfiguration: ALL_BLOCKED,
    ...(facts.expectedOwner ? { ExpectedBucketOwner: facts.expectedOwner } : {}),
  };
  return planOf(putPublicAccessBlock, facts.resources[0], params, previous === undefined ? undefined : { PublicAccessBlockConfiguration: previous });
}

function decide(facts: BucketFacts, state: BucketState | undefined): Decision {
  const { bucket, resources } = facts;
  if (!state) {
    // Offline has only the request.
    if (facts.requestExposures.length === 0) return compliant(`the request does not make ${bucket} public`, resources);
    return violation(
      `${bucket} exposed by the request: ${facts.requestExposures.join('; ')}`,
      'HIGH',
      resources,
      [plan(facts, undefined)],
      facts.weakening ? 'block-public-access-off' : 'bucket-public',
    );
  }
  // Dry-run and live decide on the bucket as it is now: the event may be stale or already fixed.
  const off = disabledSettings(state.publicAccessBlock);
  if (off.length === 0) return compliant(`Block Public Access is fully on for ${bucket}`, resources);
  // A weakening (the call, or the sweep finding the block not fully on) is the violation itself; the policy and ACL
  // are not read then, so the bucket is not called public: nothing stops it being made public any more.
  if (facts.weakening) {
    return violation(
      `${bucket}: Block Public Access is off (${off.join(', ')}): nothing stops a policy or ACL from making it public`,
      'HIGH',
      resources,
      [plan(facts, state.publicAccessBlock)],
      'block-public-access-off',
    );
  }
  const exposures: string[] = [];
  if (state.policyPublic && !state.publicAccessBlock?.RestrictPublicBuckets) exposures.push('the bucket policy is public');
  if (state.publicGrants?.length && !state.publicAccessBlock?.IgnorePublicAcls) exposures.push(`the ACL grants ${state.publicGrants.join(', ')}`);
  if (exposures.length === 0) return compliant(`${bucket} is not public (policy and ACL are private)`, resources);
  return violation(`${bucket} is public: ${exposures.join('; ')}`, 'HIGH', resources, [plan(facts, state.publicAccessBlock)], 'bucket-public');
}

async function inspect(facts: BucketFacts, { s3 }: Clients): Promise<BucketState> {
  const { bucket, expectedOwner: owner } = facts;
  const publicAccessBlock = await readPublicAccessBlock(s3, bucket, owner);
  // Fully blocked, or a weakening call: the block alone decides, so no further reads.
  if (disabledSettings(publicAccessBlock).length === 0 || facts.weakening) return { publicAccessBlock };
  const [policyPublic, publicGrants] = await Promise.all([
    awsCall('S3.GetBucketPolicyStatus', bucket, async () => {
      try {
        const answer = await s3.send(new GetBucketPolicyStatusCommand({ Bucket: bucket, ExpectedBucketOwner: owner }));
        return answer.PolicyStatus?.IsPublic === true;
      } catch (error) {
        if (hasErrorCode(error, 'NoSuchBucketPolicy')) return false; // no policy, nothing public in it
        throw error;
      }
    }),
    awsCall('S3.GetBucketAcl', bucket, async () => {
      const answer = await s3.send(new GetBucketAclCommand({ Bucket: bucket, ExpectedBucketOwner: owner }));
      return (answer.Grants ?? []).flatMap((grant) => {
        const group = publicGroupOf(grant.Grantee?.URI);
        return group ? [`${grant.Permission ?? 'access'} to ${group}`] : [];
      });
    }),
  ]);
  return { publicAccessBlock, policyPublic, publicGrants };
}

function titleFor(outcome: string, bucket: string): string {
  switch (outcome) {
    case 'remediated':
      return `Public access blocked on S3 bucket ${bucket}`;
    case 'would-remediate':
      return `Would block public access on S3 bucket ${bucket}`;
    case 'failed':
      return `FAILED to block public access on S3 bucket ${bucket}`;
    default:
      return `S3 bucket ${bucket}: ${outcome}`;
  }
}

export const publicBucket = {
  id: 'public-bucket',
  // The bucket-level block (S3.8); S3.1 is the account-level one, which this rule does not set.
  controls: { other: ['S3.8'] },
  pattern: pattern as EventPattern,
  permissions: {
    'S3.GetPublicAccessBlock': 's3:GetBucketPublicAccessBlock',
    'S3.GetBucketPolicyStatus': 's3:GetBucketPolicyStatus',
    'S3.GetBucketAcl': 's3:GetBucketAcl',
    ...permissionsOf(ACTIONS),
  },
  actions: ACTIONS,
  settings: (config: Config) => config.rules['public-bucket'],
  clients: (options) => ({ s3: s3Client(options) }),
  parse({ record, event }) {
    const { bucketName: bucket } = parseWith(Request, record.requestParameters, 'detail.requestParameters', event.id);
    const request = record.requestParameters as Record<string, unknown>;
    const exposures = requestExposures(record.eventName, request);
    return {
      bucket,
      resources: [{ type: 'AWS::S3::Bucket', id: bucket }],
      weakening: record.eventName === 'DeleteBucketPublicAccessBlock' || record.eventName === 'PutBucketPublicAccessBlock',
      requestExposures: exposures,
      expectedOwner: event.account && /^\d{12}$/.test(event.account) ? event.account : undefined,
    };
  },
  inspect,
  decide,
  message(record): Message {
    const bucket = record.resources[0]?.id ?? 'unknown';
    const previous = v.safeParse(PublicAccessBlockPrevious, record.actions[0]?.previous);
    // The command that reverses it is added by the notifier, from the action type (as report and undo print it).
    const lines = previous.success
      ? [
          `Block Public Access before: ${previous.output.PublicAccessBlockConfiguration ? JSON.stringify(previous.output.PublicAccessBlockConfiguration) : 'none set'}`,
        ]
      : [`Planned: turn on all four Block Public Access settings of ${bucket}`];
    return { title: titleFor(record.outcome, bucket), lines };
  },
} satisfies Rule<BucketFacts, BucketState, Clients, Settings>;
