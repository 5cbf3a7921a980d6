// Child process of `npm run bench`: one timed pass over a gzipped CloudTrail log file, either the floor
// (read + gunzip + JSON.parse) or the real offline replay path (`replay()` from cli/replay.ts, jsonl
// output to a sink that only counts bytes). Prints one JSON line: { kind, ms, events, outBytes }.
// Usage: node --import tsx bench/replay-child.ts <floor|replay> <file.json.gz>
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { replay } from '../cli/replay.js';

const [kind, file] = process.argv.slice(2);
if (!file || (kind !== 'floor' && kind !== 'replay')) throw new Error('usage: replay-child.ts <floor|replay> <file>');

let events = 0;
let outBytes = 0;
const start = performance.now();
if (kind === 'floor') {
  const parsed = JSON.parse(gunzipSync(await readFile(file)).toString('utf8')) as { Records: unknown[] };
  events = parsed.Records.length;
} else {
  const exit = await replay({
    mode: 'offline',
    format: 'jsonl',
    configFile: join(import.meta.dirname, '..', 'config', 'replay.sample.json'),
    inputs: [file],
    env: {},
    // The sink counts lines and drops the text, as a write to a pipe would (keeping it would make the GC copy it).
    out: (text) => {
      outBytes += text.length;
      for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) events += 1;
    },
    err: (text) => {
      throw new Error(`replay complained: ${text}`);
    },
  });
  if (exit === 2) throw new Error('replay exited 2 (unreadable input)');
}
const ms = performance.now() - start;
process.stdout.write(`${JSON.stringify({ kind, ms, events, outBytes })}\n`);
