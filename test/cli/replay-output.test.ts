// Replay's output failing: a failed write (a full disk) is exit 2 with a message, never a silent exit 0; a closed
// reader of stderr (`2>&1 | head`) stops the messages quietly, never the run; and the worker pool's byte caps
// weigh events parsed on the main thread by their text, not a flat guess.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readInputBatches } from '../../cli/inputs.js';
import { quietOnClosedReader, recordLines, VALUE_LIMIT } from '../../cli/output.js';
import { replay } from '../../cli/replay.js';
import { BATCH_BYTES, weight } from '../../cli/replay-pool.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CONFIG = join(ROOT, 'config', 'replay.sample.json');
const BIN = join(ROOT, 'bin', 'trailguard.mjs');
const dir = mkdtempSync(join(tmpdir(), 'replay-output-'));

const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

/** JSON lines of events no rule's pattern matches: each gives one record, and no AWS call in any mode. */
function eventLines(count: number, name: string): string {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      eventVersion: '1.08',
      eventSource: 'example.amazonaws.com',
      eventName: 'DescribeThings',
      eventID: `${name}-${i}`,
      eventTime: '2026-01-01T00:00:00Z',
      awsRegion: 'us-east-1',
    }),
  ).join('\n');
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The CLI from the checkout, with its stdout and stderr as given; the exit code and what reached stderr. */
function runBin(args: readonly string[], stdout: 'pipe' | number, onStderr: (child: ReturnType<typeof spawn>, text: string) => void) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', AWS_ENDPOINT_URL: '' },
    stdio: ['ignore', stdout, 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => onStderr(child, chunk.toString('utf8')));
  return new Promise<{ code: number | null; signal: string | null; out: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`trailguard ${args.join(' ')} ran over 60 s: killed`));
    }, 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
}

describe('replay when its output fails', () => {
  it('exits 2 naming the error when the last write fails a tick after it is made (a full disk)', async () => {
    let writes = 0;
    // Every write fails as a full disk does: its callback gets the error later, not in the write call.
    const full = new Writable({
      write(_chunk, _encoding, done) {
        writes += 1;
        setImmediate(() => done(enospc()));
      },
    });
    let err = '';
    const exit = await replay({
      mode: 'offline',
      format: 'jsonl',
      configFile: CONFIG,
      inputs: [file('full.jsonl', eventLines(20, 'full'))],
      env: {},
      stdout: full,
      err: (text) => {
        err += text;
      },
    });
    // Twenty records fit in one flush: the final one is the write that fails.
    expect(writes).toBe(1);
    expect(err).toBe('trailguard: cannot write the records: ENOSPC\n');
    expect(exit).toBe(2);
  });

  it('exits 0 quietly when the last write finds the reader gone (EPIPE a tick after it)', async () => {
    const gone = new Writable({
      write(_chunk, _encoding, done) {
        setImmediate(() => done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })));
      },
    });
    let err = '';
    const exit = await replay({
      mode: 'offline',
      format: 'jsonl',
      configFile: CONFIG,
      inputs: [file('gone-last.jsonl', eventLines(20, 'gone-last'))],
      env: {},
      stdout: gone,
      err: (text) => {
        err += text;
      },
    });
    expect(err).toBe('');
    expect(exit).toBe(0);
  });

  it('after replay, a stream error still flushing is said and exits 2; EPIPE is quiet; stderr without a reporter only takes EPIPE', () => {
    const said: string[] = [];
    const stream = new PassThrough();
    quietOnClosedReader(stream, (problem) => said.push(problem));
    const before = process.exitCode;
    try {
      stream.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      expect(said).toEqual([]);
      expect(process.exitCode).toBe(before);
      stream.emit('error', enospc());
      expect(said).toEqual(['ENOSPC']);
      expect(process.exitCode).toBe(2);
    } finally {
      process.exitCode = before;
    }
    const stderr = new PassThrough();
    quietOnClosedReader(stderr);
    expect(() => stderr.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }))).not.toThrow();
    expect(() => stderr.emit('error', enospc())).toThrow('ENOSPC');
  });

  it('the command exits 2 with the message when stdout is /dev/full', async () => {
    const input = file('devfull.jsonl', eventLines(20, 'devfull'));
    const fd = openSync('/dev/full', 'w');
    let stderr = '';
    try {
      const { code } = await runBin(['replay', '--config', CONFIG, '--format', 'jsonl', input], fd, (_child, text) => {
        stderr += text;
      });
      expect(stderr).toContain('trailguard: cannot write the records: ENOSPC\n');
      expect(code).toBe(2);
    } finally {
      closeSync(fd);
    }
  }, 90_000);

  it('goes on with its records and exit code when the reader of stderr goes away (`2>&1 | head`)', async () => {
    // A bad line every 50: a message on stderr after the reader has gone, many times over.
    const lines = eventLines(3000, 'stderr-gone').split('\n');
    const input = file('stderr-gone.jsonl', lines.flatMap((line, i) => (i % 50 === 0 ? ['not json', line] : [line])).join('\n'));
    const { code, signal, out } = await runBin(['replay', '--config', CONFIG, '--format', 'jsonl', input], 'pipe', (child) => {
      // The first message read, the reader leaves: every later write to stderr is an EPIPE.
      child.stderr?.destroy();
    });
    expect(signal).toBeNull();
    // Bad lines make it 2, as with a reader; a crash on the EPIPE would be 1, with the records cut short.
    expect(code).toBe(2);
    expect(out.trim().split('\n')).toHaveLength(3000);
  }, 90_000);
});

describe('the replay pool weighs events parsed on the main thread', () => {
  it('by their share of the text they came from, so the byte caps hold for a JSON array of big events', async () => {
    const pad = 'p'.repeat(300 * 1024);
    const text = JSON.stringify(Array.from({ length: 20 }, (_, i) => ({ eventName: `Big${i}`, pad })));
    const path = file('big-array.json', text);
    const items = [];
    for await (const batch of readInputBatches([path])) items.push(...batch);
    expect(items.map((item) => item.kind)).toEqual(Array.from({ length: 20 }, () => 'event'));
    for (const item of items) expect(weight(item)).toBeGreaterThanOrEqual(pad.length);
    // So twenty of them, 6 MB of text, fill more than one 4 MiB batch.
    expect(items.reduce((sum, item) => sum + weight(item), 0)).toBeGreaterThan(BATCH_BYTES);
    expect(weight({ kind: 'error', source: 'x', problem: 'bad' })).toBe(256);
  });
});

describe('a hostile event cannot grow the output without bound', () => {
  it('cuts string values of a record line past LINE_LIMIT, and the line stays terminal-safe and valid JSON', async () => {
    // Two million C1 controls (two bytes each in the file): shown, each is six characters, and the name is in the reason too.
    const name = '\u0085'.repeat(2_000_000);
    const hostile = JSON.stringify({
      eventVersion: '1.08',
      eventSource: 'example.amazonaws.com',
      eventName: name,
      eventID: 'hostile-1',
      eventTime: '2026-01-01T00:00:00Z',
      awsRegion: 'us-east-1',
    });
    const chunks: string[] = [];
    const stdout = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString('utf8'));
        done();
      },
    });

    const exit = await replay({
      mode: 'offline',
      format: 'jsonl',
      configFile: CONFIG,
      inputs: [file('hostile.jsonl', `${hostile}\n${eventLines(1, 'after')}\n`)],
      env: {},
      stdout,
      err: () => undefined,
    });

    const lines = chunks.join('').trimEnd().split('\n');
    expect(exit).toBe(0);
    expect(lines).toHaveLength(2);
    const [first = '', second = ''] = lines;
    // Each cut value: VALUE_LIMIT characters, each escaped to six, and the note of what was cut.
    expect(first.length).toBeLessThan(3 * 6 * VALUE_LIMIT + 2_000);
    expect(first).not.toMatch(/[\u0080-\u009f]/);
    const record = JSON.parse(first) as { eventName: string; reason: string; eventId: string };
    expect(record.eventId).toBe('hostile-1');
    expect(record.eventName).toBe(`${name.slice(0, VALUE_LIMIT)}…(${name.length - VALUE_LIMIT} more characters)`);
    // An ordinary record is printed whole, as before.
    expect(JSON.parse(second)).toMatchObject({ eventId: 'after-0', eventName: 'DescribeThings' });
    expect(recordLines([JSON.parse(second)])).toBe(`${second}\n`);
  });
});
