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
/** A batch is cut at this much record text too: 256 records of 250 KB each would be 64 MB in one message. */
export const BATCH_BYTES = 4 * 1024 * 1024;
/** Record text in flight (sent, not yet handed on) at most, whatever the count: memory stays flat on huge records. */
export const IN_FLIGHT_BYTES = 32 * 1024 * 1024;

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
 * Peak RSS measured on the bundled CLI (100,000 generated records, `--format jsonl`, 2 cores): one thread 150–165 MB;
 * the first worker adds 165–210 MB (its own isolate with the whole bundle, rules and SDK: 47 MB idle, and its heap
 * under load, plus the messages in flight on the main thread), each further one 50–95 MB. The upper figures are used.
 */
const SEQUENTIAL_MB = 165;
const FIRST_WORKER_MB = 210;
const FURTHER_WORKER_MB = 95;
/** Workers that fit in the cap, however many cores: 1 with the figures above. */
export const MAX_WORKERS = Math.max(0, 1 + Math.floor((RSS_CAP_MB - SEQUENTIAL_MB - FIRST_WORKER_MB) / FURTHER_WORKER_MB));

/**
 * How many workers: none on one or two cores, where a worker measured slower than one thread (medians of 5
 * interleaved runs on a loaded 2-core machine: one worker 1.1×, two 1.0× the one-thread time; the worker
 * competes for a core with the main thread, which reads, gunzips, splits and prints, and with gunzip's
 * threadpool), and cost 2.2× the memory. On more cores, one fewer than the cores up to MAX_WORKERS, so peak RSS
 * stays within RSS_CAP_MB on any machine. TRAILGUARD_REPLAY_WORKERS overrides it (0: sequential).
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
  if (import.meta.url.endsWith('.mjs')) return new Worker(new URL('./replay-worker.mjs', import.meta.url), { workerData: setup, execArgv });
  // tsx's ESM entry, as its package exports name it (require.resolve would give the CommonJS one).
  const tsxPackage = createRequire(import.meta.url).resolve('tsx/package.json');
  const api = (JSON.parse(readFileSync(tsxPackage, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports['./esm/api'];
  const tsx = pathToFileURL(join(dirname(tsxPackage), api?.import.default ?? 'dist/esm/api/index.mjs')).href;
  const entry = new URL('./replay-worker.ts', import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: setup, execArgv });
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

  /** The routed results of `batches`, in input order, a batch at a time. */
  async *route(batches: AsyncIterable<readonly ReadItem[]>): AsyncGenerator<Routed[]> {
    const limit = this.workers.length * IN_FLIGHT_PER_WORKER;
    const inFlight: { readonly results: Promise<Routed[]>; readonly bytes: number }[] = [];
    let inFlightBytes = 0;
    let items: ReadItem[] = [];
    let bytes = 0;
    const send = () => {
      const results = this.send(items);
      // Awaited in order below; until then a failure must not count as unhandled (Node would exit on it).
      results.catch(() => undefined);
      inFlight.push({ results, bytes });
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
        while (inFlight.length >= limit || (inFlightBytes >= IN_FLIGHT_BYTES && inFlight.length > 0)) yield await oldest();
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
