import type { Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { gunzipSync } from 'node:zlib';

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

/**
 * The events inside one parsed JSON value: a log-file body `{"Records": [...]}`, a JSON array, a
 * LookupEvents answer `{"Events": [{"CloudTrailEvent": "<json string>"}]}` (double-encoded), or one event.
 */
export function* eventsIn(value: unknown, source: string): Generator<InputItem> {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) yield* eventsIn(item, `${source}[${index}]`);
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

function* jsonLines(text: string, source: string): Generator<InputItem> {
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue;
    const at = `${source}:${index + 1}`;
    try {
      yield* eventsIn(JSON.parse(withoutBom(line)), at);
    } catch (error) {
      yield { kind: 'error', source: at, problem: `not JSON: ${(error as Error).message}` };
    }
  }
}

/**
 * The items of one file. A plain async function returning a sync iterable, not an async generator: each
 * level of async-generator delegation costs a promise turn per item, which a 200,000-record log file felt.
 */
async function readEventFile(path: string): Promise<Iterable<InputItem>> {
  let text: string;
  try {
    const bytes = await readFile(path);
    const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b;
    text = withoutBom((gzipped ? gunzipSync(bytes) : bytes).toString('utf8'));
  } catch (error) {
    return [{ kind: 'error', source: path, problem: `cannot read: ${(error as Error).message}` }];
  }
  if (/\.(jsonl|ndjson)(\.gz)?$/.test(path)) return jsonLines(text, path);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // Compact one-record-per-line files (Elastic test logs) are JSON lines under a .json name.
    if (text.trim().includes('\n')) return jsonLines(text, path);
    return [{ kind: 'error', source: path, problem: `not JSON: ${(error as Error).message}` }];
  }
  return eventsIn(parsed, path);
}

async function* walk(folder: string): AsyncGenerator<string> {
  const entries = (await readdir(folder, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile() && EVENT_FILE.test(entry.name)) yield path;
  }
}

/** Reads every INPUT: a file, a folder (recursively, *.json, *.jsonl, *.gz), or `-` for JSON lines on stdin. */
export async function* readInputs(inputs: readonly string[], stdin: NodeJS.ReadableStream = process.stdin): AsyncGenerator<InputItem> {
  for (const input of inputs) {
    if (input === '-') {
      const lines = createInterface({ input: stdin, crlfDelay: Infinity });
      let number = 0;
      for await (const line of lines) {
        number += 1;
        if (line.trim() === '') continue;
        try {
          yield* eventsIn(JSON.parse(withoutBom(line)), `stdin:${number}`);
        } catch (error) {
          yield { kind: 'error', source: `stdin:${number}`, problem: `not JSON: ${(error as Error).message}` };
        }
      }
      continue;
    }
    let info: Stats;
    try {
      info = await stat(input);
    } catch {
      yield { kind: 'error', source: input, problem: 'no such file or folder' };
      continue;
    }
    if (info.isDirectory()) {
      for await (const path of walk(input)) for (const item of await readEventFile(path)) yield item;
    } else {
      for (const item of await readEventFile(input)) yield item;
    }
  }
}
