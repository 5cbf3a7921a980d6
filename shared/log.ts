import { terminalText } from './safe-text.js';

/** Log levels in increasing severity; DEBUG is off unless TRAILGUARD_LOG_LEVEL says otherwise. */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

const LEVEL_RANK: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

/** Where log lines go: stdout in Lambda (CloudWatch Logs); tests and the CLI swap it. */
export type LogSink = (line: string) => void;

/**
 * A small structured JSON logger: one line per call, persistent keys, nothing at import time.
 * (Powertools' logger does the same for ~40 KB of bundle; cold start is the budget here.)
 */
export class Logger {
  private keys: Record<string, unknown> = {};
  private threshold: number;

  constructor(
    level: LogLevel = 'INFO',
    private sink: LogSink = (line) => process.stdout.write(`${line}\n`),
  ) {
    this.threshold = LEVEL_RANK[level];
  }

  /** Changes the minimum level written. */
  setLevel(level: LogLevel): void {
    this.threshold = LEVEL_RANK[level];
  }

  /** Replaces where lines are written (tests, CLI). */
  setSink(sink: LogSink): void {
    this.sink = sink;
  }

  /** Adds keys to every following line until removed. */
  appendKeys(keys: Record<string, unknown>): void {
    this.keys = { ...this.keys, ...keys };
  }

  /** Removes persistent keys. */
  removeKeys(names: readonly string[]): void {
    const next = { ...this.keys };
    for (const name of names) delete next[name];
    this.keys = next;
  }

  debug(message: string, fields: Record<string, unknown> = {}): void {
    this.write('DEBUG', message, fields);
  }
  info(message: string, fields: Record<string, unknown> = {}): void {
    this.write('INFO', message, fields);
  }
  warn(message: string, fields: Record<string, unknown> = {}): void {
    this.write('WARN', message, fields);
  }
  error(message: string, fields: Record<string, unknown> = {}): void {
    this.write('ERROR', message, fields);
  }

  /**
   * An INFO line written whatever the level: the remediation log is the operators' contract (one record per
   * event), not a diagnostic, so TRAILGUARD_LOG_LEVEL=WARN or ERROR must not silence it.
   */
  always(message: string, fields: Record<string, unknown> = {}): void {
    this.emit('INFO', message, fields);
  }

  private write(level: LogLevel, message: string, fields: Record<string, unknown>): void {
    if (LEVEL_RANK[level] < this.threshold) return;
    this.emit(level, message, fields);
  }

  private emit(level: LogLevel, message: string, fields: Record<string, unknown>): void {
    this.sink(JSON.stringify({ level, message, timestamp: new Date().toISOString(), ...this.keys, ...fields }));
  }
}

/** The process-wide logger used by the Lambda adapter and middlewares. */
export const logger = new Logger();

/**
 * The one place allowed to print to the console: the CLI's output goes through here. Controls and escape
 * sequences in it (event values, file names) are shown as `\uXXXX`, never acted on by the terminal.
 */
export const consoleOut = {
  stdout: (text: string): void => {
    process.stdout.write(terminalText(text));
  },
  stderr: (text: string): void => {
    process.stderr.write(terminalText(text));
  },
};
