import { terminalValue } from '../shared/safe-text.js';

/**
 * Progress on long runs (records read, events matched), on stderr when it is a terminal and never when it is
 * piped or redirected: a log file or a CI job gets the output, not a stream of carriage returns.
 */
export interface ProgressStream {
  readonly isTTY?: boolean | undefined;
  write(text: string): unknown;
}

export interface ProgressOptions {
  /** @default process.stderr */
  readonly stream?: ProgressStream;
  /** @default Date.now */
  readonly now?: () => number;
  /** Least time between two redraws. @default 200 */
  readonly intervalMs?: number;
}

/** A one-line counter redrawn in place; silent unless the stream is a TTY. */
export class Progress {
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly enabled: boolean;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private drawn = false;
  private read = 0;
  private matched = 0;
  private note = '';

  constructor(
    private readonly label: string,
    options: ProgressOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.now = options.now ?? Date.now;
    this.intervalMs = options.intervalMs ?? 200;
    this.enabled = this.stream.isTTY === true;
  }

  /** Counts one record read, and whether it matched (a rule, or the report's window). */
  record(matched: boolean): void {
    this.read += 1;
    if (matched) this.matched += 1;
    this.draw(false);
  }

  /** What is being read now (a page, a file), shown after the counts. */
  at(note: string): void {
    this.note = note;
    this.draw(false);
  }

  /** Clears the line (the final output follows on a clean line). */
  done(): void {
    if (!this.enabled || !this.drawn) return;
    this.stream.write('\r\u001b[2K');
    this.drawn = false;
  }

  private draw(force: boolean): void {
    if (!this.enabled) return;
    const now = this.now();
    if (!force && now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    this.drawn = true;
    // The note names a file, an S3 key or a page: attacker-chosen text, so its controls are shown, not obeyed.
    const note = this.note ? `  ${terminalValue(this.note.slice(0, 80))}` : '';
    this.stream.write(`\r\u001b[2K${this.label}: ${this.read} records read, ${this.matched} events matched${note}`);
  }
}
