// `npm run bench`: builds the real deployment artifacts and measures bundle size, cold init, warm
// overhead, AWS calls per remediation, replay throughput and exemption lookup, each next to its baseline and target.
// Prints a report and writes bench/results.json. BENCH_ROUNDS sets the cold-init rounds (default 30).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { naiveBuild, packageService, readArtifacts, ROOT } from './artifacts.js';
import { generateRecords, writeLogFile } from './cloudtrail-log.js';
import { measureCold } from './cold.js';
import { measureExemptions, measureReadCost, READ_COST_LATENCY_MS, type ReadCost } from './exemptions.js';
import { countCalls, type CallCount } from './calls.js';
import { RULES } from '../functions/rules.js';
import type { RuleId } from '../shared/config.js';
import { MINIMUMS } from './minimums.js';
import { round, spread } from './stats.js';
import type { RuleRun } from './warm.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const WARM_EVENTS = 10_000;
const LOG_RECORDS = 200_000;
const REPLAY_REPEATS = 3;
const KB = 1000;
// exemptionsP99Us: "well under a millisecond" for 1,000 exemptions, held to a quarter of one.
const TARGETS = { coldRatio: 1.5, zipSoft: 150 * KB, zipHard: 250 * KB, warmP99Us: 1000, replayRatio: 2, exemptionsP99Us: 250 };

const started = performance.now();
const log = (text: string) => process.stderr.write(`bench: ${text} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
const verdict = (met: boolean) => (met ? 'MET' : 'MISSED');

function child(args: readonly string[]): string {
  const run = spawnSync(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`${args.join(' ')} exited ${run.status}:\n${run.stderr}`);
  return run.stdout.trim().split('\n').at(-1) ?? '';
}

const work = mkdtempSync(join(tmpdir(), 'trailguard-bench-'));
try {
  // 1. The artifacts, as deployed.
  log('serverless package');
  const packaged = join(work, 'package');
  const artifacts = await readArtifacts(packaged, packageService(packaged));
  const naive = join(work, 'naive');
  await naiveBuild(naive);
  const bundles = artifacts.map((a) => ({
    function: a.name,
    rule: a.rule,
    artifact: `${a.name}.zip`,
    handlerBytes: a.handlerBytes,
    mapBytes: a.mapBytes,
    zipBytes: a.zipBytes,
    verdict: a.zipBytes < TARGETS.zipSoft ? 'MET' : a.zipBytes < TARGETS.zipHard ? 'MISSED (under the 250 KB hard limit)' : 'MISSED (over the hard limit)',
  }));

  // 2. Cold init, interleaved with its baselines: the event-triggered functions, whose cold start is part of
  // the exposure window (the sweep and enforcement functions run on a schedule).
  const eventHandlers = artifacts.filter((a) => a.entry === `functions/${a.rule}/handler`);
  const uncovered = RULES.map((rule) => rule.id).filter((id) => !eventHandlers.some((a) => a.rule === id));
  if (uncovered.length > 0) throw new Error(`no packaged event-triggered function for ${uncovered.join(', ')}`);
  log(`cold init: ${ROUNDS} rounds (+2 warm-up) x ${eventHandlers.length} functions x (floor, bundled, naive)`);
  const cold = measureCold(
    eventHandlers.map((a) => ({ name: a.name, bundled: a.handlerPath, naive: join(naive, `${a.entry}.js`) })),
    ROUNDS,
    2,
    (r) => {
      if ((r + 1) % 10 === 0) log(`cold round ${r + 1}`);
    },
  ).map((c) => ({ ...c, verdict: verdict(c.bundledRatio <= TARGETS.coldRatio) }));

  // 3. Warm overhead and 4. AWS calls: the real handlers, every AWS call answered in-process.
  const warm: Record<string, RuleRun[]> = {};
  for (const [mode, events] of [
    ['offline', WARM_EVENTS],
    ['dry-run', 1000],
    ['live', WARM_EVENTS],
  ] as const) {
    log(`warm: ${mode}, ${events} events per rule`);
    warm[mode] = (JSON.parse(child(['bench/warm.ts', mode, String(events)])) as { runs: RuleRun[] }).runs;
  }
  const warmRows = (['offline', 'live'] as const).flatMap((mode) =>
    (warm[mode] ?? []).map((r) => ({
      rule: r.rule,
      mode,
      events: r.events,
      outcome: r.outcome,
      allOutcomesAsExpected: r.outcomesOk === r.total,
      p50Us: round(r.p50Us),
      p99Us: round(r.p99Us),
      cpuP50Us: round(r.cpuP50Us),
      cpuP99Us: round(r.cpuP99Us),
      meanUs: round(r.meanUs),
      maxUs: round(r.maxUs),
      verdict: verdict(r.p99Us < TARGETS.warmP99Us),
    })),
  );
  const calls: CallCount[] = (warm.live ?? []).map((live) =>
    countCalls(
      live.rule,
      live.sample,
      {
        offline: warm.offline?.find((r) => r.rule === live.rule)?.calls ?? [],
        'dry-run': warm['dry-run']?.find((r) => r.rule === live.rule)?.calls ?? [],
        live: live.calls,
      },
      MINIMUMS[live.rule as RuleId],
    ),
  );

  // 5. Replay throughput against the parse floor, alternating floor and replay in fresh processes.
  log(`replay: generating a ${LOG_RECORDS}-record log file`);
  const rules = RULES.map((rule) => rule.id);
  const file = join(work, '111122223333_CloudTrail_eu-west-1_20261120T0900Z_bench.json.gz');
  const generated = generateRecords(LOG_RECORDS, rules);
  const sizes = writeLogFile(file, generated);
  const passes: { kind: string; ms: number; events: number }[] = [];
  for (let i = 0; i < REPLAY_REPEATS; i += 1) {
    for (const kind of ['floor', 'replay']) {
      log(`replay: ${kind} pass ${i + 1}/${REPLAY_REPEATS}`);
      passes.push(JSON.parse(child(['bench/replay-child.ts', kind, file])) as { kind: string; ms: number; events: number });
    }
  }
  const floorMs = spread(passes.filter((p) => p.kind === 'floor').map((p) => p.ms));
  const replayMs = spread(passes.filter((p) => p.kind === 'replay').map((p) => p.ms));
  const replayEvents = passes.find((p) => p.kind === 'replay')?.events ?? 0;
  if (replayEvents < LOG_RECORDS) throw new Error(`replay printed ${replayEvents} records for ${LOG_RECORDS} events`);
  const throughput = {
    records: LOG_RECORDS,
    bytes: sizes.bytes,
    gzipBytes: sizes.gzipBytes,
    fromRule: generated.fromRule,
    repeats: REPLAY_REPEATS,
    floorMs: { median: round(floorMs.median, 0), min: round(floorMs.p10, 0), max: round(floorMs.p90, 0) },
    replayMs: { median: round(replayMs.median, 0), min: round(replayMs.p10, 0), max: round(replayMs.p90, 0) },
    floorEventsPerSecond: Math.round(LOG_RECORDS / (floorMs.median / 1000)),
    replayEventsPerSecond: Math.round(LOG_RECORDS / (replayMs.median / 1000)),
    ratio: round(replayMs.median / floorMs.median, 2),
  };
  const replayVerdict = verdict(throughput.ratio <= TARGETS.replayRatio);

  // 6. Exemption lookup: 1,000 exemptions, in this process (pure code, no I/O).
  log('exemptions: 1,000, findExemption against a scan floor');
  const exemptions = measureExemptions();
  const exemptionsVerdict = verdict(Math.max(exemptions.matchingLast.p99Us, exemptions.matchingNone.p99Us) < TARGETS.exemptionsP99Us);
  log(`live configuration: a cold read of 10, 100, 1,000 exemptions, ${READ_COST_LATENCY_MS} ms per SSM call assumed`);
  const readCost = await measureReadCost();

  const results = {
    machine: { node: process.version, cpus: (await import('node:os')).cpus().length, platform: process.platform },
    settings: { coldRounds: ROUNDS, warmEvents: WARM_EVENTS, warmupExcluded: 200, logRecords: LOG_RECORDS, replayRepeats: REPLAY_REPEATS, kb: KB },
    targets: TARGETS,
    bundles,
    cold,
    warm: warmRows,
    calls,
    replay: { ...throughput, verdict: replayVerdict },
    exemptions: { ...exemptions, verdict: exemptionsVerdict },
    readCost: { latencyMs: READ_COST_LATENCY_MS, reads: readCost },
    seconds: Math.round((performance.now() - started) / 1000),
  };
  writeFileSync(join(ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(report(results));
} finally {
  rmSync(work, { recursive: true, force: true });
}

function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [head, ...rows].map((row) => row.map(String));
  const widths = head.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(cells[0] ?? []), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

function report(r: any): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const ms = (s: { median: number; p10: number; p90: number }) => `${s.median.toFixed(1)} (${s.p10.toFixed(1)}–${s.p90.toFixed(1)})`;
  const out: string[] = [];
  out.push(`\ntrailguard bench: node ${r.machine.node}, ${r.machine.cpus} CPUs, ${r.seconds} s\n`);
  out.push(`Bundle size (serverless package; target < 150 KB zipped, 250 KB hard; KB = 1,000 bytes)\n`);
  out.push(
    table(
      ['function', 'handler.mjs', 'map', 'zip', 'target'],
      r.bundles.map((b: any) => [b.function, n(b.handlerBytes), n(b.mapBytes), n(b.zipBytes), b.verdict]),
    ),
  );
  out.push(`\n\nCold init, ms from spawn to exit, median (p10–p90), N=${r.settings.coldRounds} interleaved rounds; target bundled ≤ 1.5× floor\n`);
  out.push(
    table(
      ['function', 'floor node -e 0', 'bundled', 'naive', 'bundled/floor', 'naive/floor', 'target'],
      r.cold.map((c: any) => [c.name, ms(c.floor), ms(c.bundled), ms(c.naive), `${c.bundledRatio.toFixed(2)}×`, `${c.naiveRatio.toFixed(2)}×`, c.verdict]),
    ),
  );
  out.push(
    `\n\nWarm overhead per event, µs, ${n(r.settings.warmEvents)} events per rule (first 200 excluded), every AWS call answered in-process; target p99 < 1 ms\n`,
  );
  out.push(
    table(
      ['rule', 'mode', 'outcome', 'p50', 'p99', 'mean', 'max', 'target'],
      r.warm.map((w: any) => [
        w.rule,
        w.mode,
        `${w.outcome}${w.allOutcomesAsExpected ? '' : ' (NOT every event!)'}`,
        w.p50Us,
        w.p99Us,
        w.meanUs,
        w.maxUs,
        w.verdict,
      ]),
    ),
  );
  out.push(
    `\n\nAWS calls per event (a violation sample; for an audit alert, a sample that alerts), rule calls; target live = minimum (reads + writes + verification reads)\n`,
  );
  out.push(
    table(
      ['rule', 'offline', 'dry-run reads', 'live: decide reads', 'act reads', 'writes', 'verify reads', 'minimum', 'runner before/after write', 'target'],
      r.calls.map((c: CallCount) => [
        c.rule,
        c.offline,
        c.dryRunReads,
        c.live.inspectReads,
        c.live.actReads,
        c.live.writes,
        c.live.verifyReads,
        `${c.minimum.reads}+${c.minimum.writes}+${c.minimum.verify}`,
        `${c.runnerBeforeWrite.length}/${c.runnerAfterWrite.length}`,
        c.verdict,
      ]),
    ),
  );
  out.push(
    `\n${r.calls.map((c: CallCount) => `  ${c.rule}: live ${c.live.sequence.join(' → ') || 'no rule call'}${c.extra.length ? `\n    beyond the minimum: ${c.extra.join('; ')}` : ''}`).join('\n')}`,
  );
  const t = r.replay;
  out.push(
    `\n\nReplay throughput, ${n(t.records)} records (${n(t.bytes)} bytes, ${n(t.gzipBytes)} gzipped), median of ${t.repeats} alternating passes; target ≤ 2× floor\n`,
  );
  out.push(
    table(
      ['pass', 'ms (min–max)', 'events/s'],
      [
        ['floor: gunzip + JSON.parse', `${t.floorMs.median} (${t.floorMs.min}–${t.floorMs.max})`, n(t.floorEventsPerSecond)],
        ['offline replay (jsonl to a sink)', `${t.replayMs.median} (${t.replayMs.min}–${t.replayMs.max})`, n(t.replayEventsPerSecond)],
      ],
    ),
  );
  out.push(`\nratio ${t.ratio}× → ${t.verdict}\n`);
  const x = r.exemptions;
  out.push(
    `\n\nExemption lookup, µs per findExemption call, ${n(x.exemptions)} exemptions (every rule and *, literal ids, prefix and ? globs, a tenth expired), ${n(x.calls)} timed calls each (timer ${x.timerUs} µs included); target p99 < 250 µs\n`,
  );
  out.push(
    table(
      ['case', 'p50', 'p99', 'p50/floor'],
      [
        ['floor: one === per exemption', x.floor.p50Us, x.floor.p99Us, '1×'],
        ['matched by the last exemption only', x.matchingLast.p50Us, x.matchingLast.p99Us, `${(x.matchingLast.p50Us / x.floor.p50Us).toFixed(1)}×`],
        ['matched by none', x.matchingNone.p50Us, x.matchingNone.p99Us, `${(x.matchingNone.p50Us / x.floor.p50Us).toFixed(1)}×`],
      ],
    ),
  );
  out.push(`\n→ ${x.verdict}\n`);
  out.push(`\n\nLive configuration, one cold read (a local SSM double answering each call after ${r.readCost.latencyMs} ms; no target: docs/performance.md)\n`);
  out.push(
    table(
      ['exemptions in one folder', 'SSM calls', 'ms'],
      r.readCost.reads.map((c: ReadCost) => [n(c.exemptions), c.calls, c.ms]),
    ),
  );
  return `${out.join('')}\nresults: bench/results.json\n`;
}
