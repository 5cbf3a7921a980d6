import type { AnyActionType } from './actions/action.js';
import type { ClientOptions } from './aws/client-options.js';
import type { RuleControls } from './controls.js';
import type { Config, RuleId } from './config.js';
import type { CloudTrailEvent, CloudTrailRecord } from './events/schema.js';
import type { EventPattern } from './events/pattern.js';
import type { RemediationRecord } from './remediation-log.js';

/** How urgent a decision is; the SNS `severity` attribute and the subject's tag. */
export type Severity = 'LOW' | 'MEDIUM' | 'HIGH' | 'CRITICAL';

/** A resource a decision is about, as CloudFormation names its type. */
export interface ResourceRef {
  readonly type: string;
  readonly id: string;
  /** A second name exemptions may match (a security group's name next to its id). */
  readonly name?: string;
  /** Where the resource lives, when not the event's region (a trail's home region). */
  readonly region?: string;
}

/** One write a rule wants done, as data: defined with the action types (shared/actions/action.ts). */
export type { PlannedAction, Verification } from './actions/action.js';
import type { PlannedAction } from './actions/action.js';

/**
 * What a rule found, as a kebab-case code of the rule (`trail-gone-after-change`, `privilege-escalation`): the record's
 * `finding`, which messages, the report and Security Hub read. Code never reads a reason: if it decides something, it is here.
 */
export type FindingCode = string;

/**
 * Another rule that pages this event too, at `severity`: an alert that carries it is folded into that rule's page
 * (its record kept, notification `folded`) when that rule is enabled and `severity` is at least the alert's own. Known
 * to the lower rule's decide from the CloudTrail record alone, so two separate invocations agree without coordination.
 */
export interface Coverage {
  readonly rule: RuleId;
  readonly severity: Severity;
  /** What that rule's decision is about: an exemption of its for any of them could keep it silent, and then this one pages. */
  readonly resources: readonly ResourceRef[];
}

/** What a rule concluded. Rules never set an outcome: the runner maps decision + mode + results to one. */
export type Decision =
  | { readonly kind: 'compliant'; readonly reason: string; readonly resources: readonly ResourceRef[]; readonly finding?: FindingCode }
  | { readonly kind: 'not-applicable'; readonly reason: string }
  | {
      readonly kind: 'violation';
      readonly reason: string;
      readonly severity: Severity;
      readonly resources: readonly ResourceRef[];
      readonly actions: readonly PlannedAction[];
      readonly finding?: FindingCode;
    }
  | {
      /** Worth telling a person, but no safe automatic remediation exists: the outcome is `alerted`. */
      readonly kind: 'alert';
      readonly reason: string;
      readonly severity: Severity;
      readonly resources: readonly ResourceRef[];
      readonly finding?: FindingCode;
      readonly coveredBy?: Coverage;
    };

/** The human part of a notification; the notifier adds who/when/where, escaping, JSON form and attributes. */
export interface Message {
  /** The subject without severity tag and location: "Public access blocked on S3 bucket example-logs". */
  readonly title: string;
  /** What was found and done, one line each. */
  readonly lines: readonly string[];
}

/** Facts a rule parsed from a record: at least the resources it is about, for exemptions and the log. */
export interface RuleFacts {
  readonly resources: readonly ResourceRef[];
}

/**
 * Adds `count` to a named counter of the fixed window starting at `windowStartMs` and returns the window's
 * total (0 reads it). Backed by the state store; items expire at `expiresMs`.
 */
export type WindowCounter = (counter: string, windowStartMs: number, count: number, expiresMs: number) => Promise<number>;

/** Keeps `value` as the first of a named counter's fixed window unless one is kept; returns the kept one. */
export type WindowFirst = (counter: string, windowStartMs: number, value: string, expiresMs: number) => Promise<string>;

/** A run started by a CloudTrail event: everything the rule functions may know about it besides their own facts. */
export interface EventContext {
  readonly event: CloudTrailEvent;
  readonly record: CloudTrailRecord;
  /** Counting across events (repeated failed sign-ins), for `inspect`; absent without a state store (replay). */
  readonly countInWindow?: WindowCounter;
  /** The first item a counter saw in a window (the first secret read), with `countInWindow`. */
  readonly firstInWindow?: WindowFirst;
}

/** A run on facts a sweep or a schedule found: no CloudTrail event, only where they were found. */
export interface FindingContext {
  readonly event?: undefined;
  readonly record?: undefined;
  readonly account: string | undefined;
  readonly region: string;
  readonly countInWindow?: WindowCounter;
}

/** What `inspect`, `decide` and `lockKey` know of a run: its event, or where a sweep or schedule found the facts. */
export type RunContext = EventContext | FindingContext;

/** The account and Region a run is about: the event's (its record's Region first), or the finding's. */
export function whereOf(context: RunContext): { readonly account: string | undefined; readonly region: string } {
  return context.event ? { account: context.event.account, region: context.record.awsRegion || context.event.region } : context;
}

/**
 * The shape every rule satisfies: a plain object declared with `satisfies Rule<…>`.
 * `permissions` maps each API the rule calls to the IAM action it needs (they differ: the API
 * S3.PutPublicAccessBlock needs s3:PutBucketPublicAccessBlock); the template test holds the role to it.
 */
export interface Rule<Facts extends RuleFacts, State, Clients, Settings> {
  readonly id: RuleId;
  readonly pattern: EventPattern;
  readonly permissions: Readonly<Record<string, string>>;
  /**
   * The action types of every write the rule may plan (shared/actions/): the runner performs and reads back
   * each through its type, and the rule's write permissions are theirs (`permissionsOf`). Notify-only rules have none.
   */
  readonly actions: readonly AnyActionType[];
  /**
   * Optional: APIs of `permissions` called in trailguard's own account with the function's own role, whatever
   * account the event is from (untagged-instance's schedules live beside their target function). The member
   * role (organisation mode) holds every other permission, never these.
   */
  readonly ownAccountApis?: readonly string[];
  /**
   * Optional: every notification of this rule is sent, none is folded into a burst digest. For the audit
   * trail: a flood of cheap tamper signals (failed StopLogging calls) must not hide the real change after it.
   */
  readonly neverDigested?: boolean;
  /** Optional: the Security Hub controls (and CIS recommendations) its findings match, named in its notifications. */
  readonly controls?: RuleControls;
  settings(config: Config): Settings & { readonly enabled: boolean };
  clients(options: ClientOptions): Clients;
  /** Throws ParseError naming the field. Called only for successful calls (no `errorCode`). */
  parse(context: EventContext): Facts;
  /** Read-only; used in dry-run and live. May throw AwsCallError (`gone` ends as `ignored`). */
  inspect(facts: Facts, clients: Clients, context: RunContext, settings: Settings): Promise<State>;
  /** Pure. `state` is undefined offline: decide from the request alone. */
  decide(facts: Facts, state: State | undefined, settings: Settings, context: RunContext): Decision;
  /**
   * Optional: the resource's identity for the runner's per-resource lock (without the rule id), the same whatever
   * form an event names it by (a trail's name or ARN). It must include the account and Region: same-named
   * resources elsewhere must not wait on each other. May read with `clients` (live only).
   * @default `${account}#${region}#${resource.id}`: the event's account; the resource's Region, else the event's
   */
  lockKey?(resource: ResourceRef, context: RunContext, clients: Clients): string | Promise<string>;
  /** Pure: subject and body lines for this record. */
  message(record: RemediationRecord): Message;
  /**
   * Optional: a decision for a call that failed (`errorCode` set). Without it such events are `ignored`.
   * Must never plan actions: a failed call changed nothing.
   */
  failedCall?(record: CloudTrailRecord, settings: Settings, context: EventContext): Decision | undefined;
  /**
   * Failed calls are this rule's subject (denied probes are counted): they go through parse, inspect and decide
   * like any event, and `failedCall` is not asked. Only for notify-only rules: a failed call changed nothing to fix.
   */
  readonly decidesFailedCalls?: true;
}

/**
 * A rule of any facts/state/clients/settings: what the runner, registry and CLI handle. Each is used only with
 * its own facts, state, clients and settings, which TypeScript cannot say (it has no existential types); with
 * `unknown` here, a sweep whose scan takes its rule's own settings type is no longer an AnySweep.
 */
// biome-ignore lint/suspicious/noExplicitAny: existential type parameters (above)
export type AnyRule = Rule<any, any, any, any>;

/** Helpers that keep rule code short and the decision shapes uniform. */
export const compliant = (reason: string, resources: readonly ResourceRef[] = [], finding?: FindingCode): Decision => ({
  kind: 'compliant',
  reason,
  resources,
  ...(finding ? { finding } : {}),
});
export const notApplicable = (reason: string): Decision => ({ kind: 'not-applicable', reason });
export const violation = (
  reason: string,
  severity: Severity,
  resources: readonly ResourceRef[],
  actions: readonly PlannedAction[],
  finding?: FindingCode,
): Decision => ({ kind: 'violation', reason, severity, resources, actions, ...(finding ? { finding } : {}) });
export const alert = (reason: string, severity: Severity, resources: readonly ResourceRef[], finding?: FindingCode): Decision => ({
  kind: 'alert',
  reason,
  severity,
  resources,
  ...(finding ? { finding } : {}),
});
