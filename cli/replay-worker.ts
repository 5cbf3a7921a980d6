/**
 * A replay worker thread (offline only): parses the record texts it is sent and routes each event through the
 * rules, exactly as the sequential replay does (cli/replay.ts `routeItem`), and sends the results back. The
 * main thread prints them in input order (cli/replay-pool.ts). Bundled as dist/cli/replay-worker.mjs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ReadItem } from './inputs.js';
import type { Format } from './output.js';
import { configOf, offlineDeps, routeBatch, type Routed } from './replay.js';

export interface WorkerSetup {
  readonly configFile: string | undefined;
  /** `--config FILE`'s JSON as the main thread read it: a file edited mid-replay must not split the run. */
  readonly config: unknown;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** `jsonl`: the worker prints each batch's records itself, and sends back the lines and only what is counted. */
  readonly format: Format;
}

export interface WorkerRequest {
  readonly id: number;
  readonly items: readonly ReadItem[];
}

export type WorkerReply = { readonly id: number; readonly results: Routed[] } | { readonly id: number; readonly failure: string };

const port = parentPort;
if (!port) throw new Error('cli/replay-worker.ts runs as a worker thread');
const setup = workerData as WorkerSetup;
// The JSON the main thread read, parsed the same way (not the file again: it may have changed since).
const deps = offlineDeps(configOf(setup.config, setup.configFile, setup.env));

// One request at a time, in the order sent: a worker's replies then come back in that order too.
let queue = Promise.resolve();
port.on('message', (request: WorkerRequest) => {
  queue = queue.then(async () => {
    let reply: WorkerReply;
    try {
      reply = { id: request.id, results: await routeBatch(request.items, deps, setup.format) };
    } catch (error) {
      reply = { id: request.id, failure: (error as Error).stack ?? String(error) };
    }
    port.postMessage(reply);
  });
});
