// Child process of `npm run bench`: imports the real Lambda handlers (TypeScript, through tsx) with every
// AWS call answered at once in-process by bench/fake-aws.ts, then
//   1. counts the AWS calls of one event per rule (bench/minimums.ts: a violation, or for an audit alert an
//      event that alerts), by phase (inspect / act / verify / runner);
//   2. times the handler over N events per rule (the first WARMUP excluded) and prints p50/p99.
// Usage: node --import tsx bench/warm.ts <offline|dry-run|live> <events>; prints one JSON line.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { RULES } from '../functions/rules.js';
import { logger } from '../shared/log.js';
import { MODES, parseConfig, type Mode } from '../shared/config.js';
import type { AnyRule } from '../shared/rule.js';
import { installFakeAws, World, worldFor, type Call } from './fake-aws.js';
import { BENCH_SAMPLES, expectedOutcome, PRIOR_EVENTS, PRIOR_EVENTS_VARY, variedEvent } from './minimums.js';
import { percentile } from './stats.js';

export const WARMUP = 200;

/** The functions that write, whose roles serverless.yml lists by exact name in TRAILGUARD_SELF_ROLES (scripts/rule-files.cjs). */
const SELF_ROLES = (createRequire(import.meta.url)('../scripts/rule-files.cjs') as { writers: () => { key: string }[] }).writers().map(({ key }) => key);

/**
 * The rules that remediate only when configured (a `remediate` setting, off by default) are measured remediating:
 * the bench times the write path every remediation rule has, as a deployment that turned it on runs it.
 */
const REMEDIATE_ON = JSON.stringify(
  Object.fromEntries(RULES.filter((rule) => 'remediate' in (rule.settings(parseConfig({})) as object)).map((rule) => [rule.id, { remediate: true }])),
);

/** The environment of a deployed function (serverless.yml `provider.environment`), offline-safe values. */
export function lambdaEnv(mode: string): Record<string, string> {
  return {
    TRAILGUARD_MODE: mode,
    TRAILGUARD_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:trailguard-dev-alerts',
    TRAILGUARD_SELF_ROLES: SELF_ROLES.map((fn) => `trailguard-dev-${fn}-role`).join(','),
    TRAILGUARD_EXEMPTIONS: '[]',
    TRAILGUARD_RULES: REMEDIATE_ON,
    TRAILGUARD_LOG_LEVEL: 'INFO',
    TRAILGUARD_STATE_TABLE: 'trailguard-dev-state',
    TRAILGUARD_RELIABILITY: '{}',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEBENCH0001',
    AWS_SECRET_ACCESS_KEY: 'bench-only-not-a-secret',
  };
}

export interface RuleRun {
  readonly rule: string;
  readonly sample: string;
  /** The outcome of the counted event, and the one every event must end in (bench/minimums.ts). */
  readonly outcome: string;
  readonly expected: string;
  /** The counted event's reason: which path of the rule the timed events took. */
  readonly reason: string;
  readonly outcomesOk: number;
  /** Events handled, warm-up included (`outcomesOk` counts over these). */
  readonly total: number;
  readonly calls: readonly Call[];
  readonly events: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** The same percentiles of process CPU time per event (user + system, all threads: V8's helpers included). */
  readonly cpuP50Us: number;
  readonly cpuP99Us: number;
  readonly meanUs: number;
  readonly maxUs: number;
}

type Handler = (event: unknown, context: unknown) => Promise<{ outcome: string; reason: string }>;

const context = (n: number) => ({
  awsRequestId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  functionName: 'trailguard-dev-bench',
  getRemainingTimeInMillis: () => 30_000,
  callbackWaitsForEmptyEventLoop: true,
});

/** Wraps inspect and the writes (perform and verify) so each logged call names the phase it was made in; returns the undo. */
export function tracePhases(rule: AnyRule, fake: { phase: string }): () => void {
  const restores: (() => void)[] = [];
  const trace = (target: object, method: string, phase: string) => {
    const mutable = target as Record<string, unknown>;
    const original = mutable[method];
    if (typeof original !== 'function') return;
    mutable[method] = async (...args: unknown[]) => {
      fake.phase = phase;
      try {
        return await (original as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      } finally {
        fake.phase = 'runner';
      }
    };
    restores.push(() => {
      mutable[method] = original;
    });
  };
  trace(rule, 'inspect', 'inspect');
  // A rule's writes: its action types' perform and verify (shared/actions/perform.ts), or a transitional act/verify.
  trace(rule, 'act', 'act');
  trace(rule, 'verify', 'verify');
  for (const type of rule.actions ?? []) {
    trace(type, 'perform', 'act');
    trace(type, 'verify', 'verify');
  }
  return () => {
    for (const restore of restores.reverse()) restore();
  };
}

export async function measure(mode: Mode, events: number): Promise<RuleRun[]> {
  let world: World = new World('111122223333', 'us-east-1', {});
  const fake = installFakeAws(() => world);
  let logged = 0;
  logger.setSink((line) => {
    logged += line.length;
  }); // the JSON line is built; only the stdout write is skipped
  const runs: RuleRun[] = [];
  for (const rule of RULES) {
    const sample = BENCH_SAMPLES[rule.id] as string | undefined;
    if (sample === undefined) throw new Error(`bench/minimums.ts has no sample for ${rule.id}`);
    const expected = expectedOutcome(rule.id, mode);
    const text = readFileSync(join(import.meta.dirname, '..', 'events', rule.id, `${sample}.json`), 'utf8');
    const { handler } = (await import(`../functions/${rule.id}/handler.js`)) as { handler: Handler };
    const prior = PRIOR_EVENTS[rule.id] ?? 0;
    const vary = PRIOR_EVENTS_VARY[rule.id];
    const parsed = () => JSON.parse(text) as unknown;
    // A new world per event, after the rule's prior events (untimed, uncounted) have been handled in it.
    const fresh = async () => {
      const event = parsed();
      world = worldFor(event);
      const counting = fake.counting;
      fake.counting = false;
      for (let i = 0; i < prior; i += 1) await handler(vary ? variedEvent(parsed(), vary, i) : parsed(), context(0));
      fake.counting = counting;
      return event;
    };
    // 1. calls of one event, by phase
    fake.calls.length = 0;
    fake.counting = true;
    fake.phase = 'runner';
    const untrace = tracePhases(rule, fake);
    const first = await handler(await fresh(), context(0));
    untrace();
    const calls = [...fake.calls];
    fake.counting = false;
    // 2. handler time over N events
    // Process CPU time (outside the wall-clock pair) goes to results.json only: it counts V8's background
    // threads (concurrent compilation and marking) too, and its tail follows their work, not the handler's.
    const times = new Float64Array(events);
    const cpu = new Float64Array(events);
    let ok = 0;
    for (let i = 0; i < events; i += 1) {
      const event = await fresh();
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      const record = await handler(event, context(i + 1));
      times[i] = performance.now() - start;
      const cpuUsed = process.cpuUsage(cpuStart);
      cpu[i] = (cpuUsed.user + cpuUsed.system) / 1000;
      if (record.outcome === expected) ok += 1;
    }
    const from = Math.min(WARMUP, events - 1);
    const timed = [...times.subarray(from)].sort((a, b) => a - b);
    const cpuTimed = [...cpu.subarray(from)].sort((a, b) => a - b);
    runs.push({
      rule: rule.id,
      sample,
      outcome: first.outcome,
      expected,
      reason: first.reason,
      outcomesOk: ok,
      total: events,
      calls,
      events: timed.length,
      p50Us: percentile(timed, 50) * 1000,
      p99Us: percentile(timed, 99) * 1000,
      cpuP50Us: percentile(cpuTimed, 50) * 1000,
      cpuP99Us: percentile(cpuTimed, 99) * 1000,
      meanUs: (timed.reduce((a, b) => a + b, 0) / timed.length) * 1000,
      maxUs: (timed.at(-1) ?? 0) * 1000,
    });
  }
  if (logged === 0) throw new Error("the handlers logged nothing: the logger sink was not the handlers' logger");
  return runs;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const [mode = 'live', events = '10000'] = process.argv.slice(2);
  if (!(MODES as readonly string[]).includes(mode)) throw new Error(`usage: warm.ts <${MODES.join('|')}> <events>, not ${mode}`);
  Object.assign(process.env, lambdaEnv(mode));
  const runs = await measure(mode as Mode, Number(events));
  process.stdout.write(`${JSON.stringify({ mode, runs })}\n`);
}
