/**
 * Offline replay on every core: batches of record texts go to worker threads (cli/replay-worker.ts), which
 * parse and route them; the results come back and are handed on in input order. At most a few batches per
 * worker are in flight, so a slow printer holds the reader back and memory stays flat.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parsedSize, type ReadItem } from './inputs.js';
import type { Routed } from './replay.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './replay-worker.js';

/** Items per message: large enough that posting costs little per record, small enough to keep workers even. */
export const BATCH_ITEMS = 256;
/** Batches in flight per worker. */
const IN_FLIGHT_PER_WORKER = 4;
/** Batches the main thread routes itself, done but waiting behind older ones still at the workers, at most. */
const LOCAL_AHEAD = 4;
/** A batch is cut at this much record text too: 256 records of 250 KB each would be 64 MB in one message. */
export const BATCH_BYTES = 4 * 1024 * 1024;
/**
 * Record text in flight (sent, not yet handed on) at most, whatever the count: memory stays flat on huge records.
 * Each text is held several times over while in flight (UTF-16, the copy a worker receives, its parsed objects and
 * output): with one worker, 1,500 records of 200 KB peaked at 416–468 MB under 32 MB, over the cap.
 */
export const IN_FLIGHT_BYTES = 8 * 1024 * 1024;

/** What an item weighs without a size: an error or a note, or an event parsed from text of unknown length. */
const SMALL_ITEM = 256;

/**
 * What an item weighs in flight: its text (UTF-16 in memory, counted once: a bound, not a measure); an event
 * already parsed, its share of the text it came from (a 250 KB record in a whole log file weighs 250 KB).
 */
export const weight = (item: ReadItem): number => (item.kind === 'text' ? item.text.length : Math.max(parsedSize(item) ?? SMALL_ITEM, SMALL_ITEM));

/** Replay's memory budget (issue 21): peak RSS of the whole process, worker threads included. */
const RSS_CAP_MB = 400;
/**
 * With a worker's heap limited (below), one worker peaked at 307–370 MB on 500,000 and 1,000,000 generated records
 * and at 333–345 MB on records of 200 KB and 1 MB. Before those limits,
 * peak RSS measured on the bundled CLI (200,000 generated records, `--format jsonl`, 2 cores, loaded machine):
 * one thread 189–195 MB; one worker (the main thread routing beside it) 298–331 MB, so the first worker adds up to
 * 140 MB (its own isolate with the whole bundle, rules and SDK: 40–43 MB idle, then its heap under load and the
 * messages in flight); a second 369–429 MB, so each further one up to 100 MB. The upper figures are used.
 */
const SEQUENTIAL_MB = 195;
const FIRST_WORKER_MB = 140;
const FURTHER_WORKER_MB = 100;
/**
 * A worker's young generation, at most. V8 sizes it from the machine's memory (tens of MB on a large machine), and
 * a worker allocates fast: 1,000,000 JSON-lines records with one worker peaked at 389–413 MB with the default, over
 * the cap, and at 308–362 MB with 8 MB, for about the same CPU time (bundled CLI, 2 loaded cores, 3 runs each).
 */
const WORKER_YOUNG_GENERATION_MB = 8;
/**
 * A worker's old generation, at most: without a limit V8 lets it grow before collecting, and big records (300 of
 * 1 MB after 2,100 small ones) peaked at 434–505 MB with one worker; with 128 MB, 354–366 MB (1,000,000 JSON-lines
 * records: 307 MB against 354 MB, 2 s slower of 17 on loaded cores). A batch is at most BATCH_BYTES of text, so this
 * is room for CloudTrail's largest records many times over; a worker that still runs out fails the replay (exit 2).
 */
const WORKER_OLD_GENERATION_MB = 128;
/** Workers that fit in the cap, however many cores: 1 with the figures above. */
export const MAX_WORKERS = Math.max(0, 1 + Math.floor((RSS_CAP_MB - SEQUENTIAL_MB - FIRST_WORKER_MB) / FURTHER_WORKER_MB));

/**
 * How many workers: none on one or two cores, where a worker has not measured faster than one thread (medians of
 * 5 interleaved runs of 200,000 records on a 2-core machine loaded by other work, load average 6–7: one worker,
 * with the main thread routing beside it, 9.5 s against 7.5 s for one thread, though its fastest run was faster,
 * 6.0 s against 6.9 s; it spends 1.2× the CPU of one thread, in messages and a second isolate), and it costs
 * 1.6× the memory. On more cores, one fewer than the cores up to MAX_WORKERS, so peak RSS stays within RSS_CAP_MB
 * on any machine. TRAILGUARD_REPLAY_WORKERS overrides it (0: sequential).
 */
export function workerCount(env: Readonly<Record<string, string | undefined>>, cores = availableParallelism()): number {
  const asked = env.TRAILGUARD_REPLAY_WORKERS;
  if (asked !== undefined && /^\d+$/.test(asked)) return Math.min(Number(asked), 64);
  return cores <= 2 ? 0 : Math.min(cores - 1, MAX_WORKERS);
}

/**
 * A worker: the bundle's replay-worker.mjs beside this bundle; else (tests, a checkout run through tsx) the
 * TypeScript entry, loaded after tsx's loader is registered in the worker (a worker does not inherit it).
 */
function startWorker(setup: WorkerSetup): Worker {
  // The parent's flags, less one a worker refuses (`node --input-type=module -e …` starts the CLI in the bench).
  const execArgv = process.execArgv.filter((flag) => !flag.startsWith('--input-type'));
  const resourceLimits = { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB, maxOldGenerationSizeMb: WORKER_OLD_GENERATION_MB };
  if (import.meta.url.endsWith('.mjs')) return new Worker(new URL('./replay-worker.mjs', import.meta.url), { workerData: setup, execArgv, resourceLimits });
  // tsx's ESM entry, as its package exports name it (require.resolve would give the CommonJS one).
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const api = (JSON.parse(readFileSync(tsxPackage, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports['./esm/api'];
  const tsx = pathToFileURL(join(dirname(tsxPackage), api?.import.default ?? 'dist/esm/api/index.mjs')).href;
  const entry = new URL('./replay-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: setup, execArgv, resourceLimits });
}

/** A worker died or failed a batch: replay stops with this, naming the first source it could not finish. */
export class WorkerFailure extends Error {}

interface Pending {
  readonly resolve: (results: Routed[]) => void;
  readonly reject: (error: Error) => void;
  readonly worker: Worker;
}

export class ReplayPool {
  private readonly workers: Worker[];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private next = 0;
  private broken: Error | undefined;
  private closed = false;

  constructor(count: number, setup: WorkerSetup) {
    this.workers = Array.from({ length: count }, () => {
      const worker = startWorker(setup);
      worker.on('message', (reply: WorkerReply) => this.settle(reply));
      worker.on('error', (error) => this.fail(worker, `a replay worker failed: ${error.message}`));
      worker.on('exit', (code) => this.fail(worker, `a replay worker exited (code ${code})`));
      return worker;
    });
  }

  /**
   * The routed results of `batches`, in input order, a batch at a time. `local` routes a batch on this thread: a
   * batch goes to it when every worker already has IN_FLIGHT_PER_WORKER batches, so this thread, which would
   * otherwise wait, does its share (on 2 cores one worker and this thread use both cores at one worker's memory).
   */
  async *route(batches: AsyncIterable<readonly ReadItem[]>, local?: (items: readonly ReadItem[]) => Promise<Routed[]>): AsyncGenerator<Routed[]> {
    const limit = this.workers.length * IN_FLIGHT_PER_WORKER;
    // Batches routed here wait behind the workers' older ones: LOCAL_AHEAD of them at most, then this thread waits too.
    const total = limit + (local ? LOCAL_AHEAD : 0);
    const inFlight: { readonly results: Promise<Routed[]>; readonly bytes: number; done: boolean }[] = [];
    let inFlightBytes = 0;
    let atWorkers = 0;
    let items: ReadItem[] = [];
    let bytes = 0;
    const send = () => {
      const toWorker = !local || atWorkers < limit;
      const results = toWorker ? this.send(items) : local(items);
      const entry = { results, bytes, done: false };
      if (toWorker) atWorkers += 1;
      const settled = () => {
        entry.done = true;
        if (toWorker) atWorkers -= 1;
      };
      // Awaited in order below; until then a failure must not count as unhandled (Node would exit on it).
      results.then(settled, settled);
      inFlight.push(entry);
      inFlightBytes += bytes;
      items = [];
      bytes = 0;
    };
    const oldest = async (): Promise<Routed[]> => {
      const first = inFlight.shift() as (typeof inFlight)[number];
      inFlightBytes -= first.bytes;
      return first.results;
    };
    for await (const batch of batches) {
      for (const item of batch) {
        items.push(item);
        bytes += weight(item);
        if (items.length < BATCH_ITEMS && bytes < BATCH_BYTES) continue;
        send();
        // What is done is handed on at once: the printer keeps up, and its memory is freed.
        while (inFlight[0]?.done) yield await oldest();
        while (inFlight.length >= total || (inFlightBytes >= IN_FLIGHT_BYTES && inFlight.length > 0)) yield await oldest();
      }
    }
    if (items.length > 0) send();
    while (inFlight.length > 0) yield await oldest();
  }

  /** Stops every worker (also after a failure); waits for them to end. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private send(items: readonly ReadItem[]): Promise<Routed[]> {
    if (this.broken || this.closed) return Promise.reject(this.broken ?? new WorkerFailure('the replay pool is closed'));
    const worker = this.workers[this.next % this.workers.length] as Worker;
    this.next += 1;
    const id = this.nextId;
    this.nextId += 1;
    const first = items[0]?.source ?? 'the input';
    return new Promise<Routed[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject: (error) => reject(new WorkerFailure(`${error.message}, at ${first} or after it`)), worker });
      worker.postMessage({ id, items } satisfies WorkerRequest);
    });
  }

  private settle(reply: WorkerReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if ('failure' in reply) {
      pending.reject(new Error(`a replay worker failed: ${reply.failure.split('\n')[0]}`));
      return;
    }
    pending.resolve(reply.results);
  }

  private fail(worker: Worker, why: string): void {
    if (this.closed) return;
    this.broken ??= new WorkerFailure(why);
    for (const [id, pending] of this.pending) {
      if (pending.worker !== worker) continue;
      this.pending.delete(id);
      pending.reject(new Error(why));
    }
  }
}
