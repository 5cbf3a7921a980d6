// Offline replay on worker threads prints exactly what the sequential replay prints (records, messages, exit),
// in input order; a worker that cannot run is a clear error and exit 2, never a hang or a silent loss.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { generateRecords } from '../../bench/cloudtrail-log.js';
import { RULES } from '../../functions/rules.js';
import { configOf, offlineDeps, replay, routeBatch } from '../../cli/replay.js';
import { BATCH_BYTES, IN_FLIGHT_BYTES, MAX_WORKERS, ReplayPool, WorkerFailure, workerCount } from '../../cli/replay-pool.js';

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

  it('gives events nested thousands deep the same records on both paths (the worker has a larger stack)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'replay-pool-deep-'));
    const { records } = generateRecords(2100, [RULES[0]?.id ?? ''], 7);
    const [first] = records as Record<string, unknown>[];
    const deep = (depth: number) =>
      JSON.stringify({ ...first, eventID: undefined, requestParameters: { x: 'DEEP' } }).replace('"DEEP"', `${'['.repeat(depth)}1${']'.repeat(depth)}`);
    // Past the first 2,000 items, where the workers take over.
    const lines = [...records.map((record) => JSON.stringify(record)), deep(3000), deep(8000), deep(20_000), deep(100_000), JSON.stringify(first)];
    const jsonl = join(dir, 'deep.jsonl');
    writeFileSync(jsonl, lines.join('\n'));
    const sequential = await replayed([jsonl], 0);
    const parallel = await replayed([jsonl], 1);
    expect(parallel.exit).toBe(sequential.exit);
    expect(parallel.err).toBe(sequential.err);
    expect(parallel.out).toBe(sequential.out);
    expect(sequential.out.trim().split('\n').length).toBeGreaterThanOrEqual(lines.length);
  }, 120_000);

  it('routes in a worker, with the --config JSON it is given (not the file again), in batches bounded in bytes', async () => {
    const config = JSON.parse(readFileSync(CONFIG, 'utf8')) as unknown;
    // The file is gone: a worker that read it again would fail to start.
    const pool = new ReplayPool(1, { configFile: join(ROOT, 'no-such-config.json'), config, env: {}, format: 'jsonl' });
    const pad = 'p'.repeat(1024 * 1024);
    const items = Array.from({ length: 80 }, (_, i) => ({
      kind: 'text' as const,
      source: `f#Records[${i}]`,
      text: `{"eventName":"E${i}","pad":"${pad}"}`,
      line: false,
    }));
    async function* batches() {
      yield items;
    }
    let sentBytes = 0;
    let handedOn = 0;
    let inFlightMax = 0;
    const sources: string[] = [];
    const kinds = new Set<string>();
    const sent: number[] = [];
    // Every message the pool posts, by the bytes of text in it.
    const original = Worker.prototype.postMessage;
    Worker.prototype.postMessage = function (this: Worker, message: { items: readonly { text: string }[] }) {
      const bytes = message.items.reduce((sum, item) => sum + item.text.length, 0);
      sent.push(bytes);
      sentBytes += bytes;
      inFlightMax = Math.max(inFlightMax, sentBytes - handedOn);
      return original.call(this, message);
    } as typeof original;
    try {
      for await (const results of pool.route(batches())) {
        for (const result of results) {
          kinds.add(result.kind);
          // Each item is an event that does not parse: the batch names it, in order, among its notes.
          for (const note of result.kind === 'printed' ? result.notes : [result]) {
            sources.push(note.source);
            handedOn += items[Number(/\[(\d+)\]/.exec(note.source)?.[1])]?.text.length ?? 0;
          }
        }
      }
    } finally {
      Worker.prototype.postMessage = original;
      await pool.close();
    }
    expect(sources).toEqual(items.map((item) => item.source));
    // Only a worker prints (`printed`): the main thread's routing gives `event` results.
    expect([...kinds]).toEqual(['printed']);
    expect(Math.max(...sent)).toBeLessThanOrEqual(BATCH_BYTES + pad.length + 100);
    expect(sent.length).toBeGreaterThan(10);
    expect(inFlightMax).toBeLessThanOrEqual(IN_FLIGHT_BYTES + BATCH_BYTES + pad.length + 100);
  }, 60_000);

  it('routes batches on the main thread too while the workers are full, and hands every batch on in input order', async () => {
    const config = JSON.parse(readFileSync(CONFIG, 'utf8')) as unknown;
    const pool = new ReplayPool(1, { configFile: CONFIG, config, env: {}, format: 'jsonl' });
    // Events that do not parse: each batch names its items among its notes, so the order is visible.
    const items = Array.from({ length: 40 * 256 }, (_, i) => ({ kind: 'text' as const, source: `f#Records[${i}]`, text: `{"n":${i}}`, line: false }));
    async function* batches() {
      for (let at = 0; at < items.length; at += 512) yield items.slice(at, at + 512);
    }
    const deps = offlineDeps(configOf(config, CONFIG, {}));
    let local = 0;
    const sources: string[] = [];
    try {
      for await (const results of pool.route(batches(), (batch) => {
        local += 1;
        return routeBatch(batch, deps, 'jsonl');
      })) {
        for (const result of results) if (result.kind === 'printed') sources.push(...result.notes.map((note) => note.source));
      }
    } finally {
      await pool.close();
    }
    expect(sources).toEqual(items.map((item) => item.source));
    // 40 batches, at most 4 at the worker at a time: this thread routed some, the worker the rest.
    expect(local).toBeGreaterThan(0);
    expect(local).toBeLessThan(40);
  }, 60_000);

  it('a worker that cannot start fails the replay clearly, naming where, and does not hang', async () => {
    const pool = new ReplayPool(2, { configFile: join(ROOT, 'no-such-config.json'), config: undefined, env: {}, format: 'jsonl' });
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

  it('uses no worker on one or two cores, and on more as many as the 400 MB cap allows; the env var overrides', () => {
    expect(workerCount({}, 1)).toBe(0);
    expect(workerCount({}, 2)).toBe(0);
    // Each worker holds its own copy of the bundle and rules: the cap, not the cores, bounds the count.
    expect(MAX_WORKERS).toBe(1);
    expect(workerCount({}, 3)).toBe(MAX_WORKERS);
    expect(workerCount({}, 4)).toBe(MAX_WORKERS);
    expect(workerCount({}, 64)).toBe(MAX_WORKERS);
    expect(workerCount({ TRAILGUARD_REPLAY_WORKERS: '0' }, 8)).toBe(0);
    expect(workerCount({ TRAILGUARD_REPLAY_WORKERS: '3' }, 2)).toBe(3);
    expect(workerCount({ TRAILGUARD_REPLAY_WORKERS: 'lots' }, 4)).toBe(MAX_WORKERS);
  });
});
