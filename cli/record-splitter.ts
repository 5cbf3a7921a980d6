/**
 * Splits a CloudTrail log file (`{"Records": [...]}`) into the text of each record as the bytes arrive, so a
 * log of any size is read in the memory of one record. It scans bytes, not characters: every JSON structural
 * character is ASCII and no byte of a multi-byte UTF-8 sequence is below 0x80, so a character split across two
 * chunks is decoded whole once the record's bytes are joined. Strings and their escapes are tracked so that a
 * bracket or quote inside a value never moves a boundary. Each record's text still goes through JSON.parse
 * (the caller's): the splitter only finds where records start and end, and refuses what breaks the structure.
 */

/** What one chunk gave: the records it completed, and the structural problem that stops the file, if any. */
export interface Split {
  readonly records: string[];
  readonly problem?: string;
  /**
   * Bytes after the log's closing `}` that are not whitespace (log files concatenated one per line), from
   * line `restLine` on: the caller reads them as JSON lines. Nothing more goes to this splitter.
   */
  readonly rest?: Buffer;
  readonly restLine?: number;
}

/** `{`, optional whitespace, `"Records"`, whitespace, `:`, whitespace, `[`: how a log file starts. */
const LOG_START = /^\{[ \t\r\n]*"Records"[ \t\r\n]*:[ \t\r\n]*\[/;
/** A start that may still become LOG_START with more bytes. */
const LOG_START_SO_FAR = /^(?:\{[ \t\r\n]*(?:"(?:R(?:e(?:c(?:o(?:r(?:d(?:s(?:"[ \t\r\n]*(?::[ \t\r\n]*)?)?)?)?)?)?)?)?)?)?)?$/;

/** Whether text (the file's first bytes, BOM removed) starts a log file: true, false, or undefined (need more). */
export function startsLog(head: string): boolean | undefined {
  if (LOG_START.test(head)) return true;
  return LOG_START_SO_FAR.test(head) ? undefined : false;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const isSpace = (byte: number) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
/** A byte that ends a bare scalar (number, true, false, null) inside the array. */
const endsScalar = (byte: number) => isSpace(byte) || byte === COMMA || byte === CLOSE_ARRAY;

enum At {
  /** Before the first byte: the `{"Records":[` prefix is still to be matched. */
  Prefix,
  /** Inside the array, before a record (after `[` or a comma). */
  BeforeRecord,
  /** Inside a record. */
  InRecord,
  /** After a record: a comma or `]`. */
  AfterRecord,
  /** After `]`: the rest of the top-level object (`}`, or more keys), then only whitespace. */
  Tail,
  /** After the top-level object: only whitespace. */
  End,
  /** A problem was reported: nothing more is read. */
  Stopped,
}

export class RecordSplitter {
  private at = At.Prefix;
  private prefix: Buffer = Buffer.alloc(0);
  /** The current record's bytes from earlier chunks. */
  private parts: Buffer[] = [];
  private partsLength = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The current record is a bare scalar (a number or a literal). */
  private scalar = false;
  private first = true;
  /** The rest of the top-level object after the array: kept to check it, bounded. */
  private tail = '';
  private tailDepth = 0;
  private tailString = false;
  private tailEscaped = false;
  /** Records given so far (for messages). */
  count = 0;
  /** The line of the current byte (newlines are whitespace between tokens: JSON strings hold none raw). */
  private line = 1;

  /** @param maxRecordBytes a record larger than this stops the file (a log's records are kilobytes). */
  constructor(private readonly maxRecordBytes = 64 * 1024 * 1024) {}

  /** The records completed by `chunk` (the file's bytes in order, BOM removed). */
  push(chunk: Buffer): Split {
    const records: string[] = [];
    if (this.at === At.Stopped) return { records };
    let i = 0;
    if (this.at === At.Prefix) {
      this.prefix = this.prefix.length === 0 ? chunk : Buffer.concat([this.prefix, chunk]);
      const head = this.prefix.toString('latin1', 0, Math.min(this.prefix.length, 4096));
      const match = LOG_START.exec(head);
      if (!match) return startsLog(head) === false || this.prefix.length > 4096 ? this.stop(records, 'not a CloudTrail log file') : { records };
      chunk = this.prefix;
      i = match[0].length;
      for (const c of match[0]) if (c === '\n') this.line += 1;
      this.prefix = Buffer.alloc(0);
      this.at = At.BeforeRecord;
    }
    let start = this.at === At.InRecord ? 0 : -1;
    const n = chunk.length;
    while (i < n) {
      const byte = chunk[i] as number;
      switch (this.at) {
        case At.BeforeRecord:
        case At.AfterRecord: {
          if (isSpace(byte)) {
            if (byte === 0x0a) this.line += 1;
            break;
          }
          if (byte === CLOSE_ARRAY) {
            if (this.at === At.BeforeRecord && !this.first) return this.stop(records, `a comma before "]" after record ${this.count}`);
            this.at = At.Tail;
            break;
          }
          if (this.at === At.AfterRecord) {
            if (byte !== COMMA) return this.stop(records, `expected "," or "]" after record ${this.count}, found ${describe(byte)}`);
            this.at = At.BeforeRecord;
            break;
          }
          if (byte === COMMA) return this.stop(records, `a record is missing before a comma (record ${this.count})`);
          this.first = false;
          this.at = At.InRecord;
          start = i;
          this.depth = 0;
          this.inString = false;
          this.escaped = false;
          this.scalar = byte !== OPEN_OBJECT && byte !== OPEN_ARRAY && byte !== QUOTE;
          if (this.scalar) break;
          // The opening byte is counted by the loop below, from `start`.
          continue;
        }
        case At.InRecord: {
          if (this.scalar) {
            if (endsScalar(byte)) {
              records.push(this.take(chunk, start, i));
              this.at = At.AfterRecord;
              continue; // the ending byte is the separator, read again as such
            }
            break;
          }
          // The common case, a record inside this chunk: a tight loop to the byte that closes it.
          let j = i;
          let depth = this.depth;
          let inString = this.inString;
          let escaped = this.escaped;
          for (; j < n; j += 1) {
            const b = chunk[j] as number;
            if (inString) {
              if (escaped) escaped = false;
              else if (b === BACKSLASH) escaped = true;
              else if (b === QUOTE) {
                inString = false;
                if (depth === 0) break; // a string record ends at its quote
              }
            } else if (b === QUOTE) inString = true;
            else if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth += 1;
            else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
              depth -= 1;
              if (depth <= 0) break;
            }
          }
          this.depth = depth;
          this.inString = inString;
          this.escaped = escaped;
          if (j === n) {
            i = n;
            continue;
          }
          if (depth < 0) return this.stop(records, `unbalanced brackets in record ${this.count}`);
          records.push(this.take(chunk, start, j + 1));
          this.at = At.AfterRecord;
          i = j + 1;
          continue;
        }
        case At.Tail:
        case At.End: {
          if (this.at === At.End) {
            if (byte === 0x0a) this.line += 1;
            else if (!isSpace(byte)) {
              this.at = At.Stopped;
              return { records, rest: chunk.subarray(i), restLine: this.line };
            }
            break;
          }
          if (byte === 0x0a) this.line += 1;
          // After `]`: `}` ends the log, or more keys follow until the object's own `}` (checked at the end).
          if (this.tail === '' && isSpace(byte)) break;
          if (this.tail === '' && byte === CLOSE_OBJECT) {
            this.at = At.End;
            break;
          }
          this.tail += String.fromCharCode(byte);
          if (this.tail.length > 1024 * 1024) return this.stop(records, 'more than 1 MiB after the Records array');
          if (this.tailString) {
            if (this.tailEscaped) this.tailEscaped = false;
            else if (byte === BACKSLASH) this.tailEscaped = true;
            else if (byte === QUOTE) this.tailString = false;
          } else if (byte === QUOTE) this.tailString = true;
          else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) this.tailDepth += 1;
          else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
            this.tailDepth -= 1;
            if (this.tailDepth < 0) {
              const problem = this.checkTail();
              if (problem) return this.stop(records, problem);
              this.at = At.End;
            }
          }
          break;
        }
      }
      i += 1;
    }
    if (this.at === At.InRecord) {
      const rest = chunk.subarray(start);
      this.parts.push(rest);
      this.partsLength += rest.length;
      if (this.partsLength > this.maxRecordBytes) return this.stop(records, `record ${this.count} is larger than ${this.maxRecordBytes} bytes`);
    }
    return { records };
  }

  /** The input ended: undefined if the log was whole, else what is missing. */
  end(): string | undefined {
    switch (this.at) {
      case At.End:
      case At.Stopped:
        return undefined;
      case At.Prefix:
        return 'not a CloudTrail log file';
      case At.Tail:
        return 'the log ends before its closing "}"';
      default:
        return `the log ends inside its Records array (after ${this.count} records)`;
    }
  }

  private take(chunk: Buffer, start: number, end: number): string {
    this.count += 1;
    let text: string;
    if (this.parts.length === 0) text = chunk.toString('utf8', start, end);
    else {
      this.parts.push(chunk.subarray(0, end));
      text = Buffer.concat(this.parts).toString('utf8');
      this.parts = [];
      this.partsLength = 0;
    }
    // A pretty-printed record spans lines; CloudTrail's own are one line, so this search is usually one miss.
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) this.line += 1;
    return text;
  }

  /** The keys after the Records array, as JSON.parse sees them: a second Records would replace the first. */
  private checkTail(): string | undefined {
    const body = this.tail.slice(0, -1).trimStart();
    if (!body.startsWith(',')) return `expected "," or "}" after the Records array, found ${JSON.stringify(body.slice(0, 1))}`;
    // JSON.parse('{}') would take `{"Records":[…],}` as whole: a trailing comma is not JSON.
    if (body.slice(1).trim() === '') return 'a trailing "," after the Records array';
    let rest: unknown;
    try {
      rest = JSON.parse(`{${body.slice(1)}}`);
    } catch (error) {
      return `not JSON after the Records array: ${(error as Error).message}`;
    }
    if (rest && typeof rest === 'object' && 'Records' in rest) return 'a second "Records" key';
    return undefined;
  }

  private stop(records: string[], problem: string): Split {
    this.at = At.Stopped;
    this.parts = [];
    return { records, problem };
  }
}

function describe(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? JSON.stringify(String.fromCharCode(byte)) : `byte 0x${byte.toString(16).padStart(2, '0')}`;
}
