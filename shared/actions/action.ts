/**
 * One write API, everything about it, in one module (Cloud Custodian's action classes, as plain objects): its
 * typed params, how it is performed, how it is read back, how it is reversed, the AWS CLI line a person may paste,
 * its IAM action, and its self signature (which parameters mean "trailguard wrote this"). The runner, the
 * notifier, `report`, `undo`, the loop guard and the template tests read the action type; none rebuilds it.
 */
import type { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import * as v from 'valibot';
import type { RolesAnywhereClient } from '../aws/rolesanywhere.js';
import type { Config } from '../config.js';
import { AwsCallError } from '../errors.js';
import type { ResourceRef } from '../rule.js';

/**
 * The AWS clients actions use, by service. A rule's clients are a subset (public-bucket has `s3` only); `undo`
 * builds all of them with the operator's credentials. EC2 and S3 act in the client's Region; CloudTrail and
 * Scheduler take the Region per call (a trail's home Region, the enforcement function's Region).
 */
export interface AwsClients {
  readonly s3: S3Client;
  readonly ec2: EC2Client;
  readonly rds: RDSClient;
  readonly lambda: LambdaClient;
  /** IAM is global: one client, whatever Region a step names. */
  readonly iam: IAMClient;
  /** IAM Roles Anywhere, hand-signed (shared/aws/rolesanywhere.ts); acts in the client's Region. */
  readonly rolesAnywhere: RolesAnywhereClient;
  readonly cloudTrailIn: (region: string) => CloudTrailClient;
  readonly scheduler: (region: string) => SchedulerClient;
}

/** A read-back after a write: data the runner reads (`ok`, `gone`), and one sentence for a person (`detail`). */
export interface Verification {
  readonly ok: boolean;
  /** What was read, in one sentence ("all four Block Public Access settings read back as true"). Never read by code. */
  readonly detail: string;
  /** The resource was already gone when acting: nothing was changed, and there is nothing to reverse. */
  readonly gone?: true;
}

/**
 * One write, as data: what the log records, what dry-run reports and what the runner performs are the same value.
 * `api` names its action type; `params` is the SDK input (validated by the action type before any call);
 * `previous` is the state it replaces, when read, so that every change can be reversed.
 */
export interface PlannedAction<P = unknown, Prev = unknown> {
  readonly api: string;
  readonly resource: ResourceRef;
  readonly params: P;
  readonly previous?: Prev;
}

/** An action with its params and previous state validated by its action type, and the Region it runs in. */
export interface Step<P, Prev> {
  readonly api: string;
  readonly resource: ResourceRef;
  readonly params: P;
  readonly previous: Prev | undefined;
  /** The resource's own Region (a trail's home Region), else the record's. */
  readonly region: string;
}

/**
 * How to reverse one action:
 * - `steps`: planned actions `trailguard undo` performs (and reads back) through the runner;
 * - `manual`: reversible by hand (the commands are given) but never performed by undo (restarting a stopped
 *   instance, cancelling a schedule);
 * - `none`: nothing to reverse, or it must not be reversed; `why` says which.
 */
export type Reversal =
  | { readonly kind: 'steps'; readonly steps: readonly ReverseStep[] }
  | { readonly kind: 'manual'; readonly why: string; readonly steps: readonly ReverseStep[] }
  | { readonly kind: 'none'; readonly why: string };

/** A resource with the Region a write acts in: a reversing write always knows it (its command names it). */
export type PlacedResource = ResourceRef & { readonly region: string };

/** One reversing write: the planned action, with the action type that performs it and gives its command. */
export interface ReverseStep {
  readonly type: AnyActionType;
  readonly action: PlannedAction & { readonly resource: PlacedResource };
}

/** Who made a call that may be trailguard's own, as the loop guard sees it. */
export interface SelfCaller {
  /** The untagged-instance enforcement role (or its member-role session): the one caller that stops instances. */
  readonly enforces: boolean;
  readonly config: Config;
  /** The account the call was made in (the role's own): a write that names only it, or accounts the config trusts, can be ours. */
  readonly account?: string;
}

/**
 * What the loop guard needs of a write, kept in a const of its own so that a bundle that only judges calls (every
 * rule's runner) does not pull in the SDK commands the action performs with.
 */
export interface SelfSignature {
  readonly api: string;
  /** The CloudTrail `eventName` the call is recorded as (S3.PutPublicAccessBlock is PutBucketPublicAccessBlock). */
  readonly eventName: string;
  /** True when a call with these CloudTrail `requestParameters` (any JSON) is one trailguard makes. */
  readonly isOwnWrite: (request: unknown, caller: SelfCaller) => boolean;
}

/**
 * Everything about one write API. `K` names the clients it needs (of AwsClients), so a rule can only declare
 * actions its clients can perform.
 */
export interface ActionType<P, Prev, K extends keyof AwsClients> {
  /** `Service.Operation`, exactly as in the AWS API reference. */
  readonly api: string;
  /** The IAM action the call needs (S3.PutPublicAccessBlock needs s3:PutBucketPublicAccessBlock). */
  readonly iam: string;
  /** The clients `perform` and `verify` use. */
  readonly clients: readonly K[];
  /** Validates params read from a decision, an intent or a log record: nothing unvalidated reaches an API call. */
  readonly params: v.GenericSchema<unknown, P>;
  /** Validates `previous`; a previous state that does not match is treated as not read. */
  readonly previous: v.GenericSchema<unknown, Prev>;
  /**
   * The call is itself an event some rule acts on (re-opening a bucket is): `undo` requires the exemption that
   * keeps the rule from remediating the undo again, unless forced.
   */
  readonly retriggers: boolean;
  /** The loop guard's "this is ours", for the writes trailguard's functions make; absent for undo-only writes. */
  readonly signature?: SelfSignature;
  perform(step: Step<P, Prev>, clients: Pick<AwsClients, K>): Promise<void>;
  /** Reads back what `perform` changed: data (`ok`, `gone`), never a sentence code reads. */
  verify(step: Step<P, Prev>, clients: Pick<AwsClients, K>): Promise<Verification>;
  /** The planned inverse from `previous`; `none` (saying why) when it must not or cannot be reversed. */
  reverse(step: Step<P, Prev>): Reversal;
  /** The same call as a complete AWS CLI line (Region, owner pins), every value quoted by shared/shell.ts. */
  command(step: Step<P, Prev>): string;
  /** What the call does, in one sentence for a person ("remove the Block Public Access configuration of b"). */
  describe(step: Step<P, Prev>): string;
}

/**
 * An action type of any params, previous and clients: what registries and the runner hold. Each gets only the
 * params it parsed itself (stepOf); with `unknown`, no action type taking its own params would be assignable here.
 */
// biome-ignore lint/suspicious/noExplicitAny: existential type parameters (above)
export type AnyActionType = ActionType<any, any, keyof AwsClients>;

/** The action type of `api` among `types`, or undefined. */
export function actionTypeOf(types: readonly AnyActionType[], api: string): AnyActionType | undefined {
  return types.find((type) => type.api === api);
}

/**
 * Validates an action against its type: params must parse (else `invalid`, never performed), a previous state
 * that does not parse is treated as not read. The Region is the resource's own, else `region`.
 */
export function stepOf(type: AnyActionType, action: PlannedAction, region: string): Step<unknown, unknown> {
  const params = v.safeParse(type.params, action.params);
  if (!params.success) {
    throw new AwsCallError(
      type.api,
      action.resource.id,
      'invalid',
      'InvalidActionParams',
      `the params of ${type.api} on ${action.resource.id} are not what it takes: ${params.issues[0]?.message ?? 'invalid'}`,
    );
  }
  const previous = action.previous === undefined ? undefined : v.safeParse(type.previous, action.previous);
  return {
    api: type.api,
    resource: action.resource,
    params: params.output,
    previous: previous?.success ? previous.output : undefined,
    region: action.resource.region ?? region,
  };
}

/** The IAM action of each action type by API: a rule's permissions for its writes. */
export function permissionsOf(types: readonly AnyActionType[]): Readonly<Record<string, string>> {
  return Object.fromEntries(types.map((type) => [type.api, type.iam]));
}

/** A reversing step of `type` (see Reversal). */
export function reverseStepOf<P, Prev, K extends keyof AwsClients>(
  type: ActionType<P, Prev, K>,
  resource: PlacedResource,
  params: P,
  previous?: Prev,
): ReverseStep {
  return { type, action: { api: type.api, resource, params, ...(previous !== undefined ? { previous } : {}) } };
}

/** A reversing step validated by its own action type, in the Region it names. */
export function stepOfReverse({ type, action }: ReverseStep): Step<unknown, unknown> {
  return stepOf(type, action, action.resource.region);
}

/** A planned action of `type`, typed by it: how rules and reversals build actions. */
export function planOf<P, Prev, K extends keyof AwsClients>(
  type: ActionType<P, Prev, K>,
  resource: ResourceRef,
  params: P,
  previous?: Prev,
): PlannedAction<P, Prev> {
  return { api: type.api, resource, params, ...(previous !== undefined ? { previous } : {}) };
}
