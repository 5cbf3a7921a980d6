/**
 * Reads remediation-log records back from the shapes operators have them in: the JSON lines `replay
 * --format jsonl` prints, Lambda log lines (`{"level":"INFO","message":"trailguard remediation",...}`),
 * and CloudWatch exports where the JSON follows a timestamp (and a tab or space) prefix.
 */
import { OUTCOMES, RECORD_MESSAGE, type ActionRecord, type RemediationRecord } from '../remediation-log.js';

/** A record with when it was logged (ms), when the line says; else its event time is used. */
export interface LoggedRecord {
  readonly record: RemediationRecord;
  /** Epoch ms of the log line (Lambda `timestamp` or the CloudWatch event time); undefined when unknown. */
  readonly loggedAt: number | undefined;
  readonly source: string;
}

const OUTCOME_SET: ReadonlySet<string> = new Set(OUTCOMES);
const LOG_KEYS = ['level', 'message', 'timestamp'] as const;

/** True for an object that has the record's identifying fields (enough to report on it). */
export function isRecordLike(value: unknown): value is RemediationRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.outcome === 'string'
    && OUTCOME_SET.has(v.outcome)
    && typeof v.eventId === 'string'
    && Array.isArray(v.actions)
    && Array.isArray(v.resources)
    && typeof v.reason === 'string'
  );
}

/** Epoch ms of an ISO time, or undefined. */
export function timeMs(value: unknown): number | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Parses one line into a record, or undefined when the line is not one (another log line, a START/END
 * line, blank). A Lambda log line must carry the record message; its logger keys are dropped.
 */
export function parseRecordLine(line: string, source: string, fallbackLoggedAt?: number): LoggedRecord | undefined {
  const start = line.indexOf('{');
  if (start < 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line.slice(start));
  } catch {
    return undefined;
  }
  return recordFromValue(value, source, fallbackLoggedAt ?? prefixTime(line.slice(0, start)));
}

/** A parsed JSON value as a record (a Lambda log line or a bare record). */
export function recordFromValue(value: unknown, source: string, loggedAt?: number): LoggedRecord | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const object = value as Record<string, unknown>;
  if ('message' in object && 'level' in object) {
    if (object.message !== RECORD_MESSAGE) return undefined;
    const rest: Record<string, unknown> = { ...object };
    for (const key of LOG_KEYS) delete rest[key];
    if (!isRecordLike(rest)) return undefined;
    return { record: withDefaults(rest), loggedAt: timeMs(object.timestamp) ?? loggedAt, source };
  }
  return isRecordLike(object) ? { record: withDefaults(object), loggedAt, source } : undefined;
}

/**
 * Records as written before fields were added, read the way they are meant today, once, at this edge: an event's
 * (`trigger`), with no finding code; an action that found its resource already gone marked `gone` (then only its
 * detail said so); an undo that succeeded `reverted` (then `remediated`).
 */
function withDefaults(record: RemediationRecord): RemediationRecord {
  const legacyGone = record.actions.some(isLegacyGone);
  const legacyUndo = record.trigger === 'undo' && record.outcome === 'remediated';
  if (record.trigger !== undefined && record.finding !== undefined && !legacyGone && !legacyUndo) return record;
  return {
    ...record,
    trigger: record.trigger ?? 'event',
    finding: record.finding ?? null,
    outcome: legacyUndo ? 'reverted' : record.outcome,
    actions: legacyGone
      ? record.actions.map((a) => (isLegacyGone(a) && a.verification ? { ...a, verification: { ...a.verification, gone: true } } : a))
      : record.actions,
  };
}

/** How records written before `verification.gone` existed said that the resource was already gone when acting. */
const isLegacyGone = (action: ActionRecord): boolean =>
  action.status === 'done' && action.verification?.gone === undefined && action.verification?.detail.startsWith('already gone (') === true;

/** The time in an export prefix ("2026-11-20T09:15:02.123Z\t", or epoch ms), if any. */
function prefixTime(prefix: string): number | undefined {
  const first = prefix.trim().split(/\s+/)[0];
  if (!first) return undefined;
  return /^\d{12,}$/.test(first) ? Number(first) : timeMs(first);
}

/** When a record happened for `--since` and the chart: logged time, else event time. */
export function recordTime(logged: LoggedRecord): number | undefined {
  return logged.loggedAt ?? timeMs(logged.record.eventTime);
}

/** Parses `24h`, `7d`, `90m`, `30s`, `2w` into milliseconds; undefined when it is none of these. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[match[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  const ms = Number(match[1]) * unit;
  return ms > 0 ? ms : undefined;
}
