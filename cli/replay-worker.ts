/**
 * A replay worker thread (offline only): parses the record texts it is sent and routes each event through the
 * rules, exactly as the sequential replay does (cli/replay.ts `routeItem`), and sends the results back. The
 * main thread prints them in input order (cli/replay-pool.ts). Bundled as dist/cli/replay-worker.mjs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { ReadItem } from './inputs.js';
import { offlineDeps, replayConfig, routeItem, type Routed } from './replay.js';

export interface WorkerSetup {
  readonly configFile: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface WorkerRequest {
  readonly id: number;
  readonly items: readonly ReadItem[];
}

export type WorkerReply = { readonly id: number; readonly results: Routed[] } | { readonly id: number; readonly failure: string };

const port = parentPort;
if (!port) throw new Error('cli/replay-worker.ts runs as a worker thread');
const setup = workerData as WorkerSetup;
// The same input the main thread parsed, parsed the same way: a Config holds no functions, but re-reading it keeps
// the worker independent of how Config is built (the file is small and read once per worker).
const deps = offlineDeps(await replayConfig(setup.configFile, setup.env));

// One request at a time, in the order sent: a worker's replies then come back in that order too.
let queue = Promise.resolve();
port.on('message', (request: WorkerRequest) => {
  queue = queue.then(async () => {
    let reply: WorkerReply;
    try {
      const results: Routed[] = [];
      for (const item of request.items) results.push(...(await routeItem(item, deps)));
      reply = { id: request.id, results };
    } catch (error) {
      reply = { id: request.id, failure: (error as Error).stack ?? String(error) };
    }
    port.postMessage(reply);
  });
});
