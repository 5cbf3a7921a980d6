/**
 * Pure aggregation of remediation-log records into the operators' report: counts per rule and outcome,
 * failures with their reasons, the actors behind violations, exposure percentiles per rule, every action
 * with its reversal, and a timeline for the chart. No I/O: the CLI reads, this sums, the renderers print.
 */
import { OUTCOMES, type Outcome, type RecordError, type RemediationRecord } from '../remediation-log.js';
import { recordTime, type LoggedRecord } from './records.js';
import type { Reversal } from '../actions/action.js';
import { ACTION_TYPES } from '../actions/registry.js';
import { reversalOf, reversalText } from '../actions/reversal.js';
import type { Severity } from '../rule.js';

/** The outcomes that mean "someone did something the rules object to" (as the saved query violations-by-actor). */
export const VIOLATION_OUTCOMES: ReadonlySet<Outcome> = new Set(['remediated', 'would-remediate', 'failed', 'alerted']);

/**
 * A decision about someone's call: a CloudTrail event a rule matched. Not a sweep's finding or an enforcement check
 * (their "actor" is trailguard's own schedule, and the resource's state, not a call, is the evidence), not an undo.
 */
export function isViolation(record: RemediationRecord): boolean {
  return VIOLATION_OUTCOMES.has(record.outcome) && record.rule !== null && record.trigger === 'event';
}

/** The rule column for records no rule matched. */
export const NO_RULE = '(no rule)';

/** Severities, most urgent first: the findings' order. */
export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const satisfies readonly Severity[];

/** The outcomes a finding row can have: a rule objected, and trailguard alerted, fixed, would fix, or failed to. */
export const FINDING_OUTCOMES = ['remediated', 'would-remediate', 'alerted', 'failed'] as const satisfies readonly Outcome[];
export type FindingOutcome = (typeof FINDING_OUTCOMES)[number];

const FINDING_OUTCOME_SET: ReadonlySet<Outcome> = new Set(FINDING_OUTCOMES);

/**
 * A rule's objection, whatever found it (a call, a sweep, a schedule): a row of "findings by severity". An undo is
 * an operator's reversal, not a finding; a record no rule matched has nothing to find.
 */
export function isFinding(record: RemediationRecord): record is RemediationRecord & { readonly outcome: FindingOutcome } {
  return FINDING_OUTCOME_SET.has(record.outcome) && record.rule !== null && record.trigger !== 'undo';
}

/** Which records the report is about: `--severity` and `--rule`. Each list given keeps only records that match it. */
export interface ReportFilter {
  readonly severities?: readonly Severity[];
  readonly rules?: readonly string[];
}

export interface FindingRow {
  readonly time: string | null;
  /** Null in records of rules that set none (older records). */
  readonly severity: Severity | null;
  readonly rule: string;
  readonly outcome: FindingOutcome;
  readonly trigger: RemediationRecord['trigger'];
  readonly eventId: string;
  readonly eventName: string | null;
  readonly resource: string;
  /** The caller; null for a sweep's or a schedule's finding (no one's call). */
  readonly actor: string | null;
  readonly reason: string;
}

export interface RuleCounts {
  readonly rule: string;
  readonly total: number;
  readonly outcomes: Readonly<Record<Outcome, number>>;
}

export interface FailureRow {
  readonly time: string | null;
  readonly rule: string;
  readonly trigger: string;
  readonly eventId: string;
  readonly eventName: string | null;
  readonly resource: string;
  readonly reason: string;
  readonly error: RecordError | null;
}

export interface ActorRow {
  readonly actor: string;
  readonly actorType: string | null;
  readonly violations: number;
  readonly rules: readonly string[];
  readonly outcomes: Readonly<Partial<Record<Outcome, number>>>;
  readonly lastSeen: string | null;
}

export interface ExposureRow {
  readonly rule: string;
  /** How many live remediations carried an exposure window. */
  readonly count: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

/** Exposure over every live remediation in the window. */
export interface ExposureStats {
  readonly count: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

export interface ActionRow {
  readonly time: string | null;
  readonly rule: string;
  readonly outcome: Outcome;
  readonly trigger: string;
  readonly eventId: string;
  readonly api: string;
  readonly resource: string;
  readonly status: string;
  readonly reversal: {
    readonly kind: Reversal['kind'];
    /** The command(s) to reverse it, or why it is not reversible. */
    readonly text: string;
  };
}

export interface TimelineBucket {
  readonly start: string;
  /** The bucket runs past the report's time (today's, this hour's): its counts are still growing. */
  readonly partial: boolean;
  /** Findings in the bucket by outcome: the stacked bar. */
  readonly findings: Readonly<Record<FindingOutcome, number>>;
  /** Exposure of the live remediations in the bucket; null when there was none. */
  readonly exposure: ExposureStats | null;
}

export interface Report {
  readonly generatedAt: string;
  readonly since: string | null;
  readonly sources: readonly string[];
  /** The filter applied (`--severity`, `--rule`); null when none was. */
  readonly filter: ReportFilter | null;
  /** Records in the window the filter left out. */
  readonly filteredOut: number;
  /** Records reported on: in the window, not filtered out, duplicates dropped. */
  readonly total: number;
  /** Every record's outcome, unmatched ones included. */
  readonly outcomeTotals: Readonly<Record<Outcome, number>>;
  /** Findings per severity (`none`: a record that carries no severity). */
  readonly severityTotals: Readonly<Record<Severity | 'none', number>>;
  /** Every finding: CRITICAL first, then HIGH, MEDIUM, LOW, none; newest first within a severity. */
  readonly findings: readonly FindingRow[];
  /** Per rule; records no rule matched are in `unmatched`, not here. */
  readonly counts: readonly RuleCounts[];
  /** The rules' rows summed. */
  readonly ruleTotals: Readonly<Record<Outcome, number>>;
  /** Records no rule matched (events of no concern, or unreadable ones), by outcome. */
  readonly unmatched: { readonly total: number; readonly outcomes: Readonly<Record<Outcome, number>> };
  readonly failures: readonly FailureRow[];
  readonly actors: readonly ActorRow[];
  /** Per rule. */
  readonly exposure: readonly ExposureRow[];
  /** All rules together; null when no live remediation carried an exposure window. */
  readonly exposureOverall: ExposureStats | null;
  /** Writes that were made (done or failed), each with its reversal. */
  readonly actions: readonly ActionRow[];
  /** Writes only planned (offline, dry-run, refused): nothing was changed, so nothing to reverse. */
  readonly plannedActions: number;
  readonly bucketMs: number;
  readonly timeline: readonly TimelineBucket[];
}

export interface AggregateOptions {
  /** Epoch ms: records before it are left out; undefined keeps all. */
  readonly since: number | undefined;
  readonly now: number;
  readonly sources: readonly string[];
  /** Keep only these severities and/or rules; undefined keeps every record. */
  readonly only?: ReportFilter | undefined;
}

const zeroOutcomes = (): Record<Outcome, number> => Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());

/** Nearest-rank percentile of a sorted list (q in 0..1). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1] as number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Chart buckets: hours for up to two days, days for up to 90, weeks beyond. */
export function bucketSizeFor(spanMs: number): number {
  if (spanMs <= 2 * DAY) return HOUR;
  if (spanMs <= 90 * DAY) return DAY;
  return 7 * DAY;
}

/** A stable identity for exact duplicates (the same line read from two sources). */
const identity = (logged: LoggedRecord) => `${logged.loggedAt ?? ''}|${JSON.stringify(logged.record)}`;

/** Whether a record passes the filter: each list given (and not empty) must hold the record's value. */
export function matchesFilter(record: RemediationRecord, filter: ReportFilter | undefined): boolean {
  const { severities, rules } = filter ?? {};
  if (severities && severities.length > 0 && (record.severity === null || !severities.includes(record.severity))) return false;
  if (rules && rules.length > 0 && (record.rule === null || !rules.includes(record.rule))) return false;
  return true;
}

const isFilter = (filter: ReportFilter | undefined): filter is ReportFilter => (filter?.severities?.length ?? 0) > 0 || (filter?.rules?.length ?? 0) > 0;

const SEVERITY_RANK: Readonly<Record<string, number>> = Object.fromEntries(SEVERITIES.map((s, i) => [s, i]));
const severityRank = (severity: Severity | null) => (severity === null ? SEVERITIES.length : (SEVERITY_RANK[severity] ?? SEVERITIES.length));

/** Live remediations of a call carry the exposure window: the figures the report gives. */
const exposureOf = (record: RemediationRecord): number | undefined =>
  record.outcome === 'remediated' && record.trigger === 'event' && typeof record.exposureMs === 'number' && Number.isFinite(record.exposureMs)
    ? record.exposureMs
    : undefined;

/** p50, p95 and max of a list (sorted here); null when empty. */
export function exposureStats(values: readonly number[]): ExposureStats | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, p50Ms: percentile(sorted, 0.5), p95Ms: percentile(sorted, 0.95), maxMs: sorted[sorted.length - 1] as number };
}

/** Sums records into the report. Records without a time are kept unless `since` is set. */
export function aggregate(input: Iterable<LoggedRecord>, options: AggregateOptions): Report {
  const seen = new Set<string>();
  const rows: { logged: LoggedRecord; at: number | undefined }[] = [];
  let filteredOut = 0;
  for (const logged of input) {
    const at = recordTime(logged);
    if (options.since !== undefined && (at === undefined || at < options.since)) continue;
    const key = identity(logged);
    if (seen.has(key)) continue;
    seen.add(key);
    if (!matchesFilter(logged.record, options.only)) {
      filteredOut += 1;
      continue;
    }
    rows.push({ logged, at });
  }
  rows.sort((a, b) => (a.at ?? 0) - (b.at ?? 0));

  const outcomeTotals = zeroOutcomes();
  const ruleTotals = zeroOutcomes();
  const unmatched = zeroOutcomes();
  const severityTotals: Record<Severity | 'none', number> = { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, none: 0 };
  const counts = new Map<string, Record<Outcome, number>>();
  const findings: (FindingRow & { at: number })[] = [];
  const failures: FailureRow[] = [];
  const actors = new Map<
    string,
    { actorType: string | null; violations: number; rules: Set<string>; outcomes: Partial<Record<Outcome, number>>; last: number | undefined }
  >();
  const exposures = new Map<string, number[]>();
  const actions: ActionRow[] = [];
  let plannedActions = 0;

  for (const {
    logged: { record },
    at,
  } of rows) {
    const rule = record.rule ?? NO_RULE;
    outcomeTotals[record.outcome] += 1;
    if (record.rule === null) {
      unmatched[record.outcome] += 1;
    } else {
      ruleTotals[record.outcome] += 1;
      const perRule = counts.get(rule) ?? zeroOutcomes();
      perRule[record.outcome] += 1;
      counts.set(rule, perRule);
    }
    const resource = record.resources.map((r) => r.id).join(', ') || '-';
    if (isFinding(record)) {
      severityTotals[record.severity ?? 'none'] += 1;
      findings.push({
        time: iso(at),
        at: at ?? 0,
        severity: record.severity,
        rule,
        outcome: record.outcome,
        trigger: record.trigger,
        eventId: record.eventId,
        eventName: record.eventName,
        resource,
        actor: record.actor,
        reason: record.reason,
      });
    }
    if (record.outcome === 'failed') {
      failures.push({
        time: iso(at),
        rule,
        trigger: record.trigger,
        eventId: record.eventId,
        eventName: record.eventName,
        resource,
        reason: record.reason,
        error: record.error,
      });
    }
    if (isViolation(record)) {
      const actor = record.actor ?? '(unknown)';
      const row = actors.get(actor) ?? { actorType: record.actorType, violations: 0, rules: new Set<string>(), outcomes: {}, last: undefined };
      row.violations += 1;
      row.rules.add(rule);
      row.outcomes[record.outcome] = (row.outcomes[record.outcome] ?? 0) + 1;
      if (at !== undefined && (row.last === undefined || at > row.last)) row.last = at;
      actors.set(actor, row);
    }
    const exposure = exposureOf(record);
    if (exposure !== undefined) {
      const list = exposures.get(rule) ?? [];
      list.push(exposure);
      exposures.set(rule, list);
    }
    for (const action of record.actions) {
      if (action.status === 'planned') {
        plannedActions += 1;
        continue;
      }
      const reversal = reversalOf(ACTION_TYPES, record, action);
      actions.push({
        time: iso(at),
        rule,
        outcome: record.outcome,
        trigger: record.trigger,
        eventId: record.eventId,
        api: action.api,
        resource: action.resource,
        status: action.status,
        reversal: { kind: reversal.kind, text: reversalText(reversal) },
      });
    }
  }

  // rows are sorted by time (untimed first, as 0): the first and last timed ones bound the chart.
  const timed = rows.filter((r) => r.at !== undefined).map((r) => r.at as number);
  const first = options.since ?? timed[0] ?? options.now;
  // A window runs to now; without one the chart spans the records (a replay of last year's events).
  const lastTimed = timed[timed.length - 1];
  const last = options.since !== undefined || lastTimed === undefined ? Math.max(options.now, lastTimed ?? 0) : lastTimed;
  const bucketMs = bucketSizeFor(last - first);
  const timeline = buildTimeline(rows, first, last, bucketMs, options.now);

  return {
    generatedAt: new Date(options.now).toISOString(),
    since: iso(options.since),
    sources: [...options.sources],
    filter: isFilter(options.only)
      ? {
          ...(options.only.severities?.length ? { severities: [...options.only.severities] } : {}),
          ...(options.only.rules?.length ? { rules: [...options.only.rules] } : {}),
        }
      : null,
    filteredOut,
    total: rows.length,
    outcomeTotals,
    severityTotals,
    // Sorted once here, so every form lists them alike: the most urgent first, the latest first within it.
    findings: findings.sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || b.at - a.at).map(({ at: _at, ...row }) => row),
    counts: [...counts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([rule, outcomes]) => ({
        rule,
        outcomes,
        total: Object.values(outcomes).reduce((x, y) => x + y, 0),
      })),
    ruleTotals,
    unmatched: { total: Object.values(unmatched).reduce((x, y) => x + y, 0), outcomes: unmatched },
    failures,
    actors: [...actors]
      .map(([actor, row]) => ({
        actor,
        actorType: row.actorType,
        violations: row.violations,
        rules: [...row.rules].sort(),
        outcomes: row.outcomes,
        lastSeen: iso(row.last),
      }))
      .sort((a, b) => b.violations - a.violations || a.actor.localeCompare(b.actor)),
    exposure: [...exposures].sort(([a], [b]) => a.localeCompare(b)).map(([rule, list]) => ({ rule, ...(exposureStats(list) as ExposureStats) })),
    exposureOverall: exposureStats([...exposures.values()].flat()),
    actions,
    plannedActions,
    bucketMs,
    timeline,
  };
}

function buildTimeline(
  rows: readonly { logged: LoggedRecord; at: number | undefined }[],
  first: number,
  last: number,
  bucketMs: number,
  now: number,
): TimelineBucket[] {
  const start = Math.floor(first / bucketMs) * bucketMs;
  const count = Math.min(500, Math.floor((last - start) / bucketMs) + 1);
  const zero = (): Record<FindingOutcome, number> => ({ remediated: 0, 'would-remediate': 0, alerted: 0, failed: 0 });
  const buckets = Array.from({ length: count }, () => ({ findings: zero(), exposures: [] as number[] }));
  for (const {
    logged: { record },
    at,
  } of rows) {
    if (at === undefined) continue;
    const bucket = buckets[Math.min(count - 1, Math.max(0, Math.floor((at - start) / bucketMs)))];
    if (!bucket) continue;
    if (isFinding(record)) bucket.findings[record.outcome] += 1;
    const exposure = exposureOf(record);
    if (exposure !== undefined) bucket.exposures.push(exposure);
  }
  return buckets.map((bucket, index) => ({
    start: new Date(start + index * bucketMs).toISOString(),
    partial: start + (index + 1) * bucketMs > now,
    findings: bucket.findings,
    exposure: exposureStats(bucket.exposures),
  }));
}

/** `1234` → `1.2 s`, `90000` → `1m 30s`, `7200000` → `2h 0m`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < HOUR) return `${Math.floor(ms / 60_000)}m ${Math.round((ms % 60_000) / 1_000)}s`;
  if (ms < DAY) return `${Math.floor(ms / HOUR)}h ${Math.round((ms % HOUR) / 60_000)}m`;
  return `${Math.floor(ms / DAY)}d ${Math.round((ms % DAY) / HOUR)}h`;
}
