import type { Stats } from 'node:fs';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type TransformOptions } from 'node:stream';
import { createGunzip, type ZlibOptions } from 'node:zlib';
import { RecordSplitter, startsLog } from './record-splitter.js';

/** One event read from an input, with where it came from; or why an input could not be read. */
export type InputItem =
  | { readonly kind: 'event'; readonly source: string; readonly value: unknown }
  | { readonly kind: 'error'; readonly source: string; readonly problem: string }
  | { readonly kind: 'skipped'; readonly source: string; readonly note: string };

const EVENT_FILE = /\.(json|jsonl|ndjson)(\.gz)?$|\.gz$/;

/**
 * Text without a leading UTF-8 byte order mark: Windows tools (PowerShell's `Out-File`, Notepad, some SIEM
 * exports) write one before the JSON, and JSON.parse refuses it. Per line too: `cat`ed exports keep each BOM.
 */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Arrays of arrays of events are unpacked this deep. */
const ARRAY_DEPTH = 16;

/**
 * The events inside one parsed JSON value: a log-file body `{"Records": [...]}`, a JSON array, a
 * LookupEvents answer `{"Events": [{"CloudTrailEvent": "<json string>"}]}` (double-encoded), or one event.
 */
export function* eventsIn(value: unknown, source: string, depth = 0): Generator<InputItem> {
  if (Array.isArray(value)) {
    // Bounded: a hostile `[[[[…]]]]` must be an error, not a recursion as deep as the input.
    if (depth >= ARRAY_DEPTH) {
      yield { kind: 'error', source, problem: `arrays nested deeper than ${ARRAY_DEPTH}` };
      return;
    }
    for (const [index, item] of value.entries()) yield* eventsIn(item, `${source}[${index}]`, depth + 1);
    return;
  }
  if (!isObject(value)) {
    yield { kind: 'error', source, problem: `expected a JSON object, got ${value === null ? 'null' : typeof value}` };
    return;
  }
  if (Array.isArray(value.Records)) {
    for (const [index, record] of value.Records.entries()) yield { kind: 'event', source: `${source}#Records[${index}]`, value: record };
    return;
  }
  if (Array.isArray(value.Events)) {
    for (const [index, item] of value.Events.entries()) {
      const at = `${source}#Events[${index}]`;
      const text = isObject(item) ? item.CloudTrailEvent : undefined;
      if (typeof text !== 'string') {
        yield { kind: 'error', source: at, problem: 'LookupEvents item without a CloudTrailEvent string' };
        continue;
      }
      try {
        yield { kind: 'event', source: at, value: JSON.parse(text) };
      } catch (error) {
        yield { kind: 'error', source: at, problem: `CloudTrailEvent is not JSON: ${(error as Error).message}` };
      }
    }
    return;
  }
  if ('digestS3Object' in value && 'logFiles' in value) {
    // CloudTrail digest files live beside the log files (CloudTrail-Digest/) and hold no events.
    yield { kind: 'skipped', source, note: 'CloudTrail digest file, not events' };
    return;
  }
  yield { kind: 'event', source, value };
}

/** A record's or a line's text, parsed where it is routed (a worker, or the main thread): one JSON.parse each. */
export interface TextItem {
  readonly kind: 'text';
  readonly source: string;
  readonly text: string;
  /** A JSON line, which may hold a log, an array or LookupEvents output (eventsIn); else one log record as is. */
  readonly line: boolean;
}

/** What the readers give: items, or texts still to parse (parseItem). */
export type ReadItem = InputItem | TextItem;

/** The items of one read item: a text parsed (and, for a line, unpacked), anything else as it is. */
export function parseItem(item: ReadItem): InputItem[] {
  if (item.kind !== 'text') return [item];
  let value: unknown;
  try {
    value = JSON.parse(item.line ? withoutBom(item.text) : item.text);
  } catch (error) {
    return [{ kind: 'error', source: item.source, problem: `not JSON: ${(error as Error).message}` }];
  }
  return item.line ? [...eventsIn(value, item.source)] : [{ kind: 'event', source: item.source, value }];
}

/** A file that is not a log file or JSON lines is parsed whole, so it is refused above this size. */
export const WHOLE_FILE_LIMIT = 256 * 1024 * 1024;
/** One JSON line (or one record of a log file) longer than this stops its file. */
export const LINE_LIMIT = 64 * 1024 * 1024;
const MiB = 1024 * 1024;

/** Splits bytes into lines (`\n`; a `\r` before it is JSON whitespace), numbered from `first`. */
class LineSplitter {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  constructor(
    private readonly source: string,
    private number: number,
  ) {}

  push(chunk: Buffer, into: ReadItem[]): string | undefined {
    let start = 0;
    for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, start)) {
      let text: string;
      if (this.pending.length === 0) text = chunk.toString('utf8', start, at);
      else {
        this.pending.push(chunk.subarray(start, at));
        text = Buffer.concat(this.pending).toString('utf8');
        this.pending = [];
        this.pendingLength = 0;
      }
      this.line(text, into);
      start = at + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.pending.push(rest);
      this.pendingLength += rest.length;
      if (this.pendingLength > LINE_LIMIT) return `line ${this.number} is longer than ${LINE_LIMIT / MiB} MiB`;
    }
    return undefined;
  }

  end(into: ReadItem[]): void {
    if (this.pending.length > 0) this.line(Buffer.concat(this.pending).toString('utf8'), into);
    this.pending = [];
  }

  private line(text: string, into: ReadItem[]): void {
    const number = this.number;
    this.number += 1;
    if (text.trim() === '') return;
    into.push({ kind: 'text', source: `${this.source}:${number}`, text, line: true });
  }
}

function* jsonLines(text: string, source: string): Generator<InputItem> {
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    yield* parseItem({ kind: 'text', source: `${source}:${index + 1}`, text: line, line: true });
  }
}

/** Today's reading of a small file that is neither a log file nor named as JSON lines: parsed whole. */
function wholeFile(text: string, source: string): Iterable<InputItem> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // Compact one-record-per-line files (Elastic test logs) are JSON lines under a .json name.
    if (text.trim().includes('\n')) return jsonLines(text, source);
    return [{ kind: 'error', source, problem: `not JSON: ${(error as Error).message}` }];
  }
  // Parsed here, not in a worker: each event weighs its share of the text, so the pool's byte caps hold for it.
  const items = [...eventsIn(parsed, source)];
  const size = Math.ceil(text.length / Math.max(1, items.length));
  for (const item of items) parsedSizes.set(item, size);
  return items;
}

/** Items parsed from a whole file, by their share of its text; kept beside them, so items stay as eventsIn gives them. */
const parsedSizes = new WeakMap<InputItem, number>();

/** An item's share of the text it was parsed from on the main thread (UTF-16 units), where known. */
export function parsedSize(item: InputItem): number | undefined {
  return parsedSizes.get(item);
}

const GUNZIP_CHUNK = 256 * 1024;
const GUNZIP_AHEAD = MiB;
/** Replay's gunzip settings (bench/replay.ts gives its floor the same). zlib streams take Transform's options too; @types/node's ZlibOptions does not list them. */
export const GUNZIP_OPTIONS: ZlibOptions & TransformOptions = { chunkSize: GUNZIP_CHUNK, readableHighWaterMark: GUNZIP_AHEAD };

const toBuffer = (chunk: Buffer | string | Uint8Array): Buffer =>
  typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);

/** The bytes of `input`, gunzipped as they come when they start with the gzip magic (the name is not trusted). */
export async function* gunzipped(input: AsyncIterable<Buffer | string | Uint8Array>): AsyncGenerator<Buffer> {
  const chunks = input[Symbol.asyncIterator]();
  let head: Buffer = Buffer.alloc(0);
  while (head.length < 2) {
    const next = await chunks.next();
    if (next.done) {
      if (head.length > 0) yield head;
      return;
    }
    head = head.length === 0 ? toBuffer(next.value) : Buffer.concat([head, toBuffer(next.value)]);
  }
  if (head[0] !== 0x1f || head[1] !== 0x8b) {
    try {
      yield head;
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield toBuffer(next.value);
    } finally {
      // A reader that stops early (a broken log) must close the file: one leaked descriptor per file adds up to EMFILE.
      await chunks.return?.();
    }
    return;
  }
  // Gunzip runs in libuv's threadpool: larger chunks and a deeper buffer let it inflate ahead while this thread
  // parses and prints (with the defaults, 16 KiB at a time, the main thread sat idle ~10% of a replay).
  const gunzip = createGunzip(GUNZIP_OPTIONS);
  const feed = Readable.from(
    (async function* () {
      yield head;
      for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield toBuffer(next.value);
    })(),
    { objectMode: false },
  );
  feed.on('error', (error) => gunzip.destroy(error));
  feed.pipe(gunzip);
  try {
    for await (const chunk of gunzip) yield chunk as Buffer;
  } finally {
    feed.destroy();
    gunzip.destroy();
    await chunks.return?.();
  }
}

/**
 * The items of one input's bytes, a batch per chunk, read as they come: JSON lines (`lines`, or what follows
 * concatenated log files), a CloudTrail log file record by record, else (`auto`, not a log file) the file
 * parsed whole up to WHOLE_FILE_LIMIT. A problem in the middle is an error item, and the rest is not read.
 */
export async function* itemsOf(chunks: AsyncIterable<Buffer>, source: string, kind: 'lines' | 'auto'): AsyncGenerator<ReadItem[]> {
  let lines: LineSplitter | undefined = kind === 'lines' ? new LineSplitter(source, 1) : undefined;
  let log: RecordSplitter | undefined;
  let whole: Buffer[] | undefined;
  let wholeLength = 0;
  let head: Buffer = Buffer.alloc(0);
  const stopped = (problem: string, batch: ReadItem[]) => [...batch, { kind: 'error', source, problem } satisfies InputItem];
  try {
    for await (const chunk of chunks) {
      const batch: ReadItem[] = [];
      if (lines) {
        const problem = lines.push(chunk, batch);
        if (problem) return yield stopped(`${problem}: the rest is not read`, batch);
      } else if (whole) {
        whole.push(chunk);
        wholeLength += chunk.length;
        if (wholeLength > WHOLE_FILE_LIMIT)
          return yield stopped(`over ${WHOLE_FILE_LIMIT / MiB} MiB and neither a CloudTrail log file nor JSON lines: not read`, batch);
      } else {
        let bytes = chunk;
        if (!log) {
          // Undecided: the first bytes (BOM removed) say whether this is a log file.
          head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
          if (head.length < 3 && head[0] === 0xef) continue;
          const body = head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? head.subarray(3) : head;
          const isLog = startsLog(body.toString('latin1', 0, Math.min(body.length, 4096)));
          if (isLog === undefined && body.length <= 4096) continue;
          if (!isLog) {
            whole = [head];
            wholeLength = head.length;
            continue;
          }
          log = new RecordSplitter(LINE_LIMIT);
          bytes = body;
        }
        const first = log.count;
        const split = log.push(bytes);
        for (const [i, text] of split.records.entries()) batch.push({ kind: 'text', source: `${source}#Records[${first + i}]`, text, line: false });
        if (split.problem) return yield stopped(`not JSON: ${split.problem}; the rest of the file is not read`, batch);
        if (split.rest) {
          lines = new LineSplitter(source, split.restLine ?? 1);
          const problem = lines.push(split.rest, batch);
          if (problem) return yield stopped(`${problem}: the rest is not read`, batch);
        }
      }
      if (batch.length > 0) yield batch;
    }
  } catch (error) {
    return yield [{ kind: 'error', source, problem: `cannot read: ${(error as Error).message}` }];
  }
  const batch: ReadItem[] = [];
  if (lines) lines.end(batch);
  else if (log) {
    const problem = log.end();
    if (problem) batch.push({ kind: 'error', source, problem: `not JSON: ${problem}` });
  } else {
    // Undecided or not a log: the whole text, parsed as before.
    const text = withoutBom(Buffer.concat(whole ?? [head]).toString('utf8'));
    // One item at a time: spreading 200,000 items into push() overflows the stack.
    for (const item of wholeFile(text, source)) batch.push(item);
  }
  if (batch.length > 0) yield batch;
}

/** The items of one file, a batch at a time; JSON lines by name, anything else by its content. */
function readEventFile(path: string): AsyncGenerator<ReadItem[]> {
  const lines = /\.(jsonl|ndjson)(\.gz)?$/.test(path);
  return itemsOf(gunzipped(createReadStream(path, { highWaterMark: MiB })), path, lines ? 'lines' : 'auto');
}

async function* walk(folder: string): AsyncGenerator<string> {
  const entries = (await readdir(folder, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile() && EVENT_FILE.test(entry.name)) yield path;
  }
}

/**
 * Reads every INPUT: a file, a folder (recursively, *.json, *.jsonl, *.gz), or `-` for JSON lines on stdin
 * (gzipped or not), a batch of items at a time with record and line texts left to parse (parseItem).
 */
export async function* readInputBatches(inputs: readonly string[], stdin: NodeJS.ReadableStream = process.stdin): AsyncGenerator<ReadItem[]> {
  for (const input of inputs) {
    if (input === '-') {
      yield* itemsOf(gunzipped(stdin as AsyncIterable<Buffer | string>), 'stdin', 'lines');
      continue;
    }
    let info: Stats;
    try {
      info = await stat(input);
    } catch {
      yield [{ kind: 'error', source: input, problem: 'no such file or folder' }];
      continue;
    }
    if (info.isDirectory()) {
      for await (const path of walk(input)) yield* readEventFile(path);
    } else {
      yield* readEventFile(input);
    }
  }
}

/** Reads every INPUT (readInputBatches), one parsed item at a time. */
export async function* readInputs(inputs: readonly string[], stdin: NodeJS.ReadableStream = process.stdin): AsyncGenerator<InputItem> {
  for await (const batch of readInputBatches(inputs, stdin)) for (const item of batch) yield* parseItem(item);
}
