// What loading the STS client costs a function's cold init. Every event-triggered bundle holds STSClient and
// AssumeRoleCommand (shared/aws/sts.ts, imported by the runner) although a single-account deployment never
// assumes a role. Measured two ways, each pair interleaved round by round: the function's SDK floor with and
// without client-sts, and the bundled function as packaged against the same build with client-sts resolved to
// an inert stub (the code that a lazy, split-off STS chunk would leave in the main bundle).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ColdSample, importScript, timeNode } from './cold.js';
import { buildLike, floorSource, type FunctionFloor, functionMetafile, stubModule } from './sdk-floor.js';
import { spread } from './stats.js';

const STS = '@aws-sdk/client-sts';

interface Delta {
  readonly median: number;
  readonly p10: number;
  readonly p90: number;
}

export interface StsCost {
  readonly function: string;
  readonly rounds: number;
  /** Median ms. */
  readonly floorMs: number;
  readonly floorWithoutStsMs: number;
  readonly bundledMs: number;
  readonly bundledStsStubbedMs: number;
  /** Median of the per-round differences (with − without), ms, and their p10–p90: the noise to compare with. */
  readonly floorDeltaMs: Delta;
  readonly bundledDeltaMs: Delta;
  /** The same differences in CPU time (user + system), which a busy machine disturbs less. */
  readonly floorDeltaCpuMs: Delta;
  readonly bundledDeltaCpuMs: Delta;
  readonly bundledBytes: number;
  readonly bundledStsStubbedBytes: number;
  /** Median peak RSS difference (bundled − stubbed), KiB. */
  readonly rssDeltaKiB: number;
}

/** Builds the two variants for `floor`'s function (`entry`, its packaged handler at `bundled`) and times the pairs. */
export async function measureStsCost(floor: FunctionFloor, entry: string, bundled: string, outDir: string, rounds: number): Promise<StsCost> {
  const withoutSts = floor.clients.filter((c) => c.package !== STS);
  const sts = floor.clients.find((c) => c.package === STS);
  if (!sts) throw new Error(`${floor.function}: its bundle holds no ${STS}, nothing to measure`);
  const floorWithoutSts = join(outDir, 'sts', floor.function, 'floor-without-sts', 'handler.mjs');
  await buildLike(floorSource(withoutSts), floorWithoutSts);
  const stubbed = await functionMetafile(entry, join(outDir, 'sts', floor.function, 'stubbed'), [stubModule(STS, [sts.client, ...sts.commands])]);
  const samples = { floor: [] as ColdSample[], floorWithout: [] as ColdSample[], bundled: [] as ColdSample[], stubbed: [] as ColdSample[] };
  for (let round = 0; round < rounds + 1; round += 1) {
    const times = {
      floor: timeNode(importScript(floor.path)),
      floorWithout: timeNode(importScript(floorWithoutSts)),
      bundled: timeNode(importScript(bundled)),
      stubbed: timeNode(importScript(stubbed.bundle)),
    };
    if (round === 0) continue; // warm-up: the new files' first read
    for (const key of Object.keys(samples) as (keyof typeof samples)[]) samples[key].push(times[key]);
  }
  const ms = (values: readonly ColdSample[]) => spread(values.map((v) => v.ms)).median;
  const delta = (a: readonly ColdSample[], b: readonly ColdSample[], of: 'ms' | 'cpuMs' = 'ms'): Delta => {
    const d = spread(a.map((x, i) => x[of] - (b[i] as ColdSample)[of]));
    return { median: d.median, p10: d.p10, p90: d.p90 };
  };
  return {
    function: floor.function,
    rounds,
    floorMs: ms(samples.floor),
    floorWithoutStsMs: ms(samples.floorWithout),
    bundledMs: ms(samples.bundled),
    bundledStsStubbedMs: ms(samples.stubbed),
    floorDeltaMs: delta(samples.floor, samples.floorWithout),
    bundledDeltaMs: delta(samples.bundled, samples.stubbed),
    floorDeltaCpuMs: delta(samples.floor, samples.floorWithout, 'cpuMs'),
    bundledDeltaCpuMs: delta(samples.bundled, samples.stubbed, 'cpuMs'),
    bundledBytes: readFileSync(bundled).length,
    bundledStsStubbedBytes: readFileSync(stubbed.bundle).length,
    rssDeltaKiB: spread(samples.bundled.map((s) => s.maxRssKiB)).median - spread(samples.stubbed.map((s) => s.maxRssKiB)).median,
  };
}
