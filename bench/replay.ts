// `npm run bench` section 5: replay of a generated 200,000-record log, as JSON lines (.jsonl.gz) and as a
// CloudTrail log file (.json.gz), through the real CLI (`bin/trailguard.mjs replay --format jsonl`, the bundled
// build, offline, stdout to /dev/null, its lines counted on the way), against the floor: plain node reading the same
// records as JSON lines in 1 MiB chunks, gunzipping them as a stream with replay's zlib options (GUNZIP_OPTIONS),
// cutting at newlines (Buffer.indexOf) and JSON.parse'ing each line.
// Floor and replays alternate in fresh processes. Peak RSS is each child's own (VmHWM, stats.ts; worker threads included).
// BENCH_BIG=1 adds 500,000 and 1,000,000-record files of each kind, for memory (minutes on 2 cores).
// bench/run.ts calls measureReplay and prints replayReport.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { GUNZIP_OPTIONS } from '../cli/inputs.js';
import { workerCount } from '../cli/replay-pool.js';
import { RULES } from '../functions/rules.js';
import { ROOT } from './artifacts.js';
import { writeGenerated } from './cloudtrail-log.js';
import { PEAK_RSS_KIB_EXPRESSION, round, spread } from './stats.js';

const LOG_RECORDS = 200_000;
const BIG_RECORDS = [500_000, 1_000_000];
// Two alternating passes (a floor, a jsonl and a log replay each): the bench must fit 5 minutes (bench/run.ts).
const REPLAY_REPEATS = 2;
const MiB = 1024 * 1024;
export const REPLAY_TARGETS = { replayRatio: 1.5, rssBytes: 400 * 1000 * 1000 } as const;
/** Every child is stopped after this long: the bench must end, whatever the machine. */
const CHILD_TIMEOUT_MS = 10 * 60 * 1000;

type Kind = 'jsonl' | 'log';

interface Pass {
  readonly ms: number;
  readonly maxRssBytes: number;
  readonly events: number;
}

/** The floor, in plain node (no tsx, no bundle): streaming read + gunzip + split at newlines + JSON.parse per line. */
const FLOOR = `
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
const started = performance.now();
let events = 0;
let pending = Buffer.alloc(0);
for await (const chunk of createReadStream(process.argv[1], { highWaterMark: 1 << 20 }).pipe(createGunzip(${JSON.stringify(GUNZIP_OPTIONS)}))) {
  const bytes = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  let start = 0;
  for (let at = bytes.indexOf(10); at !== -1; at = bytes.indexOf(10, start)) {
    JSON.parse(bytes.toString('utf8', start, at));
    events += 1;
    start = at + 1;
  }
  pending = bytes.subarray(start);
}
if (pending.length) { JSON.parse(pending.toString('utf8')); events += 1; }
process.stderr.write(JSON.stringify({ ms: performance.now() - started, maxRssBytes: ${PEAK_RSS_KIB_EXPRESSION} * 1024, events }) + '\\n');
`;

/**
 * The CLI as an operator runs it, timed from inside (after node starts) to its exit; stdout goes to /dev/null,
 * its lines counted on the way (one indexOf pass over what is written), so a replay that printed nothing fails.
 */
const CLI = `
const started = performance.now();
let lines = 0;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('latin1');
  for (let at = text.indexOf('\\n'); at !== -1; at = text.indexOf('\\n', at + 1)) lines += 1;
  return write(chunk, ...rest);
};
process.on('exit', (code) => process.stderr.write(JSON.stringify({ ms: performance.now() - started, maxRssBytes: ${PEAK_RSS_KIB_EXPRESSION} * 1024, events: lines, code }) + '\\n'));
process.argv = [process.argv[0], 'trailguard', ...process.argv.slice(1)];
await import(${JSON.stringify(join(ROOT, 'bin', 'trailguard.mjs'))});
`;

function child(code: string, args: readonly string[]): Pass & { code?: number } {
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', code, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: CHILD_TIMEOUT_MS,
    maxBuffer: 16 * MiB,
  });
  const last = run.stderr.trim().split('\n').at(-1) ?? '';
  if (run.status !== 0 || !last.startsWith('{'))
    throw new Error(`replay bench child ${args.join(' ')} exited ${run.status ?? run.signal}:\n${run.stderr.slice(-4000)}`);
  return JSON.parse(last) as Pass;
}

const replayArgs = (file: string) => ['replay', '--format', 'jsonl', '--config', join(ROOT, 'config', 'replay.sample.json'), file];
/** One replay of `file`: it must exit 0 and print at least one JSON line per record (`records`). */
const replayPass = (file: string, records: number) => {
  const pass = child(CLI, replayArgs(file));
  if (pass.code !== 0) throw new Error(`replay of ${file} exited ${pass.code}`);
  if (pass.events < records) throw new Error(`replay of ${file} printed ${pass.events} lines for ${records} records`);
  return pass;
};

interface Timing {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}
const timing = (values: readonly number[]): Timing => {
  const s = spread(values);
  return { median: round(s.median, 0), min: round(s.p10, 0), max: round(s.p90, 0) };
};

export interface ReplayBench {
  readonly records: number;
  readonly bytes: number;
  readonly gzipBytes: { readonly jsonl: number; readonly log: number };
  readonly fromRule: Readonly<Record<string, number>>;
  readonly repeats: number;
  readonly cpus: number;
  /** Worker threads replay used here (cli/replay-pool.ts workerCount): 0 means the worker path went unmeasured. */
  readonly workers: number;
  readonly floorMs: Timing;
  readonly replayMs: Readonly<Record<Kind, Timing>>;
  readonly ratio: Readonly<Record<Kind, number>>;
  readonly maxRssBytes: { readonly floor: number; readonly jsonl: number; readonly log: number };
  /** BENCH_BIG=1: peak RSS of one replay per size and kind. */
  readonly big: readonly { readonly records: number; readonly kind: Kind; readonly ms: number; readonly maxRssBytes: number }[];
  readonly seconds: number;
  readonly verdict: string;
}

/** Generates the files in `work`, then times floor and replays, alternating; BENCH_BIG=1 adds the memory runs. */
export async function measureReplay(work: string, log: (text: string) => void): Promise<ReplayBench> {
  const started = performance.now();
  const rules = RULES.map((rule) => rule.id);
  const files = { jsonl: join(work, 'replay-bench.jsonl.gz'), log: join(work, '111122223333_CloudTrail_eu-west-1_20261120T0900Z_bench.json.gz') };
  log(`replay: generating ${LOG_RECORDS} records as .jsonl.gz and .json.gz`);
  const jsonl = await writeGenerated(files.jsonl, LOG_RECORDS, rules, 'jsonl');
  const logFile = await writeGenerated(files.log, LOG_RECORDS, rules, 'log');
  // Untimed: builds the CLI bundle if the sources changed, and warms the file cache.
  replayPass(files.log, LOG_RECORDS);
  const floors: Pass[] = [];
  const replays: Record<Kind, Pass[]> = { jsonl: [], log: [] };
  for (let i = 0; i < REPLAY_REPEATS; i += 1) {
    log(`replay: floor, jsonl, log pass ${i + 1}/${REPLAY_REPEATS}`);
    const floor = child(FLOOR, [files.jsonl]);
    if (floor.events !== LOG_RECORDS) throw new Error(`the floor parsed ${floor.events} records of ${LOG_RECORDS}`);
    floors.push(floor);
    for (const kind of ['jsonl', 'log'] as const) replays[kind].push(replayPass(files[kind], LOG_RECORDS));
  }
  const big: ReplayBench['big'][number][] = [];
  if (process.env.BENCH_BIG === '1') {
    for (const records of BIG_RECORDS) {
      for (const kind of ['jsonl', 'log'] as const) {
        const file = join(work, `big-${records}.${kind === 'log' ? 'json' : 'jsonl'}.gz`);
        log(`replay: ${records} records as ${kind}, for memory`);
        await writeGenerated(file, records, rules, kind);
        const pass = replayPass(file, records);
        big.push({ records, kind, ms: round(pass.ms, 0), maxRssBytes: pass.maxRssBytes });
      }
    }
  }
  const floorMs = timing(floors.map((p) => p.ms));
  const replayMs = { jsonl: timing(replays.jsonl.map((p) => p.ms)), log: timing(replays.log.map((p) => p.ms)) };
  const ratio = { jsonl: round(replayMs.jsonl.median / floorMs.median, 2), log: round(replayMs.log.median / floorMs.median, 2) };
  const peak = (passes: readonly Pass[]) => Math.max(...passes.map((p) => p.maxRssBytes));
  const maxRssBytes = { floor: peak(floors), jsonl: peak(replays.jsonl), log: peak(replays.log) };
  const met =
    Math.max(ratio.jsonl, ratio.log) <= REPLAY_TARGETS.replayRatio
    && [maxRssBytes.jsonl, maxRssBytes.log, ...big.map((b) => b.maxRssBytes)].every((rss) => rss <= REPLAY_TARGETS.rssBytes);
  return {
    records: LOG_RECORDS,
    bytes: jsonl.bytes,
    gzipBytes: { jsonl: jsonl.gzipBytes, log: logFile.gzipBytes },
    fromRule: jsonl.fromRule,
    repeats: REPLAY_REPEATS,
    cpus: (await import('node:os')).availableParallelism(),
    workers: workerCount(process.env),
    floorMs,
    replayMs,
    ratio,
    maxRssBytes,
    big,
    seconds: Math.round((performance.now() - started) / 1000),
    verdict: met ? 'MET' : 'MISSED',
  };
}

function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [head, ...rows].map((row) => row.map(String));
  const widths = head.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: readonly string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(cells[0] ?? []), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

/** The report's replay section. */
export function replayReport(t: ReplayBench): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const mb = (bytes: number) => `${n(Math.round(bytes / 1e6))} MB`;
  const ms = (x: Timing) => `${n(x.median)} (${n(x.min)}–${n(x.max)})`;
  const perSecond = (x: Timing) => n(Math.round(t.records / (x.median / 1000)));
  const perRecord = (x: Timing) => ((x.median * 1000) / t.records).toFixed(1);
  return [
    `\n\nReplay, ${n(t.records)} records (${n(t.bytes)} bytes; gzipped ${n(t.gzipBytes.jsonl)} as JSON lines, ${n(t.gzipBytes.log)} as a log file), ${t.cpus} CPUs, median of ${t.repeats} alternating passes; target ≤ ${REPLAY_TARGETS.replayRatio}× the floor, peak RSS ≤ ${mb(REPLAY_TARGETS.rssBytes)}\n`,
    table(
      ['pass', 'ms (p10–p90)', 'events/s', 'µs/record', '÷ floor', 'peak RSS'],
      [
        [
          'floor: stream read + gunzip + split lines + JSON.parse (plain node)',
          ms(t.floorMs),
          perSecond(t.floorMs),
          perRecord(t.floorMs),
          '1×',
          mb(t.maxRssBytes.floor),
        ],
        [
          'trailguard replay offline, .jsonl.gz → /dev/null',
          ms(t.replayMs.jsonl),
          perSecond(t.replayMs.jsonl),
          perRecord(t.replayMs.jsonl),
          `${t.ratio.jsonl}×`,
          mb(t.maxRssBytes.jsonl),
        ],
        [
          'trailguard replay offline, .json.gz log → /dev/null',
          ms(t.replayMs.log),
          perSecond(t.replayMs.log),
          perRecord(t.replayMs.log),
          `${t.ratio.log}×`,
          mb(t.maxRssBytes.log),
        ],
      ],
    ),
    t.big.length > 0
      ? `\n\nBENCH_BIG: one replay each\n${table(
          ['records', 'kind', 'ms', 'peak RSS'],
          t.big.map((b) => [n(b.records), b.kind, n(b.ms), mb(b.maxRssBytes)]),
        )}`
      : '\n(BENCH_BIG=1 adds 500,000 and 1,000,000-record files for memory)',
    t.workers === 0
      ? `\nworker threads: not measured (${t.cpus} CPUs: replay runs in one thread; whether a worker pays on 3 or more cores is unmeasured)`
      : `\nworker threads: ${t.workers} (the times above include them)`,
    `\n→ ${t.verdict} (section took ${t.seconds} s)\n`,
  ].join('');
}
