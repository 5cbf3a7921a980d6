// CLI start: wall-clock from spawn to exit of `node bin/trailguard.mjs help` (and of the bare `trailguard`, which
// prints the same overview to stderr and exits 2), against `node -e 0` in the same rounds, interleaved so that load
// on the machine falls on all alike. The old way, `tsx` compiling cli/main.ts at start, is timed for context.
// Peak RSS comes from a second run of each, wrapped to print its own peak RSS (VmHWM, stats.ts) at exit, so the
// timed runs are the commands exactly as an operator types them.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PEAK_RSS_KIB_EXPRESSION, round, spread, type Spread } from './stats.js';

const ROOT = join(import.meta.dirname, '..');
const BIN = join(ROOT, 'bin', 'trailguard.mjs');
const CHILD_TIMEOUT_MS = 30_000;
const BUILD_TIMEOUT_MS = 120_000;
/** issue 21: startup to usage text within 4× `node -e 0`. */
export const CLI_START_TARGET = 4;
/** The tsx path takes seconds a run: timed in this many of the rounds at most. */
const TSX_ROUNDS = 3;

const PRINT_RSS = `process.on('exit', () => process.stderr.write('\\nmaxRSS=' + ${PEAK_RSS_KIB_EXPRESSION}));`;

interface Subject {
  readonly name: string;
  readonly args: readonly string[];
  /** The same run, wrapped to report its peak RSS. */
  readonly rssArgs: readonly string[];
  /** Exit codes that mean it printed what it should (the bare command exits 2 after the overview). */
  readonly exits: readonly number[];
}

const binAs = (argv: readonly string[]): string =>
  `${PRINT_RSS} process.argv = [process.argv[0], ${JSON.stringify(BIN)}, ...${JSON.stringify(argv)}]; import(${JSON.stringify(pathToFileURL(BIN).href)});`;

const TSX_MAIN = `${PRINT_RSS} import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(
  pathToFileURL(join(ROOT, 'cli', 'main.ts')).href,
)}); }).then(async ({ main }) => { process.exitCode = await main(['help']); });`;

const SUBJECTS = {
  floor: { name: 'node -e 0', args: ['-e', '0'], rssArgs: ['-e', `${PRINT_RSS} 0`], exits: [0] },
  help: { name: 'trailguard help', args: [BIN, 'help'], rssArgs: ['-e', binAs(['help'])], exits: [0] },
  bare: { name: 'trailguard (no arguments)', args: [BIN], rssArgs: ['-e', binAs([])], exits: [2] },
  tsx: { name: 'trailguard help through tsx (before)', args: ['-e', TSX_MAIN.replace(PRINT_RSS, '')], rssArgs: ['-e', TSX_MAIN], exits: [0] },
} as const satisfies Record<string, Subject>;

type SubjectKey = keyof typeof SUBJECTS;

/** Spawns node with these arguments from the repository root; ms to exit, and what it wrote. */
function spawnTimed(subject: Subject, args: readonly string[]): { ms: number; stdout: string; stderr: string } {
  const started = process.hrtime.bigint();
  const child = spawnSync(process.execPath, [...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: CHILD_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (child.error)
    throw new Error(
      `${subject.name}: ${(child.error as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? `no exit after ${CHILD_TIMEOUT_MS} ms, killed` : child.error.message}`,
    );
  const stdout = child.stdout.toString();
  const stderr = child.stderr.toString();
  if (!subject.exits.includes(child.status ?? -1)) throw new Error(`${subject.name} exited ${child.status ?? child.signal}: ${stderr.slice(0, 300)}`);
  return { ms, stdout, stderr };
}

function peakRssKiB(subject: Subject): number {
  const { stderr } = spawnTimed(subject, subject.rssArgs);
  const kib = Number(/maxRSS=(\d+)\s*$/.exec(stderr)?.[1]);
  if (!Number.isFinite(kib) || kib <= 0) throw new Error(`${subject.name} printed no maxRSS: ${stderr.slice(-200)}`);
  return kib;
}

export interface CliStartFigure {
  readonly name: string;
  readonly ms: Spread;
  /** Median peak RSS, MiB. */
  readonly rssMiB: number;
  /** Median ms over the floor's median ms. */
  readonly ratio: number;
}

export interface CliStartResult {
  readonly node: string;
  readonly rounds: number;
  readonly floor: CliStartFigure;
  readonly help: CliStartFigure;
  readonly bare: CliStartFigure;
  readonly tsx: CliStartFigure;
  readonly target: number;
  /** Both usage-text starts within the target. */
  readonly met: boolean;
}

/**
 * Times `rounds` interleaved rounds of node -e 0, `trailguard help` and bare `trailguard` (and the tsx path in the
 * first few), after building the bundle and one untimed start that fills V8's compile cache.
 */
export function measureCliStart(rounds: number, log: (text: string) => void): CliStartResult {
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a positive whole number, got ${rounds}`);
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-cli.mjs')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: BUILD_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  if (build.status !== 0) throw new Error(`building the CLI failed (${build.status ?? build.signal}): ${build.stderr.toString().slice(0, 500)}`);
  const expected = spawnTimed(SUBJECTS.help, SUBJECTS.help.args).stdout;
  if (!expected.startsWith('trailguard ')) throw new Error(`trailguard help printed no usage text: ${expected.slice(0, 200)}`);

  const times: Record<SubjectKey, number[]> = { floor: [], help: [], bare: [], tsx: [] };
  const rss: Record<SubjectKey, number[]> = { floor: [], help: [], bare: [], tsx: [] };
  for (let round = 0; round < rounds; round += 1) {
    const keys: SubjectKey[] = round < TSX_ROUNDS ? ['floor', 'help', 'bare', 'tsx'] : ['floor', 'help', 'bare'];
    // Rotated each round, so no subject always runs right after another's cache-warming.
    const order = keys.map((_, i) => keys[(i + round) % keys.length] as SubjectKey);
    for (const key of order) {
      const subject = SUBJECTS[key];
      const run = spawnTimed(subject, subject.args);
      if (key === 'help' && run.stdout !== expected) throw new Error('trailguard help printed different text in two runs');
      times[key].push(run.ms);
      rss[key].push(peakRssKiB(subject));
    }
    log(`cli start: round ${round + 1}/${rounds}: floor ${round1(times.floor.at(-1))} ms, help ${round1(times.help.at(-1))} ms\n`);
  }
  const floorMs = spread(times.floor).median;
  const figure = (key: SubjectKey): CliStartFigure => ({
    name: SUBJECTS[key].name,
    ms: spread(times[key]),
    rssMiB: round(spread(rss[key]).median / 1024),
    ratio: round(spread(times[key]).median / floorMs, 2),
  });
  const help = figure('help');
  const bare = figure('bare');
  return {
    node: process.version,
    rounds,
    floor: figure('floor'),
    help,
    bare,
    tsx: figure('tsx'),
    target: CLI_START_TARGET,
    met: help.ratio <= CLI_START_TARGET && bare.ratio <= CLI_START_TARGET,
  };
}

const round1 = (ms: number | undefined): string => (ms === undefined ? '?' : ms.toFixed(1));

/** The figures as the bench prints them: one line a subject, then the verdict. */
export function cliStartReport(result: CliStartResult): string {
  const line = (f: CliStartFigure) =>
    `  ${f.name.padEnd(38)} ${round1(f.ms.median).padStart(7)} ms (p10 ${round1(f.ms.p10)}, p90 ${round1(f.ms.p90)}, n ${f.ms.n})  ${f.ratio.toFixed(2).padStart(5)}× node -e 0  ${f.rssMiB.toFixed(1)} MiB peak RSS`;
  const verdict = result.met
    ? `met: usage text within ${result.target}× node -e 0`
    : `NOT met: usage text ${Math.max(result.help.ratio, result.bare.ratio).toFixed(2)}× node -e 0, target ≤ ${result.target}×`;
  return [
    `CLI start to usage text (node ${result.node}, ${result.rounds} interleaved rounds, bundle dist/cli/):`,
    line(result.floor),
    line(result.help),
    line(result.bare),
    line(result.tsx),
    `  ${verdict}`,
    '',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const rounds = Number(process.argv[2] ?? 10);
  process.stdout.write(cliStartReport(measureCliStart(rounds, (text) => process.stderr.write(text))));
}
