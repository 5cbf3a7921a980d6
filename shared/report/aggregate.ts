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
  readonly violations: number;
  readonly remediated: number;
  /** Largest exposure window among the remediations in the bucket; null when none carried one. */
  readonly maxExposureMs: number | null;
  readonly p50ExposureMs: number | null;
}

export interface Report {
  readonly generatedAt: string;
  readonly since: string | null;
  readonly sources: readonly string[];
  readonly total: number;
  readonly outcomeTotals: Readonly<Record<Outcome, number>>;
  readonly counts: readonly RuleCounts[];
  readonly failures: readonly FailureRow[];
  readonly actors: readonly ActorRow[];
  readonly exposure: readonly ExposureRow[];
  readonly actions: readonly ActionRow[];
  readonly bucketMs: number;
  readonly timeline: readonly TimelineBucket[];
}

export interface AggregateOptions {
  /** Epoch ms: records before it are left out; undefined keeps all. */
  readonly since: number | undefined;
  readonly now: number;
  readonly sources: readonly string[];
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

/** Sums records into the report. Records without a time are kept unless `since` is set. */
export function aggregate(input: Iterable<LoggedRecord>, options: AggregateOptions): Report {
  const seen = new Set<string>();
  const rows: { logged: LoggedRecord; at: number | undefined }[] = [];
  for (const logged of input) {
    const at = recordTime(logged);
    if (options.since !== undefined && (at === undefined || at < options.since)) continue;
    const key = identity(logged);
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push({ logged, at });
  }
  rows.sort((a, b) => (a.at ?? 0) - (b.at ?? 0));

  const outcomeTotals = zeroOutcomes();
  const counts = new Map<string, Record<Outcome, number>>();
  const failures: FailureRow[] = [];
  const actors = new Map<string, { actorType: string | null; violations: number; rules: Set<string>; outcomes: Partial<Record<Outcome, number>>; last: number | undefined }>();
  const exposures = new Map<string, number[]>();
  const actions: ActionRow[] = [];

  for (const { logged: { record }, at } of rows) {
    const rule = record.rule ?? NO_RULE;
    outcomeTotals[record.outcome] += 1;
    const perRule = counts.get(rule) ?? zeroOutcomes();
    perRule[record.outcome] += 1;
    counts.set(rule, perRule);
    const resource = record.resources.map((r) => r.id).join(', ') || '-';
    if (record.outcome === 'failed') {
      failures.push({
        time: iso(at), rule, trigger: record.trigger, eventId: record.eventId, eventName: record.eventName,
        resource, reason: record.reason, error: record.error,
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
    if (record.outcome === 'remediated' && record.trigger === 'event' && typeof record.exposureMs === 'number' && Number.isFinite(record.exposureMs)) {
      const list = exposures.get(rule) ?? [];
      list.push(record.exposureMs);
      exposures.set(rule, list);
    }
    for (const action of record.actions) {
      const reversal = reversalOf(ACTION_TYPES, record, action);
      actions.push({
        time: iso(at), rule, outcome: record.outcome, trigger: record.trigger, eventId: record.eventId,
        api: action.api, resource: action.resource, status: action.status,
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
  const timeline = buildTimeline(rows, first, last, bucketMs);

  return {
    generatedAt: new Date(options.now).toISOString(),
    since: iso(options.since),
    sources: [...options.sources],
    total: rows.length,
    outcomeTotals,
    counts: [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([rule, outcomes]) => ({
      rule, outcomes, total: Object.values(outcomes).reduce((x, y) => x + y, 0),
    })),
    failures,
    actors: [...actors].map(([actor, row]) => ({
      actor, actorType: row.actorType, violations: row.violations, rules: [...row.rules].sort(), outcomes: row.outcomes, lastSeen: iso(row.last),
    })).sort((a, b) => b.violations - a.violations || a.actor.localeCompare(b.actor)),
    exposure: [...exposures].sort(([a], [b]) => a.localeCompare(b)).map(([rule, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      return { rule, count: sorted.length, p50Ms: percentile(sorted, 0.5), p95Ms: percentile(sorted, 0.95), maxMs: sorted[sorted.length - 1] as number };
    }),
    actions,
    bucketMs,
    timeline,
  };
}

function buildTimeline(rows: readonly { logged: LoggedRecord; at: number | undefined }[], first: number, last: number, bucketMs: number): TimelineBucket[] {
  const start = Math.floor(first / bucketMs) * bucketMs;
  const count = Math.min(500, Math.floor((last - start) / bucketMs) + 1);
  const buckets = Array.from({ length: count }, () => ({ violations: 0, remediated: 0, exposures: [] as number[] }));
  for (const { logged: { record }, at } of rows) {
    if (at === undefined) continue;
    const index = Math.min(count - 1, Math.max(0, Math.floor((at - start) / bucketMs)));
    const bucket = buckets[index];
    if (!bucket) continue;
    if (isViolation(record)) bucket.violations += 1;
    if (record.outcome === 'remediated' && record.trigger !== 'undo') bucket.remediated += 1;
    if (record.outcome === 'remediated' && record.trigger === 'event' && typeof record.exposureMs === 'number') bucket.exposures.push(record.exposureMs);
  }
  return buckets.map((bucket, index) => {
    const sorted = bucket.exposures.sort((a, b) => a - b);
    return {
      start: new Date(start + index * bucketMs).toISOString(),
      violations: bucket.violations,
      remediated: bucket.remediated,
      maxExposureMs: sorted.length > 0 ? (sorted[sorted.length - 1] as number) : null,
      p50ExposureMs: sorted.length > 0 ? percentile(sorted, 0.5) : null,
    };
  });
}

/** `1234` → `1.2 s`, `90000` → `1m 30s`, `7200000` → `2h 0m`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < HOUR) return `${Math.floor(ms / 60_000)}m ${Math.round((ms % 60_000) / 1_000)}s`;
  if (ms < DAY) return `${Math.floor(ms / HOUR)}h ${Math.round((ms % HOUR) / 60_000)}m`;
  return `${Math.floor(ms / DAY)}d ${Math.round((ms % DAY) / HOUR)}h`;
}
