import { RULES } from '../functions/rules.js';
import { consoleOut } from '../shared/log.js';
import { OUTCOMES, type Outcome, type RemediationRecord } from '../shared/remediation-log.js';
import type { Severity } from '../shared/rule.js';
import { terminalText } from '../shared/safe-text.js';
import { colourFor, count, SEVERITY_STYLE, Terminal, widthOf, type Shown, type Style } from './terminal.js';

/**
 * A writer that shows controls and escape sequences as `\uXXXX` (see shared/safe-text.ts): every CLI output
 * can carry event values, names from log files or AWS answers, and a terminal must not act on them.
 */
export function terminalSafe(write: (text: string) => void): (text: string) => void {
  return (text) => write(terminalText(text));
}

/** How replay prints records: the log record as JSON lines, or a table for people. */
export type Format = 'text' | 'jsonl';

/** Most urgent first, as the summary lists them. */
export const SEVERITIES: readonly Severity[] = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'];

/** A terminal that writes uncoloured and uncut to `out` (tests, and callers that pass their own writer). */
export function plainTerminal(out: (text: string) => void = consoleOut.stdout): Terminal {
  return new Terminal(false, undefined, out);
}

/**
 * Standard output as a terminal: colour and width from the stream (see `colourFor`). Uncoloured text goes
 * through `consoleOut.stdout` (the CLI's one writer, which tests capture); coloured text is written as built,
 * its values already made safe, since that writer would show our own colour sequences as text.
 */
export function standardOutput(env: Readonly<Record<string, string | undefined>> = process.env, to: NodeJS.WritableStream = process.stdout): Terminal {
  const stream = to as NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  const colour = colourFor(stream.isTTY, env);
  const raw = (text: string) => {
    stream.write(text);
  };
  return new Terminal(
    colour,
    stream.isTTY ? stream.columns || 80 : undefined,
    colour ? raw : stream === process.stdout ? consoleOut.stdout : terminalSafe(raw),
  );
}

/**
 * Why a write failed, as the message names it: the code (ENOSPC, EIO) when the error has one. Errors from the
 * stream carry no attacker text, but the message is made safe where it is printed all the same.
 */
export const writeProblem = (error: NodeJS.ErrnoException): string => error.code ?? error.message;

/** The exit code of a run whose records could not be written (EXIT.badInput; output.ts does not import replay's EXIT). */
const EXIT_WRITE_FAILED = 2;

/** Streams with a lasting listener (writes may still be flushing after replay), by how many watchers they have now. */
const watchers = new WeakMap<NodeJS.WritableStream, number>();

/**
 * A lasting error listener on a stream the CLI writes to: a closed reader's EPIPE is taken quietly (stderr too:
 * `… 2>&1 | head`, where the next message would otherwise crash the run); any other error, once no watcher
 * reports it, is said on `report` and makes the exit code 2, never dropped. Installed once per stream.
 */
export function quietOnClosedReader(stream: NodeJS.WritableStream, report?: (problem: string) => void): void {
  if (watchers.has(stream)) return;
  watchers.set(stream, 0);
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE' || (watchers.get(stream) ?? 0) > 0) return;
    if (!report) throw error;
    report(writeProblem(error));
    process.exitCode = EXIT_WRITE_FAILED;
  });
}

/**
 * The stream replay writes records to, watched: `closed` once its reader is gone (`| head`: EPIPE) or it failed,
 * and `drained()` to wait while its reader is behind (`| less`), so records are not buffered without bound.
 */
export class WatchedOutput {
  closed = false;
  /** Why writing failed (the error's code), if not because the reader left. */
  failure: string | undefined;
  private readonly onError = (error: NodeJS.ErrnoException) => {
    this.closed = true;
    if (error.code !== 'EPIPE') this.failure ??= writeProblem(error);
  };

  constructor(private readonly stream: NodeJS.WritableStream) {
    quietOnClosedReader(stream, (problem) => consoleOut.stderr(`trailguard: cannot write the records: ${problem}\n`));
    watchers.set(stream, (watchers.get(stream) ?? 0) + 1);
    stream.on('error', this.onError);
  }

  /**
   * Resolves once everything written so far has been written (or failed: then `failure` says why). A write's
   * error arrives a tick after it: without this wait the last flush's would come after `stopWatching`, unheard.
   */
  written(): Promise<void> {
    const stream = this.stream as NodeJS.WritableStream & { destroyed?: boolean };
    if (this.closed || stream.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      stream.write('', (error?: Error | null) => {
        // The stream's own 'error' (the failed write's code, not a later write's ERR_STREAM_DESTROYED) comes
        // on the next tick: heard first, while still watched.
        setImmediate(() => {
          // A reader gone (EPIPE, heard above) is no failure, whatever this empty write was told after it.
          if (error && !this.closed) this.onError(error);
          resolve();
        });
      });
    });
  }

  /** Resolves when what is written has drained (or the stream ended); undefined when nothing waits. */
  drained(): Promise<void> | undefined {
    const stream = this.stream as NodeJS.WritableStream & { writableNeedDrain?: boolean; destroyed?: boolean };
    if (this.closed || stream.destroyed || !stream.writableNeedDrain) return undefined;
    return new Promise((resolve) => {
      const done = () => {
        stream.off('drain', done);
        stream.off('close', done);
        stream.off('error', done);
        resolve();
      };
      stream.on('drain', done);
      stream.on('close', done);
      stream.on('error', done);
    });
  }

  stopWatching(): void {
    this.stream.off('error', this.onError);
    watchers.set(this.stream, Math.max(0, (watchers.get(this.stream) ?? 1) - 1));
  }
}

const FLUSH_AT = 64 * 1024;
const SEVERITY_WIDTH = Math.max(...SEVERITIES.map((s) => s.length));
const OUTCOME_WIDTH = Math.max(...OUTCOMES.map((o) => o.length));
// Rule ids are known: the column holds the longest whole, so no id is ever cut into another's.
const RULE_WIDTH = Math.max(...RULES.map((rule) => rule.id.length));
const EVENT_WIDTH = 24;
const RESOURCE_WIDTH = 24;
const LEAD_WIDTH = SEVERITY_WIDTH + 1 + OUTCOME_WIDTH + 1 + RULE_WIDTH;
// Reasons run to 250 characters: beside the other columns they need 80 columns, or they wrap into a tall narrow
// block; a narrower terminal gets them on the full width below the record's first line.
const ONE_LINE_MIN_WIDTH = LEAD_WIDTH + 1 + EVENT_WIDTH + 1 + RESOURCE_WIDTH + 1 + 80;
const INDENT = SEVERITY_WIDTH + 1;

const OUTCOME_STYLE: Readonly<Record<Outcome, Style | undefined>> = {
  remediated: 'good',
  reverted: 'good',
  failed: 'bad',
  'would-remediate': 'warn',
  alerted: undefined,
  compliant: 'dim',
  exempt: 'dim',
  ignored: 'dim',
};

/**
 * A record line longer than this is written again with each string value over VALUE_LIMIT cut: one hostile event
 * (a name of millions of control characters, each escaped to six when shown) cannot grow replay's output, or its
 * memory, without bound. Real records are a few KB; only lines past the limit pay for the second pass.
 */
export const LINE_LIMIT = 256 * 1024;
export const VALUE_LIMIT = 16 * 1024;
const cutLongValues = (_key: string, value: unknown): unknown =>
  typeof value === 'string' && value.length > VALUE_LIMIT ? `${value.slice(0, VALUE_LIMIT)}…(${value.length - VALUE_LIMIT} more characters)` : value;

/** Records as `--format jsonl` prints them, one JSON line each (made terminal-safe when written, as all output is). */
export function recordLines(records: readonly RemediationRecord[]): string {
  let text = '';
  for (const record of records) {
    const line = JSON.stringify(record);
    text += `${line.length > LINE_LIMIT ? JSON.stringify(record, cutLongValues) : line}\n`;
  }
  return text;
}

/**
 * A worker's `--format jsonl` output for one batch of read items, as one message: the records' JSON lines (made
 * terminal-safe in the worker), their counts, and in input order what replay tells on stderr. One string and a few
 * numbers cost far less to pass between threads (structured clone) than an object per event.
 */
export interface PrintedBatch {
  readonly kind: 'printed';
  readonly lines: string;
  readonly events: number;
  /** Events some rule's pattern matched (the progress line counts them). */
  readonly matched: number;
  readonly records: number;
  /** Records per outcome and per severity, in OUTCOMES' and SEVERITIES' order. */
  readonly outcomes: readonly number[];
  readonly severities: readonly number[];
  readonly notes: readonly BatchNote[];
  /** Whether a record's remediation failed (exit 1, unless the input was bad). */
  readonly failed: boolean;
}

/** What a batch tells on stderr: an item that could not be read or routed, a skipped file, an event that did not parse. */
export type BatchNote =
  | { readonly kind: 'error'; readonly source: string; readonly problem: string }
  | { readonly kind: 'skipped'; readonly source: string; readonly note: string }
  | { readonly kind: 'invalid'; readonly source: string; readonly message: string };

const OUTCOME_INDEX: ReadonlyMap<Outcome, number> = new Map(OUTCOMES.map((outcome, i) => [outcome, i]));
const SEVERITY_INDEX: ReadonlyMap<Severity, number> = new Map(SEVERITIES.map((severity, i) => [severity, i]));

/** Builds a PrintedBatch, event by event, in input order. */
export class BatchPrinter {
  private lines = '';
  private events = 0;
  private matched = 0;
  private records = 0;
  private outcomes = OUTCOMES.map(() => 0);
  private severities = SEVERITIES.map(() => 0);
  private notes: BatchNote[] = [];
  private failed = false;

  /** One event's records, printed as recordLines prints them. */
  event(source: string, records: readonly RemediationRecord[]): void {
    this.events += 1;
    this.lines += recordLines(records);
    let matched = false;
    for (const record of records) {
      this.records += 1;
      if (record.rule !== null) matched = true;
      const outcome = OUTCOME_INDEX.get(record.outcome) as number;
      this.outcomes[outcome] = (this.outcomes[outcome] ?? 0) + 1;
      if (record.severity) {
        const severity = SEVERITY_INDEX.get(record.severity) as number;
        this.severities[severity] = (this.severities[severity] ?? 0) + 1;
      }
      if (record.error?.kind === 'parse') this.notes.push({ kind: 'invalid', source, message: record.error.message });
      else if (record.outcome === 'failed') this.failed = true;
    }
    if (matched) this.matched += 1;
  }

  note(note: BatchNote): void {
    this.notes.push(note);
  }

  /** What was added since the last take, the lines made terminal-safe here (off the printing thread). */
  take(): PrintedBatch {
    const batch: PrintedBatch = {
      kind: 'printed',
      lines: terminalText(this.lines),
      events: this.events,
      matched: this.matched,
      records: this.records,
      outcomes: this.outcomes,
      severities: this.severities,
      notes: this.notes,
      failed: this.failed,
    };
    this.lines = '';
    this.events = 0;
    this.matched = 0;
    this.records = 0;
    this.outcomes = OUTCOMES.map(() => 0);
    this.severities = SEVERITIES.map(() => 0);
    this.notes = [];
    this.failed = false;
    return batch;
  }
}

export interface PrinterOptions {
  /** `--all`: list the events no rule's pattern matches too (by default only counted). */
  readonly all?: boolean;
  /** What one `printEvent` call is, for the summary's count. @default 'event' */
  readonly unit?: 'event' | 'message' | 'finding';
}

/** Prints records as JSON lines (exactly the log records, nothing else), or a table that fits the terminal. */
export class RecordPrinter {
  private buffer = '';
  private readonly outcomes = new Map<Outcome, number>(OUTCOMES.map((o) => [o, 0]));
  private readonly severities = new Map<Severity, number>(SEVERITIES.map((s) => [s, 0]));
  private events = 0;
  private records = 0;
  private unlisted = 0;
  private headerDone = false;

  constructor(
    private readonly format: Format,
    private readonly terminal: Terminal = plainTerminal(),
    private readonly options: PrinterOptions = {},
  ) {}

  /** The records one event (or message, or finding) gave, and where it came from. */
  printEvent(records: readonly RemediationRecord[], source: string): void {
    const matched = this.tally(records);
    if (this.format === 'jsonl') this.buffer += recordLines(records);
    else if (matched || this.options.all) for (const record of records) this.buffer += this.row(record, source);
    if (this.buffer.length >= FLUSH_AT) this.flush();
  }

  /** A batch a replay worker printed (`--format jsonl` only): its counts added, its terminal-safe lines written as they are. */
  printBatch(batch: PrintedBatch): void {
    if (this.format !== 'jsonl') throw new Error('printBatch prints --format jsonl only');
    this.events += batch.events;
    if (!this.options.all) this.unlisted += batch.events - batch.matched;
    this.records += batch.records;
    batch.outcomes.forEach((n, i) => {
      const outcome = OUTCOMES[i] as Outcome;
      if (n > 0) this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + n);
    });
    batch.severities.forEach((n, i) => {
      const severity = SEVERITIES[i] as Severity;
      if (n > 0) this.severities.set(severity, (this.severities.get(severity) ?? 0) + n);
    });
    // Written apart from the buffer, which terminalText checks again: these lines were made safe in the worker.
    this.flush();
    if (batch.lines) this.terminal.write(batch.lines as Shown);
  }

  /** Counts one event's records for the summary; whether any rule's pattern matched it. */
  private tally(records: readonly RemediationRecord[]): boolean {
    this.events += 1;
    const matched = records.some((record) => record.rule !== null);
    if (!matched) this.unlisted += this.options.all ? 0 : 1;
    for (const record of records) {
      this.records += 1;
      this.outcomes.set(record.outcome, (this.outcomes.get(record.outcome) ?? 0) + 1);
      if (record.severity) this.severities.set(record.severity, (this.severities.get(record.severity) ?? 0) + 1);
    }
    return matched;
  }

  /** Writes what is buffered; `text` adds the summary: counts per outcome and per severity, and what was not listed. */
  finish(): void {
    if (this.format === 'text') this.buffer += this.summary();
    this.flush();
  }

  private summary(): string {
    const t = this.terminal;
    const outcomes = [...this.outcomes].filter(([, n]) => n > 0).map(([outcome, n]) => `${n.toLocaleString('en-US')} ${outcome}`);
    const severities = [...this.severities]
      .filter(([, n]) => n > 0)
      .map(([severity, n]) => `${n.toLocaleString('en-US')} ${t.paint(SEVERITY_STYLE[severity], severity)}`);
    const lines = [
      `${count(this.events, this.options.unit ?? 'event')}, ${count(this.records, 'record')}${outcomes.length > 0 ? `: ${outcomes.join(', ')}` : ''}`,
      `by severity: ${severities.join(', ') || 'none'}`,
      ...(this.unlisted > 0 ? [`not listed: ${count(this.unlisted, this.options.unit ?? 'event')} no rule's pattern matches (--all lists them)`] : []),
    ];
    const width = t.width;
    return `\n${lines.flatMap((line) => (width === undefined ? [line] : wrap(line, width))).join('\n')}\n`;
  }

  private row(record: RemediationRecord, source: string): string {
    const t = this.terminal;
    const header = this.headerDone ? '' : this.header();
    this.headerDone = true;
    const severity = record.severity ? t.paint(SEVERITY_STYLE[record.severity], record.severity) : t.paint('dim', '-');
    const style = OUTCOME_STYLE[record.outcome];
    const outcome = style ? t.paint(style, record.outcome) : t.value(record.outcome);
    const lead = [pad(severity, SEVERITY_WIDTH), pad(outcome, OUTCOME_WIDTH), pad(t.value(record.rule ?? '-'), RULE_WIDTH)].join(' ');
    const resource = record.resources.map((r) => r.id).join(',') || '-';
    const width = t.width;
    if (width === undefined) {
      const reason = `${t.value(record.reason)}  ${t.paint('dim', `[${source}]`)}`;
      // Piped: one line, nothing cut, so grep and cut see every value whole.
      return `${header}${lead} ${pad(t.value(record.eventName ?? '-'), EVENT_WIDTH)} ${pad(t.value(resource), RESOURCE_WIDTH)} ${reason}\n`;
    }
    if (width >= ONE_LINE_MIN_WIDTH) {
      const at = LEAD_WIDTH + 1 + EVENT_WIDTH + 1 + RESOURCE_WIDTH + 1;
      const first = `${lead} ${pad(cut(t.value(record.eventName ?? '-'), EVENT_WIDTH), EVENT_WIDTH)} ${pad(cut(t.value(resource), RESOURCE_WIDTH), RESOURCE_WIDTH)} `;
      return `${header}${this.reasonLines(record.reason, source, width - at)
        .map((line, i) => (i === 0 ? first : ' '.repeat(at)) + line)
        .join('\n')}\n`;
    }
    const first = cut(`${lead} ${t.value(record.eventName ?? '-')} ${t.value(resource)}`, width);
    return `${header}${first}\n${this.reasonLines(record.reason, source, width - INDENT)
      .map((line) => ' '.repeat(INDENT) + line)
      .join('\n')}\n`;
  }

  /** The reason wrapped to `width`, then the source (dim): after the reason's last line if it fits, else below it. */
  private reasonLines(reason: string, source: string, width: number): string[] {
    const t = this.terminal;
    const lines = wrap(t.value(reason), width);
    const where = t.value(`[${source}]`);
    const last = lines.length - 1;
    if (widthOf(`${lines[last] ?? ''}  ${where}`) <= width) {
      lines[last] = `${lines[last] ?? ''}  ${t.paint('dim', where)}`;
      return lines;
    }
    // On its own line, its end kept: the file name (or event id) tells one source from the next.
    return [...lines, t.paint('dim', widthOf(where) <= width ? where : `…${where.slice(where.length - width + 1)}`)];
  }

  private header(): string {
    const t = this.terminal;
    // Each label painted alone: painting joins runs of spaces, which would undo the padding.
    const label = (text: string, width = 0) => pad(t.paint('bold', text), width);
    const lead = [label('SEVERITY', SEVERITY_WIDTH), label('OUTCOME', OUTCOME_WIDTH), label('RULE', RULE_WIDTH)].join(' ');
    const width = t.width;
    if (width !== undefined && width < ONE_LINE_MIN_WIDTH)
      return `${cut(`${lead} ${label('EVENT')} ${label('RESOURCE')}`, width)}\n${' '.repeat(INDENT)}${label('REASON [SOURCE]')}\n`;
    return `${lead} ${label('EVENT', EVENT_WIDTH)} ${label('RESOURCE', RESOURCE_WIDTH)} ${label('REASON [SOURCE]')}\n`;
  }

  private flush(): void {
    // Text was made safe as it was built (values escaped, then coloured); JSON lines keep their values with
    // C1 and Unicode format characters as \u escapes, so they stay JSON with the same values.
    if (this.buffer) this.terminal.write((this.format === 'jsonl' ? terminalText(this.buffer) : this.buffer) as Shown);
    this.buffer = '';
  }
}

/** Shown text padded to a visible width (colour takes no columns). */
function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - widthOf(text)));
}

/** Shown text cut to a visible width with "…". Colour sequences are kept whole and closed. */
export function cut(text: string, width: number): string {
  if (widthOf(text) <= width) return text;
  let shown = 0;
  let result = '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the colour sequences this splits on
  for (const part of text.split(/(\x1b\[[0-9;]*m)/)) {
    if (part.startsWith('\x1b[')) {
      result += part;
      continue;
    }
    const room = width - 1 - shown;
    if (room <= 0) continue;
    result += part.slice(0, room);
    shown += Math.min(part.length, room);
  }
  // A colour left open (its reset was cut off) is closed, so it does not run into the next column.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the colour sequences this looks for
  const open = /\x1b\[(?!0m)[0-9;]*m(?!.*\x1b\[0m)/s.test(result);
  return `${result}…${open ? '\x1b[0m' : ''}`;
}

/** Shown text broken into lines of at most `width` visible columns, at spaces where it can be. */
export function wrap(text: string, width: number): string[] {
  const room = Math.max(10, width);
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const candidate = line === '' ? word : `${line} ${word}`;
    if (widthOf(candidate) <= room) {
      line = candidate;
      continue;
    }
    if (line !== '') lines.push(line);
    let rest = word;
    // A word longer than the line (an ARN, a path) is split where the line ends; a coloured one is left whole.
    while (widthOf(rest) > room && !rest.includes('\x1b')) {
      lines.push(rest.slice(0, room));
      rest = rest.slice(room);
    }
    line = rest;
  }
  lines.push(line);
  return lines;
}

/**
 * Text of ours fitted to a terminal: prose lines wrapped at spaces with a hanging indent; a shell command
 * (`$ aws …`) and JSON lines stay whole, since a person pastes them and a broken line would not run.
 */
export function fitText(text: string, width: number | undefined): string {
  if (width === undefined) return text;
  return text
    .split('\n')
    .map((line) => {
      if (widthOf(line) <= width || /^\s*(\$ |[[\]{}"])/.test(line)) return line;
      const indent = /^ */.exec(line)?.[0].length ?? 0;
      const hanging = ' '.repeat(Math.min(indent + 2, Math.floor(width / 2)));
      return wrap(line.slice(indent), width - hanging.length)
        .map((part, i) => (i === 0 ? ' '.repeat(indent) : hanging) + part)
        .join('\n');
    })
    .join('\n');
}
