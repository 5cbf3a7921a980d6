import { DescribeTrailsCommand, type CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import type { LifecycleRule, S3Client } from '@aws-sdk/client-s3';
import * as v from 'valibot';
import { permissionsOf, planOf, stepOf, type PlannedAction } from '../../shared/actions/action.js';
import {
  bucketLifecycleRules,
  deleteBucketLifecycle,
  expiryRuleOf,
  putBucketLifecycleConfiguration,
  shortness,
  type BucketLifecyclePrevious,
  type ExpiryRule,
} from '../../shared/actions/s3-bucket-lifecycle.js';
import { cloudTrailClient } from '../../shared/aws/cloudtrail.js';
import { awsCall } from '../../shared/aws/errors.js';
import { s3Client } from '../../shared/aws/s3.js';
import type { Config } from '../../shared/config.js';
import { ParseError } from '../../shared/errors.js';
import { eventTimeMs } from '../../shared/events/normalize.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { alert, compliant, violation, whereOf, type Decision, type Message, type Rule, type RunContext } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { isBucketName } from '../../shared/aws/names.js';
import { awsCommand, checked } from '../../shared/shell.js';
import { listedForReason } from '../../shared/outside.js';
import pattern from './pattern.json' with { type: 'json' };
import { lifecycleRequestOf } from './request.js';

/** What the event says: the bucket, the rules the call put, when, and the owner every call is pinned to. */
export interface LifecycleFacts {
  readonly bucket: string;
  readonly resources: readonly [{ readonly type: 'AWS::S3::Bucket'; readonly id: string }];
  readonly rules: readonly ExpiryRule[];
  /** The same rules in the SDK's shape: what an offline plan keeps. */
  readonly requestRules: readonly LifecycleRule[];
  readonly eventTimeMs: number;
  readonly expectedOwner: string | undefined;
}

/** A trail writing to the bucket, and where its keys start (`<S3KeyPrefix>/AWSLogs/`); a configured bucket's are unknown (''). */
interface TrailKeys {
  readonly name: string;
  readonly keyRoot: string;
}

/** The trails writing to the bucket (none: not a trail bucket, nothing more read), and its lifecycle now (null: none). */
export interface LifecycleState {
  readonly trails: readonly TrailKeys[];
  readonly current?: LifecycleRule[] | null;
}

type Clients = { readonly s3: S3Client; readonly cloudTrail: CloudTrailClient };
type Settings = { readonly enabled: boolean; readonly remediate: boolean; readonly retentionDays: number; readonly trailBuckets: readonly string[] };

const ACTIONS = [putBucketLifecycleConfiguration, deleteBucketLifecycle];
const DESCRIBE_TRAILS = 'CloudTrail.DescribeTrails';
const GET_LIFECYCLE = 'S3.GetBucketLifecycleConfiguration';
const AWS_LOGS = 'AWSLogs/';
/** The names the CloudTrail console and Control Tower give the buckets they create for trails: known trail buckets. */
const DEFAULT_TRAIL_BUCKET = /^aws-(?:cloudtrail|controltower)-logs-\d{12}-/;
/** A bucket known to hold trail logs without DescribeTrails: configured, or named as AWS names trail buckets. */
const knownTrailBucket = (bucket: string, settings: Settings) => settings.trailBuckets.includes(bucket) || DEFAULT_TRAIL_BUCKET.test(bucket);

/** A lifecycle rule expires a trail bucket's logs too soon; (MEDIUM) one does on a bucket not known to hold trail logs. */
export const FINDINGS = ['lifecycle-short', 'lifecycle-short-unchecked'] as const;

/** Where a trail's keys start: `<S3KeyPrefix>/AWSLogs/`, or `AWSLogs/` without a prefix. */
const keyRootOf = (prefix: string | undefined) => (prefix ? `${prefix.replace(/\/+$/, '')}/${AWS_LOGS}` : AWS_LOGS);
/** S3 prefixes are literal: a rule reaches a trail's keys when its prefix and theirs start alike. */
const overlaps = (rulePrefix: string, keyRoot: string) => rulePrefix.startsWith(keyRoot) || keyRoot.startsWith(rulePrefix);

interface Short {
  readonly rule: ExpiryRule;
  readonly why: string;
}

/** The rules short for `retentionDays` whose prefix reaches one of `roots`. */
function shortRules(rules: readonly ExpiryRule[], roots: readonly string[], settings: Settings, atMs: number): Short[] {
  return rules.flatMap((rule) => {
    const why = shortness(rule, settings.retentionDays, atMs);
    return why !== undefined && roots.some((root) => overlaps(rule.prefix, root)) ? [{ rule, why }] : [];
  });
}

const described = (shorts: readonly Short[]) =>
  listedForReason(
    shorts.map(({ rule, why }) => `rule ${terminalValue(JSON.stringify(rule.id))} (prefix ${terminalValue(JSON.stringify(rule.prefix))}) ${why}`),
  );
const TAG_NOTE = 'a tag or size filter does not exempt a rule: objects can be tagged later';

/** The current rules less the short ones: a put of the rest, or a delete when none remain. */
function plan(facts: LifecycleFacts, current: readonly LifecycleRule[], short: readonly Short[], read: boolean): PlannedAction {
  const dropped = new Set(short.map((s) => s.rule.id));
  const kept = current.filter((rule, index) => !dropped.has(expiryRuleOf(rule, index).id));
  const owner = facts.expectedOwner ? { ExpectedBucketOwner: facts.expectedOwner } : {};
  // The SDK's LifecycleRule is looser than the params (Status optional): the action type validates both before any call.
  const previous = read ? ({ Rules: [...current] } as BucketLifecyclePrevious) : undefined;
  return kept.length === 0
    ? planOf(deleteBucketLifecycle, facts.resources[0], { Bucket: facts.bucket, ...owner }, previous)
    : planOf(
        putBucketLifecycleConfiguration,
        facts.resources[0],
        { Bucket: facts.bucket, LifecycleConfiguration: { Rules: kept as BucketLifecyclePrevious['Rules'] }, ...owner },
        previous,
      );
}

function act(facts: LifecycleFacts, action: PlannedAction, reason: string, settings: Settings, context: RunContext): Decision {
  if (settings.remediate) return violation(reason, 'HIGH', facts.resources, [action], 'lifecycle-short');
  // Alert by default (short-lived buckets exist on purpose): what it would do, and the command to do it by hand.
  const type = action.api === deleteBucketLifecycle.api ? deleteBucketLifecycle : putBucketLifecycleConfiguration;
  const step = stepOf(type, action, whereOf(context).region);
  return alert(`${reason}; remediate is off: to drop them, ${type.command(step as never)}`, 'HIGH', facts.resources, 'lifecycle-short');
}

function decide(facts: LifecycleFacts, state: LifecycleState | undefined, settings: Settings, context: RunContext): Decision {
  const { bucket, resources } = facts;
  const configured = knownTrailBucket(bucket, settings);
  if (!state) {
    // Offline: no DescribeTrails. A known trail bucket's key prefix is unknown, so every prefix counts; any other
    // bucket is judged against the default layout (AWSLogs/ at the root).
    const short = shortRules(facts.rules, configured ? [''] : [AWS_LOGS], settings, facts.eventTimeMs);
    if (short.length === 0) return compliant(`no enabled rule of the request expires ${AWS_LOGS} sooner than ${settings.retentionDays} days`, resources);
    const reason = `lifecycle of ${bucket} expires logs sooner than ${settings.retentionDays} days: ${described(short)} (${TAG_NOTE})`;
    if (!configured) {
      return alert(
        `if this bucket holds a trail's logs, they are deleted early: ${reason}; offline, whether a trail writes to it was not checked`,
        'MEDIUM',
        resources,
        'lifecycle-short-unchecked',
      );
    }
    return act(facts, plan(facts, facts.requestRules, short, false), `${bucket} is a known trail bucket; ${reason}`, settings, context);
  }
  // Dry-run and live: a trail bucket (DescribeTrails, shadow trails included, or configured), judged on its lifecycle now.
  if (state.trails.length === 0) return compliant(`no trail in this Region writes to ${bucket}, and it is not a known trail bucket`, resources);
  const current = state.current ?? [];
  const short = shortRules(
    current.map(expiryRuleOf),
    state.trails.map((t) => t.keyRoot),
    settings,
    facts.eventTimeMs,
  );
  if (short.length === 0)
    return compliant(`no enabled lifecycle rule of ${bucket} expires its trails' logs sooner than ${settings.retentionDays} days now`, resources);
  const trails = listedForReason(state.trails.map((t) => t.name));
  const reason = `${bucket} holds the logs of ${trails}; its lifecycle expires them sooner than ${settings.retentionDays} days: ${described(short)} (${TAG_NOTE})`;
  return act(facts, plan(facts, current, short, true), reason, settings, context);
}

async function inspect(facts: LifecycleFacts, { s3, cloudTrail }: Clients, _context: unknown, settings: Settings): Promise<LifecycleState> {
  const answer = await awsCall(DESCRIBE_TRAILS, facts.bucket, () => cloudTrail.send(new DescribeTrailsCommand({ includeShadowTrails: true })));
  const trails: TrailKeys[] = (answer.trailList ?? [])
    .filter((trail) => trail.S3BucketName === facts.bucket)
    .map((trail) => ({ name: trail.TrailARN ?? trail.Name ?? 'unnamed trail', keyRoot: keyRootOf(trail.S3KeyPrefix) }));
  // Known without a trail here (another Region's or account's trail writes to it): its key prefix is unknown, every prefix counts.
  if (trails.length === 0 && knownTrailBucket(facts.bucket, settings))
    trails.push({ name: 'a known trail bucket (trailBuckets, or named as AWS names them)', keyRoot: '' });
  if (trails.length === 0) return { trails };
  const current = await awsCall(GET_LIFECYCLE, facts.bucket, () => bucketLifecycleRules(s3, facts.bucket, facts.expectedOwner));
  return { trails, current };
}

function titleFor(outcome: string, bucket: string): string {
  switch (outcome) {
    case 'remediated':
      return `Short lifecycle rules removed from trail bucket ${bucket}`;
    case 'would-remediate':
      return `Would remove short lifecycle rules from trail bucket ${bucket}`;
    case 'failed':
      return `FAILED to remove short lifecycle rules from trail bucket ${bucket}`;
    case 'alerted':
      return `S3 bucket ${bucket}: lifecycle expires trail logs early`;
    default:
      return `Lifecycle of S3 bucket ${bucket}: ${outcome}`;
  }
}

export const trailBucketLifecycle = {
  id: 'trail-bucket-lifecycle',
  pattern: pattern as EventPattern,
  permissions: {
    [DESCRIBE_TRAILS]: 'cloudtrail:DescribeTrails',
    [GET_LIFECYCLE]: 's3:GetLifecycleConfiguration',
    ...permissionsOf(ACTIONS),
  },
  actions: ACTIONS,
  settings: (config: Config) => config.rules['trail-bucket-lifecycle'],
  clients: (options) => ({ s3: s3Client(options), cloudTrail: cloudTrailClient(options) }),
  parse({ record, event }): LifecycleFacts {
    const { bucket, rules, requestRules } = lifecycleRequestOf(record.requestParameters, event.id);
    const at = eventTimeMs(record.eventTime);
    if (at === undefined) throw new ParseError('detail.eventTime', 'expected a time', event.id);
    return {
      bucket,
      resources: [{ type: 'AWS::S3::Bucket', id: bucket }],
      rules,
      requestRules,
      eventTimeMs: at,
      expectedOwner: event.account && /^\d{12}$/.test(event.account) ? event.account : undefined,
    };
  },
  inspect,
  decide,
  message(record): Message {
    const bucket = record.resources[0]?.id ?? 'unknown';
    const previous = v.safeParse(v.object({ Rules: v.array(v.unknown()) }), record.actions[0]?.previous);
    // The rules as they are now, for the person who decides.
    const now = `Lifecycle rules now: ${awsCommand('s3api', 'get-bucket-lifecycle-configuration', { bucket: checked(bucket, 'bucket name', isBucketName) })}`;
    return {
      title: titleFor(record.outcome, bucket),
      lines: [
        ...(previous.success ? [`Lifecycle rules before: ${JSON.stringify(previous.output.Rules)}`] : []),
        ...(record.outcome === 'compliant' ? [] : [now]),
      ],
    };
  },
} satisfies Rule<LifecycleFacts, LifecycleState, Clients, Settings>;
