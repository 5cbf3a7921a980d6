import type { S3Client } from '@aws-sdk/client-s3';
import * as v from 'valibot';
import { permissionsOf, planOf, stepOf, type PlannedAction } from '../../shared/actions/action.js';
import { bucketPolicyText, deleteBucketPolicy, putBucketPolicy } from '../../shared/actions/s3-bucket-policy.js';
import { awsCall } from '../../shared/aws/errors.js';
import { organizationAccounts } from '../../shared/aws/organizations.js';
import { s3Client } from '../../shared/aws/s3.js';
import type { Config } from '../../shared/config.js';
import { ParseError } from '../../shared/errors.js';
import { bucketNameFrom } from '../../shared/events/normalize.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { listedForReason, orgWithoutReading, outsidePolicyOf, type OrgAccounts, type OutsidePolicy } from '../../shared/outside.js';
import { admissionsOf, policyDocumentOf, withoutAdmissions, type Admission, type PolicyDocument } from '../../shared/outside-principals.js';
import { alert, compliant, violation, whereOf, type Decision, type Message, type Rule, type RunContext } from '../../shared/rule.js';
import { isPublicStatement } from '../../shared/s3/public-access.js';
import { isBucketName } from '../../shared/aws/names.js';
import { awsCommand, checked } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

/** What the event says: the bucket, the policy the call put, and the owner every call is pinned to. */
export interface BucketPolicyFacts {
  readonly bucket: string;
  readonly resources: readonly [{ readonly type: 'AWS::S3::Bucket'; readonly id: string }];
  readonly document: PolicyDocument;
  readonly expectedOwner: string | undefined;
}

/** The bucket policy now (JSON text, or null when there is none) and the organisation's accounts. */
export interface BucketPolicyState {
  readonly current: string | null;
  readonly org: OrgAccounts;
}

type Clients = { readonly s3: S3Client; readonly orgAccounts: () => Promise<OrgAccounts> };
type Settings = { readonly enabled: boolean; readonly remediate: boolean; readonly outside: OutsidePolicy };

const ACTIONS = [putBucketPolicy, deleteBucketPolicy];
const GET_POLICY = 'S3.GetBucketPolicy';
const LIST_ACCOUNTS = 'Organizations.ListAccounts';

/** A named outside account may reach the bucket; (alerted, left) one it could not judge. */
export const FINDINGS = ['policy-outside', 'policy-unjudged'] as const;

const BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/;
const Request = v.looseObject({
  bucketName: v.pipe(v.string(), v.transform(bucketNameFrom), v.regex(BUCKET_NAME, 'a valid S3 bucket name')),
  bucketPolicy: v.optional(v.unknown()),
});

/**
 * The statements this rule judges: Allow statements that are not public. A statement granting everyone is left to
 * the rule that turns Block Public Access on, so exactly one rule acts on it, whatever accounts it also names.
 */
const notPublic = (statement: Record<string, unknown>) => !isPublicStatement(statement);

/**
 * The named principals a policy admits. A `*` left after the public test is narrowed by a condition (a VPC endpoint,
 * a source address, an organisation): the public rule judged it not public, and it names no account to remove.
 */
const namedAdmissions = (document: PolicyDocument, view: Parameters<typeof admissionsOf>[1]) =>
  admissionsOf(document, view, notPublic).filter((a) => a.grantee?.kind !== 'public');

const whys = (list: readonly Admission[]) => listedForReason(list.map((a) => a.judgement.why));

function plan(facts: BucketPolicyFacts, current: PolicyDocument, dropped: readonly Admission[], read: boolean): PlannedAction {
  const { document, statements } = withoutAdmissions(current, dropped);
  const owner = facts.expectedOwner ? { ExpectedBucketOwner: facts.expectedOwner } : {};
  const previous = read ? { Policy: JSON.stringify(current) } : undefined;
  return statements === 0
    ? planOf(deleteBucketPolicy, facts.resources[0], { Bucket: facts.bucket, ...owner }, previous)
    : planOf(putBucketPolicy, facts.resources[0], { Bucket: facts.bucket, Policy: JSON.stringify(document), ...owner }, previous);
}

function decide(facts: BucketPolicyFacts, state: BucketPolicyState | undefined, settings: Settings, context: RunContext): Decision {
  const { bucket, resources } = facts;
  const org = state?.org ?? orgWithoutReading(settings.outside, "offline: no calls, so the organisation's accounts were not read");
  const view = { policy: settings.outside, ownAccount: whereOf(context).account, org };
  const asked = namedAdmissions(facts.document, view).filter((a) => a.judgement.outside !== false);
  if (asked.length === 0)
    return compliant(`the policy of ${bucket} grants no named account outside (a grant to everyone is left to the rule that blocks public access)`, resources);
  // Dry-run and live decide from the policy now: a grant removed since (by a person, or an earlier run) is not removed again.
  if (state && state.current === null) return compliant(`${bucket} has no bucket policy now`, resources);
  const currentDocument = state ? policyDocumentOf(state.current) : facts.document;
  if (!currentDocument) return alert(`the policy of ${bucket} did not read as JSON: judge it by hand`, 'HIGH', resources, 'policy-unjudged');
  const askedValues = new Set(asked.map((a) => a.value));
  const now = namedAdmissions(currentDocument, view).filter((a) => askedValues.has(a.value));
  const targets = now.filter((a) => a.judgement.outside === true);
  const unjudged = now.filter((a) => a.judgement.outside === 'unknown');
  if (targets.length === 0 && unjudged.length > 0)
    return alert(`${bucket} grants principals it could not judge, left granted: ${whys(unjudged)}`, 'HIGH', resources, 'policy-unjudged');
  if (targets.length === 0) return compliant(`the policy of ${bucket} no longer grants what the call granted outside`, resources);
  const action = plan(facts, currentDocument, targets, state !== undefined);
  const unjudgedNote = unjudged.length > 0 ? `; left granted, not judged: ${whys(unjudged)}` : '';
  const reason = `${bucket} policy grants outside: ${whys(targets)}${unjudgedNote}`;
  if (!settings.remediate) {
    // Alert by default (cross-account buckets exist on purpose): what it would do, and the command to do it by hand.
    const type = action.api === deleteBucketPolicy.api ? deleteBucketPolicy : putBucketPolicy;
    const step = stepOf(type, action, whereOf(context).region);
    return alert(`${reason}; remediate is off: to drop them, ${type.command(step as never)}`, 'HIGH', resources, 'policy-outside');
  }
  return violation(reason, 'HIGH', resources, [action], 'policy-outside');
}

async function inspect(facts: BucketPolicyFacts, { s3, orgAccounts }: Clients, _context: unknown, settings: Settings): Promise<BucketPolicyState> {
  const current = await awsCall(GET_POLICY, facts.bucket, () => bucketPolicyText(s3, facts.bucket, facts.expectedOwner));
  const org: OrgAccounts = settings.outside.organization ? await orgAccounts() : { kind: 'single-account' };
  return { current, org };
}

function titleFor(outcome: string, bucket: string): string {
  switch (outcome) {
    case 'remediated':
      return `Outside grants removed from the policy of S3 bucket ${bucket}`;
    case 'would-remediate':
      return `Would remove outside grants from the policy of S3 bucket ${bucket}`;
    case 'failed':
      return `FAILED to remove outside grants from the policy of S3 bucket ${bucket}`;
    case 'alerted':
      return `S3 bucket ${bucket}: policy grants an outside account`;
    default:
      return `Policy of S3 bucket ${bucket}: ${outcome}`;
  }
}

export const outsideBucketPolicy = {
  id: 'outside-bucket-policy',
  // S3.6 flags a policy granting other accounts the riskiest actions; this rule acts on any grant to an outside account.
  controls: { other: ['S3.6'] },
  pattern: pattern as EventPattern,
  permissions: {
    [GET_POLICY]: 's3:GetBucketPolicy',
    [LIST_ACCOUNTS]: 'organizations:ListAccounts',
    ...permissionsOf(ACTIONS),
  },
  ownAccountApis: [LIST_ACCOUNTS],
  actions: ACTIONS,
  settings: (config: Config) => ({ ...config.rules['outside-bucket-policy'], outside: outsidePolicyOf(config) }),
  clients: (options) => ({
    s3: s3Client(options),
    orgAccounts: organizationAccounts({ region: options.region, endpoint: options.endpoint, readOnly: options.readOnly }),
  }),
  parse({ record, event }): BucketPolicyFacts {
    const field = 'detail.requestParameters';
    const request = parseWith(Request, record.requestParameters, field, event.id);
    // `bucketPolicy` is a parsed object in real records; a JSON string is accepted too (docs/cloudtrail-shapes.md#s3-requests).
    const document = policyDocumentOf(request.bucketPolicy);
    if (!document) throw new ParseError(`${field}.bucketPolicy`, 'expected a bucket policy (an object or JSON)', event.id);
    return {
      bucket: request.bucketName,
      resources: [{ type: 'AWS::S3::Bucket', id: request.bucketName }],
      document,
      expectedOwner: event.account && /^\d{12}$/.test(event.account) ? event.account : undefined,
    };
  },
  inspect,
  decide,
  message(record): Message {
    const bucket = record.resources[0]?.id ?? 'unknown';
    const previous = v.safeParse(v.object({ Policy: v.string() }), record.actions[0]?.previous);
    // The policy as it is now, for the person who decides (the record keeps the statements judged, not the whole).
    const now = `Bucket policy now: ${awsCommand('s3api', 'get-bucket-policy', { bucket: checked(bucket, 'bucket name', isBucketName), query: 'Policy' })}`;
    return {
      title: titleFor(record.outcome, bucket),
      lines: [...(previous.success ? [`Bucket policy before: ${previous.output.Policy}`] : []), ...(record.outcome === 'compliant' ? [] : [now])],
    };
  },
} satisfies Rule<BucketPolicyFacts, BucketPolicyState, Clients, Settings>;
