/**
 * S3.PutBucketLifecycleConfiguration and S3.DeleteBucketLifecycle: replace a bucket's lifecycle configuration with
 * the same rules less those expiring a trail's logs too soon, or delete it when none remain (trail-bucket-lifecycle);
 * undo puts the replaced rules back. Both need s3:PutLifecycleConfiguration (S3 has no separate delete permission).
 * Every call is pinned to the event's account (ExpectedBucketOwner): bucket names are global. Which rules are short
 * lives here too, so the rule and the loop guard judge a configuration the same way.
 */
import {
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  PutBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import * as v from 'valibot';
import { hasErrorCode } from '../aws/errors.js';
import { isAccountId, isBucketName } from '../aws/names.js';
import { bucketFlags } from '../s3/block-actions.js';
import { awsCommand } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';

const DAY_MS = 86_400_000;
/** S3 takes at most 1,000 rules per configuration. */
const MAX_RULES = 1000;

const Bucket = v.pipe(v.string(), v.check(isBucketName, 'a valid S3 bucket name'));
const Owner = v.optional(v.pipe(v.string(), v.check(isAccountId, 'a 12-digit account id')));
const Days = v.pipe(v.number(), v.integer(), v.minValue(0));
/** A date as the SDK returns it, or as a log record keeps it (ISO text): the SDK serialises a Date. */
const WhenDate = v.pipe(
  v.union([v.date(), v.pipe(v.string(), v.isoTimestamp())]),
  v.transform((value) => new Date(value)),
);
/**
 * One rule as the SDK reads and writes it: the fields that decide what expires are checked; the others (filters,
 * transitions) pass through as S3 returned them, and the SDK serialises only the fields it knows.
 */
const Rule = v.looseObject({
  ID: v.optional(v.pipe(v.string(), v.maxLength(255))),
  Status: v.picklist(['Enabled', 'Disabled']),
  Prefix: v.optional(v.string()),
  Filter: v.optional(v.looseObject({})),
  Expiration: v.optional(v.looseObject({ Days: v.optional(Days), Date: v.optional(WhenDate), ExpiredObjectDeleteMarker: v.optional(v.boolean()) })),
  NoncurrentVersionExpiration: v.optional(v.looseObject({ NoncurrentDays: v.optional(Days) })),
});
const Rules = v.pipe(v.array(Rule), v.maxLength(MAX_RULES, 'at most 1,000 rules'));

export const PutBucketLifecycleParams = v.strictObject({
  Bucket,
  LifecycleConfiguration: v.strictObject({ Rules: v.pipe(Rules, v.minLength(1, 'at least one rule (else delete the configuration)')) }),
  ExpectedBucketOwner: Owner,
});
export type PutBucketLifecycleParams = v.InferOutput<typeof PutBucketLifecycleParams>;
export const DeleteBucketLifecycleParams = v.strictObject({ Bucket, ExpectedBucketOwner: Owner });
export type DeleteBucketLifecycleParams = v.InferOutput<typeof DeleteBucketLifecycleParams>;

/** The whole configuration replaced: its rules, none when the bucket had no configuration (undo deletes then). */
export const BucketLifecyclePrevious = v.strictObject({ Rules });
export type BucketLifecyclePrevious = v.InferOutput<typeof BucketLifecyclePrevious>;

/** A lifecycle rule reduced to what decides whether it deletes a trail's logs early. */
export interface ExpiryRule {
  readonly id: string;
  readonly enabled: boolean;
  /** The key prefix it applies to ('' = every key); tag and size filters narrow nothing lasting (tags can be added later). */
  readonly prefix: string;
  readonly expirationDays?: number;
  readonly expirationDateMs?: number;
  readonly noncurrentDays?: number;
}

/** How a rule is short: "expires current objects after 1 day", for a person. */
export function shortness(rule: ExpiryRule, retentionDays: number, atMs: number): string | undefined {
  if (!rule.enabled) return undefined;
  const why: string[] = [];
  if (rule.expirationDays !== undefined && rule.expirationDays < retentionDays) why.push(`expires objects after ${rule.expirationDays} days`);
  if (rule.expirationDateMs !== undefined && rule.expirationDateMs < atMs + retentionDays * DAY_MS) {
    why.push(`expires objects on ${new Date(rule.expirationDateMs).toISOString().slice(0, 10)}`);
  }
  if (rule.noncurrentDays !== undefined && rule.noncurrentDays < retentionDays) why.push(`expires noncurrent versions after ${rule.noncurrentDays} days`);
  return why.length > 0 ? why.join(' and ') : undefined;
}

/** The prefix a rule's filter names: `Filter.Prefix`, `Filter.And.Prefix`, or the legacy top-level `Prefix`. */
function prefixOf(rule: { readonly Prefix?: unknown; readonly Filter?: unknown }): string {
  const filter = rule.Filter as { Prefix?: unknown; And?: { Prefix?: unknown } } | undefined;
  const prefix = filter?.Prefix ?? filter?.And?.Prefix ?? rule.Prefix;
  return typeof prefix === 'string' ? prefix : '';
}

/** A rule as the SDK returns it (or as validated params hold it), reduced to an ExpiryRule. */
export function expiryRuleOf(rule: LifecycleRule | v.InferOutput<typeof Rule>, index: number): ExpiryRule {
  const date = rule.Expiration?.Date;
  return {
    id: rule.ID ?? `rule ${index + 1}`,
    enabled: rule.Status === 'Enabled',
    prefix: prefixOf(rule),
    ...(rule.Expiration?.Days !== undefined ? { expirationDays: rule.Expiration.Days } : {}),
    ...(date !== undefined ? { expirationDateMs: new Date(date).getTime() } : {}),
    ...(rule.NoncurrentVersionExpiration?.NoncurrentDays !== undefined ? { noncurrentDays: rule.NoncurrentVersionExpiration.NoncurrentDays } : {}),
  };
}

/** The bucket's lifecycle rules now, or null when it has no configuration. */
export async function bucketLifecycleRules(s3: S3Client, bucket: string, owner: string | undefined): Promise<LifecycleRule[] | null> {
  try {
    const answer = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket, ExpectedBucketOwner: owner }));
    return answer.Rules ?? [];
  } catch (error) {
    if (hasErrorCode(error, 'NoSuchLifecycleConfiguration')) return null;
    throw error;
  }
}

/** What must read back the same for a rule: its status and what it expires (S3 may add defaults to other fields). */
const expiryKey = (rule: ExpiryRule) => JSON.stringify([rule.id, rule.enabled, rule.prefix, rule.expirationDays, rule.expirationDateMs, rule.noncurrentDays]);

/**
 * Ours when no rule of the new configuration expires anything sooner than the configured retention: trailguard only
 * drops short rules. (Its prefix is not weighed here: a short rule anywhere is judged by the rule, like anyone's.)
 */
export const putBucketLifecycleSignature = {
  api: 'S3.PutBucketLifecycleConfiguration',
  // CloudTrail records PutBucketLifecycleConfiguration (and the older PutBucketLifecycle) as PutBucketLifecycle.
  eventName: 'PutBucketLifecycle',
  isOwnWrite(request, { config }) {
    const configuration = typeof request === 'object' && request !== null ? (request as Record<string, unknown>).LifecycleConfiguration : undefined;
    if (typeof configuration !== 'object' || configuration === null) return false;
    const listed = (configuration as { Rule?: unknown }).Rule;
    const rules = Array.isArray(listed) ? listed : [listed];
    const retention = config.rules['trail-bucket-lifecycle'].retentionDays;
    return rules.every((raw) => {
      const rule = v.safeParse(Rule, numbersOf(raw));
      return rule.success && shortness(expiryRuleOf(rule.output, 0), retention, Date.now()) === undefined;
    });
  },
} as const satisfies SelfSignature;

/** CloudTrail may log a rule's numbers as text: the signature reads them as the rule's parser does. */
function numbersOf(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const rule = raw as Record<string, unknown>;
  const num = (value: unknown) => (typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value);
  const expiration = rule.Expiration as Record<string, unknown> | undefined;
  const noncurrent = rule.NoncurrentVersionExpiration as Record<string, unknown> | undefined;
  return {
    ...rule,
    ...(expiration ? { Expiration: { ...expiration, ...(expiration.Days !== undefined ? { Days: num(expiration.Days) } : {}) } } : {}),
    ...(noncurrent ? { NoncurrentVersionExpiration: { ...noncurrent, NoncurrentDays: num(noncurrent.NoncurrentDays) } } : {}),
  };
}

/** A delete only stops objects from expiring: any by trailguard's roles is its own. */
export const deleteBucketLifecycleSignature = {
  api: 'S3.DeleteBucketLifecycle',
  eventName: 'DeleteBucketLifecycle',
  isOwnWrite: () => true,
} as const satisfies SelfSignature;

const ruleCount = (n: number) => `${n} rule${n === 1 ? '' : 's'}`;

export const putBucketLifecycleConfiguration = {
  api: 'S3.PutBucketLifecycleConfiguration',
  iam: 's3:PutLifecycleConfiguration',
  clients: ['s3'],
  params: PutBucketLifecycleParams,
  previous: BucketLifecyclePrevious,
  // Undo puts the short rules back: trail-bucket-lifecycle drops them again unless exempted.
  retriggers: true,
  signature: putBucketLifecycleSignature,
  async perform({ params }, { s3 }) {
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({ ...params, LifecycleConfiguration: { Rules: params.LifecycleConfiguration.Rules as LifecycleRule[] } }),
    );
  },
  async verify({ params }, { s3 }) {
    const now = await bucketLifecycleRules(s3, params.Bucket, params.ExpectedBucketOwner);
    const wanted = params.LifecycleConfiguration.Rules.map(expiryRuleOf).map(expiryKey).sort();
    const read = (now ?? []).map(expiryRuleOf).map(expiryKey).sort();
    return now !== null && JSON.stringify(read) === JSON.stringify(wanted)
      ? { ok: true, detail: `the lifecycle of ${params.Bucket} reads back as written (${ruleCount(wanted.length)})` }
      : { ok: false, detail: `the lifecycle of ${params.Bucket} reads back ${now === null ? 'as none' : `other than written (${ruleCount(now.length)})`}` };
  },
  reverse({ params, previous, resource, region }): Reversal {
    if (!previous) return { kind: 'none', why: 'the record has no replaced configuration in previous.Rules: nothing known to put back' };
    const owner = params.ExpectedBucketOwner ? { ExpectedBucketOwner: params.ExpectedBucketOwner } : {};
    const at = { ...resource, region };
    const written = { Rules: params.LifecycleConfiguration.Rules };
    return {
      kind: 'steps',
      steps: [
        previous.Rules.length === 0
          ? reverseStepOf(deleteBucketLifecycle, at, { Bucket: params.Bucket, ...owner }, written)
          : reverseStepOf(putBucketLifecycleConfiguration, at, { Bucket: params.Bucket, LifecycleConfiguration: { Rules: previous.Rules }, ...owner }, written),
      ],
    };
  },
  command: (step) =>
    awsCommand('s3api', 'put-bucket-lifecycle-configuration', {
      ...bucketFlags(step),
      lifecycleConfiguration: JSON.stringify(step.params.LifecycleConfiguration),
    }),
  describe: ({ params }) => `replace the lifecycle configuration of bucket ${params.Bucket} (${ruleCount(params.LifecycleConfiguration.Rules.length)})`,
} satisfies ActionType<PutBucketLifecycleParams, BucketLifecyclePrevious, 's3'>;

export const deleteBucketLifecycle = {
  api: 'S3.DeleteBucketLifecycle',
  iam: 's3:PutLifecycleConfiguration',
  clients: ['s3'],
  params: DeleteBucketLifecycleParams,
  previous: BucketLifecyclePrevious,
  retriggers: true,
  signature: deleteBucketLifecycleSignature,
  async perform({ params }, { s3 }) {
    await s3.send(new DeleteBucketLifecycleCommand(params));
  },
  async verify({ params }, { s3 }) {
    const now = await bucketLifecycleRules(s3, params.Bucket, params.ExpectedBucketOwner);
    return now === null
      ? { ok: true, detail: `${params.Bucket} reads back with no lifecycle configuration` }
      : { ok: false, detail: `${params.Bucket} still has a lifecycle configuration (${ruleCount(now.length)})` };
  },
  reverse({ params, previous, resource, region }): Reversal {
    if (!previous || previous.Rules.length === 0) return { kind: 'none', why: 'the record has no deleted rules in previous.Rules: nothing known to put back' };
    const owner = params.ExpectedBucketOwner ? { ExpectedBucketOwner: params.ExpectedBucketOwner } : {};
    const back = { Bucket: params.Bucket, LifecycleConfiguration: { Rules: previous.Rules }, ...owner };
    return { kind: 'steps', steps: [reverseStepOf(putBucketLifecycleConfiguration, { ...resource, region }, back, { Rules: [] })] };
  },
  command: (step) => awsCommand('s3api', 'delete-bucket-lifecycle', bucketFlags(step)),
  describe: ({ params }) => `delete the lifecycle configuration of bucket ${params.Bucket}`,
} satisfies ActionType<DeleteBucketLifecycleParams, BucketLifecyclePrevious, 's3'>;
