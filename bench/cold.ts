// Cold init: wall-clock from spawn to exit of a fresh `node` that imports a handler module and checks that it
// exports `handler` (what Lambda's init does before the first event), for the bundled function, its SDK floor
// (bench/sdk-floor.ts: the same SDK clients and commands, nothing else; the target's baseline), `node -e 0`
// (context: what Node alone costs) and, on the first rounds only, the naive build. Interleaved round by round
// (node -e 0 → SDK floor → bundled [→ naive]) so that machine noise hits them alike.
//
// Why spawn → exit, measured by the parent: it needs nothing from the child (no clock inside it), covers
// everything a cold start pays (exec, Node bootstrap, module loading, evaluation), and is the very quantity
// `node -e 0` gives. The exit costs all alike. Peak RSS and CPU time: each child prints its
// own peak RSS (VmHWM, stats.ts) and user + system CPU time as it exits (the same few bytes of script in each,
// `node -e 0` included). CPU time is what a busy machine disturbs least: wall time waits for a core, CPU time does not.
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { PEAK_RSS_KIB_EXPRESSION, spread, type Spread } from './stats.js';

/** The children's whole environment: the deployed functions' NODE_OPTIONS, nothing inherited. */
const CHILD_ENV = { PATH: process.env.PATH ?? '', NODE_OPTIONS: '--enable-source-maps', TZ: 'UTC', AWS_REGION: 'us-east-1' };

/** A cold start that takes this long is hung, not slow: the bench stops with the child's name. */
export const CHILD_TIMEOUT_MS = 20_000;

const PRINT_RSS = `process.on('exit', () => { const u = process.resourceUsage(); process.stdout.write(${PEAK_RSS_KIB_EXPRESSION} + ' ' + (u.userCPUTime + u.systemCPUTime)); });`;

/** A child script that imports the module at `path`, checks its `handler` export and prints its resource usage at exit. */
export const importScript = (path: string): string =>
  `${PRINT_RSS} import(${JSON.stringify(pathToFileURL(path).href)}).then((m) => { if (typeof m.handler !== 'function') process.exit(3); })`;

/** One cold start: ms from spawn to exit, the child's CPU time (user + system, all threads) and peak resident set in KiB. */
export interface ColdSample {
  readonly ms: number;
  readonly cpuMs: number;
  readonly maxRssKiB: number;
}

/** Spawns `node -e <script>` (the script printing its maxRSS at exit) and times it; throws when it fails or times out. */
export function timeNode(script: string, timeoutMs = CHILD_TIMEOUT_MS): ColdSample {
  const start = process.hrtime.bigint();
  const child = spawnSync(process.execPath, ['-e', script], { env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const what = `node -e ${script.slice(PRINT_RSS.length, PRINT_RSS.length + 120) || script.slice(0, 120)}`;
  if (child.error && (child.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw new Error(`${what}: no exit after ${timeoutMs} ms, killed`);
  if (child.error) throw new Error(`${what}: ${child.error.message}`);
  if (child.status !== 0) throw new Error(`${what} exited ${child.status ?? child.signal}: ${child.stderr.toString().slice(0, 400)}`);
  const [maxRssKiB, cpuUs] = child.stdout.toString().trim().split(' ').map(Number);
  if (!(Number(maxRssKiB) > 0 && Number(cpuUs) > 0)) throw new Error(`${what} printed no resource usage: ${child.stdout.toString().slice(0, 80)}`);
  return { ms, cpuMs: Number(cpuUs) / 1000, maxRssKiB: Number(maxRssKiB) };
}

/** `node -e 0`, with the same maxRSS line as the others. */
export const nodeFloorScript = (): string => `${PRINT_RSS} 0`;

export interface ColdTargets {
  readonly name: string;
  /** The function's SDK floor bundle (bench/sdk-floor.ts). */
  readonly sdkFloor: string;
  readonly bundled: string;
  readonly naive?: string;
}

export interface ColdRun {
  readonly ms: Spread;
  readonly cpuMs: Spread;
  /** Median peak RSS, KiB. */
  readonly maxRssKiB: number;
}

export interface ColdResult {
  readonly name: string;
  readonly node: ColdRun;
  readonly sdkFloor: ColdRun;
  readonly bundled: ColdRun;
  /** Absent when no naive build was given or naiveRounds is 0. */
  readonly naive?: ColdRun;
  /** bundled ÷ SDK floor, medians: the target. */
  readonly bundledToSdkFloor: number;
  /** bundled ÷ `node -e 0`, medians: context. */
  readonly bundledToNode: number;
  readonly sdkFloorToNode: number;
  readonly naiveToNode?: number;
  /** bundled ÷ SDK floor, median CPU times: the same comparison, less disturbed by a busy machine. */
  readonly bundledToSdkFloorCpu: number;
  /** Median peak RSS of bundled minus SDK floor, MiB. */
  readonly rssOverSdkFloorMiB: number;
}

export interface ColdPlan {
  readonly rounds: number;
  /** Discarded rounds first (disk cache, CPU frequency). */
  readonly warmup?: number;
  /** The naive build is timed in the first `naiveRounds` measured rounds only (it is context, 6–25× `node -e 0`). */
  readonly naiveRounds?: number;
  readonly onRound?: (round: number) => void;
}

const median = (values: readonly number[]): number => spread(values).median;
const run = (samples: readonly ColdSample[]): ColdRun => ({
  ms: spread(samples.map((s) => s.ms)),
  cpuMs: spread(samples.map((s) => s.cpuMs)),
  maxRssKiB: median(samples.map((s) => s.maxRssKiB)),
});

/** `rounds` measured rounds after `warmup` discarded ones; each round times every target's set in turn. */
export function measureCold(targets: readonly ColdTargets[], plan: ColdPlan): ColdResult[] {
  const { rounds, warmup = 2, naiveRounds = 0, onRound } = plan;
  const samples = targets.map(() => ({ node: [] as ColdSample[], sdkFloor: [] as ColdSample[], bundled: [] as ColdSample[], naive: [] as ColdSample[] }));
  for (let round = 0; round < warmup + rounds; round += 1) {
    const measured = round - warmup;
    targets.forEach((target, index) => {
      const node = timeNode(nodeFloorScript());
      const sdkFloor = timeNode(importScript(target.sdkFloor));
      const bundled = timeNode(importScript(target.bundled));
      // The naive build (context, 6–25× `node -e 0`) in the measured rounds it is timed in, and once in the last
      // warm-up round: its first measured round must not pay the disk cache, and a second warm-up is wasted time.
      const naive = target.naive && measured >= -1 && measured < naiveRounds ? timeNode(importScript(target.naive)) : undefined;
      if (measured < 0) return;
      const into = samples[index] as (typeof samples)[number];
      into.node.push(node);
      into.sdkFloor.push(sdkFloor);
      into.bundled.push(bundled);
      if (naive) into.naive.push(naive);
    });
    onRound?.(round);
  }
  return targets.map((target, index) => {
    const s = samples[index] as (typeof samples)[number];
    const node = run(s.node);
    const sdkFloor = run(s.sdkFloor);
    const bundled = run(s.bundled);
    const naive = s.naive.length > 0 ? run(s.naive) : undefined;
    return {
      name: target.name,
      node,
      sdkFloor,
      bundled,
      ...(naive ? { naive, naiveToNode: naive.ms.median / node.ms.median } : {}),
      bundledToSdkFloor: bundled.ms.median / sdkFloor.ms.median,
      bundledToSdkFloorCpu: bundled.cpuMs.median / sdkFloor.cpuMs.median,
      bundledToNode: bundled.ms.median / node.ms.median,
      sdkFloorToNode: sdkFloor.ms.median / node.ms.median,
      rssOverSdkFloorMiB: (bundled.maxRssKiB - sdkFloor.maxRssKiB) / 1024,
    };
  });
}
