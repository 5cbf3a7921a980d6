// Cold init: wall-clock from spawn to exit of a fresh `node` that imports a handler module and checks
// that it exports `handler` (what Lambda's init does before the first event), next to `node -e 0` (the
// floor) and the naive build, measured the same way and interleaved round by round (floor → bundled →
// naive) so that machine noise hits all three alike.
//
// Why spawn → exit, measured by the parent: it needs nothing from the child (no clock inside it), covers
// everything a cold start pays (exec, Node bootstrap, module loading, evaluation), and is the very
// quantity `node -e 0` gives for the floor. The exit costs the three alike.
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { spread, type Spread } from './stats.js';

/** The children's whole environment: the deployed functions' NODE_OPTIONS, nothing inherited. */
const CHILD_ENV = { PATH: process.env.PATH ?? '', NODE_OPTIONS: '--enable-source-maps', TZ: 'UTC', AWS_REGION: 'us-east-1' };

const importScript = (path: string) =>
  `import(${JSON.stringify(pathToFileURL(path).href)}).then((m) => { if (typeof m.handler !== 'function') process.exit(3); })`;

/** Milliseconds from spawn to exit of `node -e <script>`; throws when the child fails. */
export function timeNode(script: string): number {
  const start = process.hrtime.bigint();
  const child = spawnSync(process.execPath, ['-e', script], { env: CHILD_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (child.status !== 0) throw new Error(`node -e ${script.slice(0, 80)} exited ${child.status}: ${child.stderr.toString().slice(0, 400)}`);
  return ms;
}

export interface ColdTargets {
  readonly name: string;
  readonly bundled: string;
  readonly naive: string;
}

export interface ColdResult {
  readonly name: string;
  readonly floor: Spread;
  readonly bundled: Spread;
  readonly naive: Spread;
  readonly bundledRatio: number;
  readonly naiveRatio: number;
}

/** `rounds` measured rounds after `warmup` discarded ones; each round times every function's triple. */
export function measureCold(targets: readonly ColdTargets[], rounds: number, warmup = 2, onRound?: (round: number) => void): ColdResult[] {
  const samples = targets.map(() => ({ floor: [] as number[], bundled: [] as number[], naive: [] as number[] }));
  for (let round = 0; round < warmup + rounds; round += 1) {
    targets.forEach((target, index) => {
      const floor = timeNode('0');
      const bundled = timeNode(importScript(target.bundled));
      const naive = timeNode(importScript(target.naive));
      if (round < warmup) return;
      const into = samples[index] as (typeof samples)[number];
      into.floor.push(floor);
      into.bundled.push(bundled);
      into.naive.push(naive);
    });
    onRound?.(round);
  }
  return targets.map((target, index) => {
    const s = samples[index] as (typeof samples)[number];
    const floor = spread(s.floor);
    const bundled = spread(s.bundled);
    const naive = spread(s.naive);
    return { name: target.name, floor, bundled, naive, bundledRatio: bundled.median / floor.median, naiveRatio: naive.median / floor.median };
  });
}
