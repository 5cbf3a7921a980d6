import { metricFields } from './metrics.js';
import type { Mode, RuleId } from './config.js';
import type { ControlId } from './controls.js';
import type { Logger } from './log.js';
import type { ResourceRef, Severity } from './rule.js';

/** Every outcome an event can end in; exactly one per event. `reverted`: an operator's `trailguard undo`, done and read back. */
export const OUTCOMES = ['remediated', 'would-remediate', 'compliant', 'exempt', 'ignored', 'alerted', 'failed', 'reverted'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** One planned or performed write. `previous` is the state it replaced (when read), so it can be reversed. */
export interface ActionRecord {
  readonly api: string;
  readonly status: 'planned' | 'done' | 'failed';
  readonly resource: string;
  /** The SDK input, as the action type validated it (a JSON object). */
  readonly params: unknown;
  readonly previous?: unknown;
  /** The read-back after a write (live only); `gone`: the resource was already gone when acting, nothing changed. */
  readonly verification?: { readonly ok: boolean; readonly detail: string; readonly gone?: true };
  /** Why a write failed: the classified error. */
  readonly error?: string;
}

/** The classified error that ended an event in `failed` (or `ignored` for `gone`). */
export interface RecordError {
  readonly kind: 'transient' | 'gone' | 'denied' | 'invalid' | 'parse' | 'internal';
  readonly code: string;
  readonly api?: string;
  /** For `denied`: the IAM action (or SCP) that blocked the call. */
  readonly permission?: string;
  readonly message: string;
}

/** Whether the notification for this record went out. */
export type NotificationStatus =
  /** `burst`: the burst notice of a digest window; `uncounted`: the digest could not count it (sent anyway, fail open). */
  | { readonly status: 'sent'; readonly messageId: string; readonly burst?: true; readonly uncounted?: true }
  | { readonly status: 'suppressed'; readonly reason: string }
  | { readonly status: 'failed'; readonly error: string }
  | { readonly status: 'not-needed' }
  | { readonly status: 'skipped'; readonly reason: string }
  | { readonly status: 'deferred'; readonly reason: string }
  /** Not paged on its own: `into` (enabled) pages the same event at `severity`, at least this record's (one page per event). */
  | { readonly status: 'folded'; readonly into: RuleId; readonly severity: Severity; readonly reason: string };

/**
 * The remediation-log record: the operators' contract. Fields are stable (adding is fine; renaming or
 * removing breaks queries), camelCase, and hold ids and ARNs, never credentials, policies or request bodies.
 */
export interface RemediationRecord {
  readonly rule: RuleId | null;
  readonly outcome: Outcome;
  readonly severity: Severity | null;
  readonly mode: Mode;
  /**
   * What started the run: a CloudTrail event (EventBridge or replay), the reconciliation sweep, a schedule,
   * or an operator's `trailguard undo` (then `eventId` is the undone event's id, `actions` are the reversing
   * writes with `previous` the remediated state they replaced, and `reason` starts "undo of <event id>").
   */
  readonly trigger: 'event' | 'sweep' | 'schedule' | 'undo';
  readonly eventId: string;
  readonly eventName: string | null;
  readonly eventSource: string | null;
  readonly eventTime: string | null;
  /**
   * The call's CloudTrail `errorCode` when it failed (`AccessDenied`), else null. A failed call changed
   * nothing: its alert suggests checks, never a restart or restore (absent in records written before it).
   */
  readonly errorCode: string | null;
  readonly account: string | null;
  readonly region: string | null;
  readonly actor: string | null;
  readonly actorType: string | null;
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
  readonly resources: readonly ResourceRef[];
  readonly actions: readonly ActionRecord[];
  /** One sentence: why this outcome. For a person: code reads `finding`, `outcome` and the actions, never this. */
  readonly reason: string;
  /** What the rule found, as its kebab-case code (`trail-gone-after-change`); null when it set none (absent in older records). */
  readonly finding: string | null;
  /** The exemptions that applied, with their reasons. */
  readonly exemptions: readonly { readonly resource: string; readonly reason: string; readonly expires: string | null }[];
  readonly error: RecordError | null;
  readonly notification: NotificationStatus;
  readonly durationMs: number;
  /**
   * Live `remediated` only: from the violating call's CloudTrail `eventTime` to the verified fix, the window
   * in which the resource was exposed. Null otherwise: nothing was fixed, or the event time is implausible
   * (unreadable, before 2006, or more than 5 min after the fix), and then `reason` ends "; no exposure figure: …".
   */
  readonly exposureMs: number | null;
  /**
   * The Security Hub controls its rule declares for its `finding` (shared/controls.ts); absent when none, and in
   * records written before it. Consumers that cannot load the rules (the Security Hub exporter) read them here.
   */
  readonly controls?: readonly ControlId[];
  /**
   * Live `remediated` only, when every write made can be reversed by a command: each command (shell-quoted,
   * shared/shell.ts) with the resource of the write it reverses, as the notification prints them; absent otherwise.
   */
  readonly reverseCommands?: readonly ReverseCommand[];
}

/** One command that reverses one write of a remediation, and the resource (the action's) it acts on. */
export interface ReverseCommand {
  readonly resource: string;
  readonly command: string;
}

/** The stable field names, in order: the contract test holds the record to this list. */
export const RECORD_FIELDS = [
  'rule',
  'outcome',
  'severity',
  'mode',
  'trigger',
  'eventId',
  'eventName',
  'eventSource',
  'eventTime',
  'errorCode',
  'account',
  'region',
  'actor',
  'actorType',
  'sourceIp',
  'userAgent',
  'resources',
  'actions',
  'reason',
  'finding',
  'exemptions',
  'error',
  'notification',
  'durationMs',
  'exposureMs',
] as const satisfies readonly (keyof RemediationRecord)[];

/** Fields present only when they hold something, after RECORD_FIELDS, in this order. */
export const OPTIONAL_RECORD_FIELDS = ['controls', 'reverseCommands'] as const satisfies readonly (keyof RemediationRecord)[];

/** The message every remediation-log line carries, so Logs Insights can select them. */
export const RECORD_MESSAGE = 'trailguard remediation';

/** Writes one record as one INFO line through the shared logger (CloudWatch Logs in Lambda), at any log level. */
export function writeRecordTo(logger: Logger): (record: RemediationRecord) => void {
  return (record) => {
    logger.always(RECORD_MESSAGE, { ...record });
    // A lost notification alarms (NotificationFailed): a line of its own, so the record line stays the log's contract.
    if (record.notification?.status === 'failed') {
      const metric = metricFields('NotificationFailed', 1, Date.now());
      if (Object.keys(metric).length > 0) logger.always(METRIC_MESSAGE, { rule: record.rule, eventId: record.eventId, ...metric });
    }
  };
}

/** The message of a metric line (shared/metrics.ts): a notification that could not be published. */
export const METRIC_MESSAGE = 'trailguard metric';
