// The streaming readers against JSON.parse of the whole: a CloudTrail log file split record by record
// (cli/record-splitter.ts) and JSON lines cut at newlines, fed in arbitrary chunks (a multi-byte character or
// an escape split between two), with a BOM, any whitespace, brackets and quotes inside strings; and every
// real-shaped file in events/ and the real samples beside the checkout. Malformed input ends in an error item.
import fc from 'fast-check';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { eventsIn, gunzipped, type InputItem, itemsOf, parseItem, readInputs } from '../../cli/inputs.js';
import { RecordSplitter } from '../../cli/record-splitter.js';

const ROOT = join(import.meta.dirname, '..', '..');
const REAL_SAMPLES = join(ROOT, '..', 'shared', 'cloudtrail-samples');

/** Strings that stress the scanner: quotes, escapes, brackets, commas, multi-byte characters, controls. */
const tricky = fc.oneof(
  fc.string({ unit: fc.constantFrom('"', '\\', '[', ']', '{', '}', ',', ':', 'é', '😀', '中', 'a', '\n', ' ', '\u2028', '\u0000', '/') }),
  fc.string({ unit: 'grapheme' }),
);
const json: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tricky,
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(tricky, tie('value'), { maxKeys: 4 }),
  ),
})).value;

const WHITESPACE = fc.array(fc.constantFrom('', ' ', '\n', '\t', '\r\n', '  \n '), { minLength: 1, maxLength: 8 });

/** JSON text of `value` with whitespace from `ws` between tokens, and non-ASCII as \u escapes when `asEscapes`. */
function spaced(value: unknown, ws: readonly string[], asEscapes: boolean): string {
  let n = 0;
  const s = () => ws[n++ % ws.length] ?? '';
  const str = (text: string) => {
    const plain = JSON.stringify(text);
    return asEscapes ? plain.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : plain;
  };
  const walk = (v: unknown): string => {
    if (Array.isArray(v)) return `[${s()}${v.map((x) => walk(x)).join(`${s()},${s()}`)}${s()}]`;
    if (v !== null && typeof v === 'object')
      return `{${s()}${Object.entries(v)
        .map(([k, x]) => `${str(k)}${s()}:${s()}${walk(x)}`)
        .join(`${s()},${s()}`)}${s()}}`;
    if (typeof v === 'string') return str(v);
    return JSON.stringify(v);
  };
  return walk(value);
}

/** `bytes` cut at the given points (sorted, deduplicated), as chunks. */
function chunked(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const point of [...points, bytes.length]) {
    if (point > at) chunks.push(bytes.subarray(at, point));
    at = Math.max(at, point);
  }
  return chunks;
}

async function* fromChunks(chunks: readonly Buffer[]): AsyncGenerator<Buffer> {
  for (const chunk of chunks) yield chunk;
}

async function itemsFrom(chunks: readonly Buffer[], source: string, kind: 'lines' | 'auto'): Promise<InputItem[]> {
  const items: InputItem[] = [];
  for await (const batch of itemsOf(fromChunks(chunks), source, kind)) for (const item of batch) items.push(...parseItem(item));
  return items;
}

function splitAll(chunks: readonly Buffer[]): { records: string[]; problem: string | undefined } {
  const splitter = new RecordSplitter();
  const records: string[] = [];
  for (const chunk of chunks) {
    const split = splitter.push(chunk);
    records.push(...split.records);
    if (split.problem) return { records, problem: split.problem };
  }
  return { records, problem: splitter.end() };
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

describe('the record splitter agrees with JSON.parse of the whole log', () => {
  it('gives each element of Records, whatever the chunks, whitespace, escapes and strings', () => {
    fc.assert(
      fc.property(fc.array(json, { maxLength: 8 }), WHITESPACE, fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), (records, ws, asEscapes, cuts) => {
        const text = spaced({ Records: records }, ws, asEscapes);
        const { records: texts, problem } = splitAll(chunked(Buffer.from(text, 'utf8'), cuts));
        expect(problem).toBeUndefined();
        expect(texts.map((t) => JSON.parse(t))).toEqual((JSON.parse(text) as { Records: unknown[] }).Records);
      }),
      { numRuns: 2000 },
    );
  });

  it('cuts a multi-byte character between every pair of chunks it can', () => {
    const text = JSON.stringify({ Records: [{ name: 'é😀中"]}', other: ['\\', '{'] }, 'ü'] });
    const bytes = Buffer.from(text, 'utf8');
    for (let cut = 0; cut <= bytes.length; cut += 1) {
      const { records, problem } = splitAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(problem).toBeUndefined();
      expect(records.map((t) => JSON.parse(t))).toEqual(JSON.parse(text).Records);
    }
  });

  it('reads a log file whole or in chunks to the same items as eventsIn of JSON.parse, BOM or not, any value', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.record({ Records: fc.array(json, { maxLength: 6 }) }), fc.record({ Records: fc.array(json, { maxLength: 3 }), more: json }), json),
        WHITESPACE,
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (value, ws, bom, cuts) => {
          const text = spaced(value, ws, false);
          const bytes = Buffer.concat([bom ? BOM : Buffer.alloc(0), Buffer.from(text, 'utf8')]);
          const items = await itemsFrom(chunked(bytes, cuts), 'f.json', 'auto');
          expect(items).toEqual([...eventsIn(JSON.parse(text), 'f.json')]);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('stops with an error item, never hangs, when a log is cut short or broken anywhere', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(json, { minLength: 1, maxLength: 6 }), fc.nat(), fc.constantFrom('', 'x', ']', ',', '}', '"'), async (records, at, junk) => {
        const texts = records.map((r) => JSON.stringify(r));
        const text = `{"Records":[${texts.join(',')}]}`;
        const cut = 1 + (at % (text.length - 1));
        const broken = text.slice(0, cut) + junk;
        // Records wholly before the cut and known to be whole: the ones a reader must give as they were. An object,
        // array or string is whole at its closing character; a number or literal only at the "," or "]" after it
        // (`[1` cut from `[12`), so one the cut ends is not given.
        let end = '{"Records":['.length;
        const whole = texts.filter((t) => {
          end += t.length;
          const ended = end <= cut && (/["}\]]$/.test(t) || broken[end] === ',' || broken[end] === ']');
          end += 1;
          return ended;
        }).length;
        let parsed: unknown;
        try {
          parsed = JSON.parse(broken);
        } catch {
          parsed = undefined;
        }
        const items = await itemsFrom([Buffer.from(broken, 'utf8')], 'f.json', 'auto');
        if (parsed !== undefined) {
          expect(items).toEqual([...eventsIn(parsed, 'f.json')]);
          return;
        }
        expect(items.some((item) => item.kind === 'error')).toBe(true);
        // What was given before the problem are records of the log, in order.
        const given = items.filter((item) => item.kind === 'event').map((item) => (item as { value: unknown }).value);
        expect(given.slice(0, whole)).toEqual(texts.slice(0, whole).map((t) => JSON.parse(t)));
        // Exactly those, plus the record the cut broke only when the junk closed it (`[12` cut to `[1`, then "]").
        expect(given.length - whole).toBe(given.length > whole && junk !== '' && junk !== 'x' ? 1 : 0);
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a trailing comma after the Records array, as JSON.parse does', async () => {
    for (const text of ['{"Records":[{"a":1}],}', '{"Records":[{"a":1}] , \n}']) {
      expect(() => JSON.parse(text)).toThrow();
      const items = await itemsFrom([Buffer.from(text)], 'f.json', 'auto');
      expect(items.at(-1)).toMatchObject({ kind: 'error', source: 'f.json', problem: expect.stringContaining('trailing ","') });
    }
  });

  it('names a second Records key, and text after the log read as JSON lines with their line numbers', async () => {
    const twice = await itemsFrom([Buffer.from('{"Records":[{"a":1}],"Records":[]}')], 'f.json', 'auto');
    expect(twice.at(-1)).toMatchObject({ kind: 'error', source: 'f.json', problem: expect.stringContaining('a second "Records" key') });
    const concatenated = '{"Records":[{"a":1},\n{"a":2}]}\n{"Records":[{"a":3}]}\n\n{"b":4}\n';
    const items = await itemsFrom([Buffer.from(concatenated)], 'f.json', 'auto');
    expect(items.map((item) => item.source)).toEqual(['f.json#Records[0]', 'f.json#Records[1]', 'f.json:3#Records[0]', 'f.json:5']);
  });
});

describe('JSON lines stream line by line', () => {
  it('gives each line as JSON.parse of it, whatever the chunks, with its line number', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(json, fc.constant('')), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), async (values, cuts) => {
        const lines = values.map((v) => (v === '' ? '  ' : JSON.stringify(v)));
        const text = lines.join('\r\n');
        const items = await itemsFrom(chunked(Buffer.from(text, 'utf8'), cuts), 's', 'lines');
        const expected = lines.flatMap((line, i) => (line.trim() === '' ? [] : [...eventsIn(JSON.parse(line), `s:${i + 1}`)]));
        expect(items).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('gunzips what starts with the gzip magic, whatever the name, from a file and from stdin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inputs-stream-'));
    const lines = `${JSON.stringify({ eventName: 'A' })}\n${JSON.stringify({ eventName: 'B' })}\n`;
    const path = join(dir, 'named-plain.jsonl');
    writeFileSync(path, gzipSync(lines));
    const fromFile = [];
    for await (const item of readInputs([path])) fromFile.push(item);
    expect(fromFile).toEqual([
      { kind: 'event', source: `${path}:1`, value: { eventName: 'A' } },
      { kind: 'event', source: `${path}:2`, value: { eventName: 'B' } },
    ]);
    const gz = gzipSync(lines);
    const fromStdin = [];
    for await (const item of readInputs(['-'], Readable.from([gz.subarray(0, 1), gz.subarray(1, 7), gz.subarray(7)]))) fromStdin.push(item);
    expect(fromStdin.map((item) => item.source)).toEqual(['stdin:1', 'stdin:2']);
    // A gzip stream cut short is an error, not an end.
    const cut = [];
    for await (const batch of itemsOf(gunzipped(fromChunks([gz.subarray(0, gz.length - 6)])), 'cut', 'lines')) cut.push(...batch);
    expect(cut.at(-1)).toMatchObject({ kind: 'error', source: 'cut', problem: expect.stringContaining('cannot read') });
  });
});

/** Every JSON file under `dir`. */
function jsonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsonFiles(path);
    return name.endsWith('.json') ? [path] : [];
  });
}

describe('real-shaped files read streamed as they read whole', () => {
  const folders = [join(ROOT, 'events'), ...(existsSync(REAL_SAMPLES) ? [REAL_SAMPLES] : [])];
  const files = folders.flatMap(jsonFiles);

  it('finds the files', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  it('gives the same items for every file, in one chunk and byte by byte in 7-byte chunks', async () => {
    for (const file of files) {
      const bytes = readFileSync(file);
      const expected = [...eventsIn(JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, '')), file)];
      expect(await itemsFrom([bytes], file, 'auto'), file).toEqual(expected);
      const small = Array.from({ length: Math.ceil(bytes.length / 7) }, (_, i) => bytes.subarray(i * 7, i * 7 + 7));
      expect(await itemsFrom(small, file, 'auto'), file).toEqual(expected);
    }
  });
});

describe('large and hostile files', () => {
  it('reads a whole-parsed file of 200,000 items (an array, LookupEvents, a log whose first key is not Records)', async () => {
    const n = 200_000;
    const event = '{"eventName":"x"}';
    const array = `[${Array.from({ length: n }, () => event).join(',')}]`;
    const lookup = `{"Events":[${Array.from({ length: n }, () => `{"CloudTrailEvent":${JSON.stringify(event)}}`).join(',')}]}`;
    const log = `{"Other":1,"Records":${array}}`;
    for (const text of [array, lookup, log]) {
      let count = 0;
      for await (const batch of itemsOf(fromChunks([Buffer.from(text)]), 'big.json', 'auto')) count += batch.length;
      expect(count).toBe(n);
    }
  });

  it('gives an error item, not a stack overflow, for arrays nested 100,000 deep', async () => {
    const deep = `${'['.repeat(100_000)}{}${']'.repeat(100_000)}`;
    const items = await itemsFrom([Buffer.from(deep)], 'deep.json', 'auto');
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ kind: 'error', problem: expect.stringContaining('nested deeper') });
  });

  it('closes each file a reader stops early (a broken log, plain or gzipped): no descriptor left open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inputs-fd-'));
    // Broken at once, then more than one read's worth: the reader stops while the file is still being read.
    const broken = `{"Records":[{"eventName":"A"} x ,{"a":"${'x'.repeat(2_500_000)}"}]}`;
    for (let i = 0; i < 20; i += 1) writeFileSync(join(dir, `b${String(i).padStart(2, '0')}.json${i % 2 ? '.gz' : ''}`), i % 2 ? gzipSync(broken) : broken);
    const open = () => readdirSync('/proc/self/fd').length;
    const before = open();
    let errors = 0;
    for await (const item of readInputs([dir])) if (item.kind === 'error') errors += 1;
    expect(errors).toBe(20);
    // A stream's close is asynchronous: give it a turn of the event loop.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(open()).toBeLessThanOrEqual(before);
  });
});
