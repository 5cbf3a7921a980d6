// The sample each rule is measured on, the outcome it must end in, and the fewest AWS calls it needs in live
// mode, and why. The bench compares the counted calls against these; dry-run needs the same reads, offline
// none. Each rule's own folder says what only it can say (functions/<rule>/bench.json: the sample, the reads
// its decision needs, why); the rest is derived from the rule: a rule that writes (a permission that is no
// Get/Describe/List) makes one write and reads it back once, a notify-only rule neither, and a rule without
// read permissions reads nothing. test/bench/bench.test.ts holds every rule of functions/rules.ts to an entry.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as v from 'valibot';
import { RULES } from '../functions/rules.js';
import { ALERT_RULE_IDS, parseConfig, type AlertRuleId, type Mode, type RuleId } from '../shared/config.js';
import type { Outcome } from '../shared/remediation-log.js';
import type { AnyRule } from '../shared/rule.js';

/** functions/<rule>/bench.json. */
const BenchCase = v.strictObject({
  /** The sample (events/<rule>/<name>.json) whose calls are counted and timed: a violation, or an event that alerts. */
  sample: v.pipe(v.string(), v.minLength(1)),
  /** Reads needed to decide on current state (dry-run and live); 0 for a rule without read permissions. */
  reads: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** Why these calls are the fewest, for the bench report. */
  why: v.pipe(v.string(), v.minLength(1)),
  /**
   * Events of the same sample handled first, neither timed nor counted: one fewer than this numeric setting's
   * default (a rule that alerts on the threshold-th event of a window).
   */
  priorEventsBelow: v.optional(v.string()),
  /**
   * A rule counting distinct items (instances, SES calls) takes the same sample again as no new item: each prior
   * event gets its own value at this dotted path of the sample's CloudTrail record (`requestParameters.instanceId`),
   * so that the measured event is the threshold-th distinct one.
   */
  priorEventsVary: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9]+(\.[A-Za-z0-9]+)+$/))),
});
type BenchCase = v.InferOutput<typeof BenchCase>;

const ROOT = join(import.meta.dirname, '..');
const READ = /^[\w-]+:(Get|Describe|List)[A-Z]/;

function benchCaseOf(rule: AnyRule): BenchCase {
  const file = join('functions', rule.id, 'bench.json');
  const parsed = v.safeParse(BenchCase, JSON.parse(readFileSync(join(ROOT, file), 'utf8')));
  if (!parsed.success) throw new Error(`${file}: ${parsed.issues[0]?.message ?? 'invalid'} at ${v.getDotPath(parsed.issues[0]) ?? 'the top'}`);
  const reads = Object.values(rule.permissions).filter((action) => READ.test(action));
  if (parsed.output.reads > 0 && reads.length === 0) throw new Error(`${file}: ${rule.id} has no read permission, so it can need no read`);
  return parsed.output;
}

/** Each rule's bench case, in RULES order. */
const CASES: readonly (readonly [AnyRule, BenchCase])[] = RULES.map((rule) => [rule, benchCaseOf(rule)]);

/**
 * The sample per rule (events/<rule>/<name>.json) whose calls are counted and timed: a violation for a
 * remediation rule, an event that alerts for an audit alert.
 */
export const BENCH_SAMPLES = Object.fromEntries(CASES.map(([rule, bench]) => [rule.id, bench.sample])) as Readonly<Record<RuleId, string>>;

/** The default of one numeric setting of a rule, less one. */
function oneBelow(rule: AnyRule, setting: string): number {
  const value: unknown = (rule.settings(parseConfig({})) as Readonly<Record<string, unknown>>)[setting];
  if (typeof value !== 'number')
    throw new Error(`functions/${rule.id}/bench.json: priorEventsBelow names ${setting}, which is no numeric setting of ${rule.id}`);
  return value - 1;
}

/**
 * Events of the same sample handled before each measured one, in the same fake world (neither timed nor
 * counted): a rule that alerts on the threshold-th failure of a user or IP in its window measures the failure
 * that follows threshold - 1 others (the state table's counters count, bench/fake-aws.ts).
 */
export const PRIOR_EVENTS = Object.fromEntries(
  CASES.flatMap(([rule, bench]) => (bench.priorEventsBelow ? [[rule.id, oneBelow(rule, bench.priorEventsBelow)]] : [])),
) as Readonly<Partial<Record<RuleId, number>>>;

export const isAlertRule = (rule: string): rule is AlertRuleId => (ALERT_RULE_IDS as readonly string[]).includes(rule);

/**
 * The outcome every measured event must end in: an audit alert alerts in every mode (a counting alert in dry-run
 * and live because of its PRIOR_EVENTS; offline it does not count, and reports each event); a remediation rule
 * would remediate, and remediates (verified) in live mode.
 */
export function expectedOutcome(rule: RuleId, mode: Mode): Outcome {
  if (isAlertRule(rule)) return 'alerted';
  return mode === 'live' ? 'remediated' : 'would-remediate';
}

export interface Minimum {
  /** Reads needed to decide on current state (dry-run and live). */
  readonly reads: number;
  readonly writes: number;
  /** Reads back after the write (live). */
  readonly verify: number;
  readonly why: string;
}

/** One write and one read-back for a rule that may write (a permission that is no read); none for a notify-only rule. */
function minimumOf(rule: AnyRule, bench: BenchCase): Minimum {
  const writes = !isAlertRule(rule.id) && Object.values(rule.permissions).some((action) => !READ.test(action)) ? 1 : 0;
  return { reads: bench.reads, writes, verify: writes, why: bench.why };
}

export const MINIMUMS = Object.fromEntries(CASES.map(([rule, bench]) => [rule.id, minimumOf(rule, bench)])) as Readonly<Record<RuleId, Minimum>>;

/** Per rule whose prior events must each be a new item: the dotted path varied (functions/<rule>/bench.json). */
export const PRIOR_EVENTS_VARY = Object.fromEntries(
  CASES.flatMap(([rule, bench]) => (bench.priorEventsVary ? [[rule.id, bench.priorEventsVary]] : [])),
) as Readonly<Partial<Record<RuleId, string>>>;

/**
 * The sample with its value at `path` made the index-th distinct one: the last six characters replaced by a hex
 * count (an instance id stays an instance id), never the sample's own value.
 */
export function variedEvent(event: unknown, path: string, index: number): unknown {
  const keys = path.split('.');
  const last = keys.pop() as string;
  // A sample is an EventBridge event or, as some are, the bare CloudTrail record.
  const record = (event as { detail?: unknown }).detail ?? event;
  let holder: unknown = record;
  for (const key of keys) holder = (holder as Record<string, unknown> | undefined)?.[key];
  const value = (holder as Record<string, unknown> | undefined)?.[last];
  if (typeof value !== 'string' || value.length < 6) throw new Error(`priorEventsVary: ${path} is no string of 6 characters or more in the sample`);
  const varied = `${value.slice(0, -6)}${(0xa00000 + index).toString(16)}`;
  (holder as Record<string, unknown>)[last] = varied === value ? `${value.slice(0, -6)}${(0xb00000 + index).toString(16)}` : varied;
  return event;
}
