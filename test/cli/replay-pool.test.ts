// Offline replay on worker threads prints exactly what the sequential replay prints (records, messages, exit),
// in input order; a worker that cannot run is a clear error and exit 2, never a hang or a silent loss.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { generateRecords } from '../../bench/cloudtrail-log.js';
import { RULES } from '../../functions/rules.js';
import { replay } from '../../cli/replay.js';
import { ReplayPool, WorkerFailure, workerCount } from '../../cli/replay-pool.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CONFIG = join(ROOT, 'config', 'replay.sample.json');

async function replayed(inputs: string[], workers: number, format: 'jsonl' | 'text' = 'jsonl') {
  let out = '';
  let err = '';
  const exit = await replay({
    mode: 'offline',
    format,
    configFile: CONFIG,
    inputs,
    env: { TRAILGUARD_REPLAY_WORKERS: String(workers) },
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
  });
  // A record's durationMs is the wall time its run took: the one field that differs between any two runs.
  return { exit, out: out.replace(/"durationMs":\d+/g, '"durationMs":0'), err };
}

describe('offline replay on worker threads', () => {
  it('prints byte for byte what the sequential replay prints, for a log file and JSON lines with bad lines in it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'replay-pool-'));
    const { records } = generateRecords(
      6000,
      RULES.map((rule) => rule.id),
      5,
    );
    const log = join(dir, 'log.json.gz');
    writeFileSync(log, gzipSync(JSON.stringify({ Records: records })));
    const lines = records.slice(0, 3000).map((record) => JSON.stringify(record));
    lines.splice(2500, 0, '{not json', '[1, {"eventName": 7}]', '{"Records": [{}, 5]}');
    const jsonl = join(dir, 'more.jsonl');
    writeFileSync(jsonl, lines.join('\n'));
    for (const format of ['jsonl', 'text'] as const) {
      const sequential = await replayed([log, jsonl], 0, format);
      const parallel = await replayed([log, jsonl], 2, format);
      expect(parallel.exit).toBe(sequential.exit);
      expect(parallel.err).toBe(sequential.err);
      expect(parallel.out).toBe(sequential.out);
      expect(sequential.err).toContain(`${jsonl}:2501: not JSON`);
      expect(sequential.exit).toBe(2);
    }
    const seq = await replayed([log], 0);
    expect(seq.out.trim().split('\n').length).toBeGreaterThanOrEqual(6000);
  }, 120_000);

  it('a worker that cannot start fails the replay clearly, naming where, and does not hang', async () => {
    const pool = new ReplayPool(2, { configFile: join(ROOT, 'no-such-config.json'), env: {} });
    const items = Array.from({ length: 600 }, (_, i) => ({ kind: 'text' as const, source: `f#Records[${i}]`, text: '{}', line: false }));
    async function* batches() {
      yield items;
    }
    const consume = async () => {
      for await (const _ of pool.route(batches())) {
        // nothing: the first batch already fails
      }
    };
    try {
      await expect(consume()).rejects.toThrow(WorkerFailure);
      await expect(consume()).rejects.toThrow(/replay worker/);
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('uses one core less than the machine, up to 8, none on one or two cores; the env var overrides', () => {
    expect(workerCount({}, 1)).toBe(0);
    expect(workerCount({}, 2)).toBe(0);
    expect(workerCount({}, 3)).toBe(2);
    expect(workerCount({}, 4)).toBe(3);
    expect(workerCount({}, 64)).toBe(7);
    expect(workerCount({ TRAILGUARD_REPLAY_WORKERS: '0' }, 8)).toBe(0);
    expect(workerCount({ TRAILGUARD_REPLAY_WORKERS: '3' }, 2)).toBe(3);
    expect(workerCount({ TRAILGUARD_REPLAY_WORKERS: 'lots' }, 4)).toBe(3);
  });
});
