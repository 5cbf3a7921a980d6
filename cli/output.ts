import { consoleOut } from '../shared/log.js';
import { OUTCOMES, type Outcome, type RemediationRecord } from '../shared/remediation-log.js';
import { terminalText, terminalValue } from '../shared/safe-text.js';

/**
 * A writer that shows controls and escape sequences as `\uXXXX` (see shared/safe-text.ts): every CLI output
 * can carry event values, names from log files or AWS answers, and a terminal must not act on them.
 */
export function terminalSafe(write: (text: string) => void): (text: string) => void {
  return (text) => write(terminalText(text));
}

/** How replay prints records: the log record as JSON lines, or a table for people. */
export type Format = 'text' | 'jsonl';

const FLUSH_AT = 64 * 1024;

/** Buffers output so a 200,000-record replay is not 200,000 writes. */
export class RecordPrinter {
  private buffer = '';
  private readonly counts = new Map<Outcome, number>(OUTCOMES.map((o) => [o, 0]));
  private headerDone = false;

  constructor(private readonly format: Format, private readonly out: (text: string) => void = consoleOut.stdout) {}

  print(record: RemediationRecord, source: string): void {
    this.counts.set(record.outcome, (this.counts.get(record.outcome) ?? 0) + 1);
    if (this.format === 'jsonl') {
      this.buffer += `${JSON.stringify(record)}\n`;
    } else {
      if (!this.headerDone) {
        this.buffer += `${row('OUTCOME', 'RULE', 'EVENT', 'RESOURCE', 'REASON')}\n`;
        this.headerDone = true;
      }
      const resource = record.resources.map((r) => r.id).join(',') || '-';
      this.buffer += `${row(record.outcome, record.rule ?? '-', record.eventName ?? '-', resource, `${record.reason}  [${source}]`)}\n`;
    }
    if (this.buffer.length >= FLUSH_AT) this.flush();
  }

  /** Writes what is buffered; `text` adds a summary line of counts per outcome. */
  finish(): void {
    if (this.format === 'text') {
      const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
      const parts = [...this.counts].filter(([, n]) => n > 0).map(([outcome, n]) => `${n} ${outcome}`);
      this.buffer += `\n${total} events: ${parts.join(', ') || 'none'}\n`;
    }
    this.flush();
  }

  private flush(): void {
    // JSON lines stay JSON with the same values: C1 and Unicode format characters become \u escapes.
    if (this.buffer) this.out(terminalText(this.buffer));
    this.buffer = '';
  }
}

/** A value on one line, controls and escape sequences shown as `\uXXXX` (event values are attacker-chosen). */
const oneLine = (text: string) => terminalValue(text.replace(/[ \t\n\r]+/g, ' '));

function cell(text: string, width: number): string {
  const value = oneLine(text);
  return value.length > width ? `${value.slice(0, width - 1)}~` : value.padEnd(width);
}

function row(outcome: string, rule: string, event: string, resource: string, reason: string): string {
  return `${cell(outcome, 15)} ${cell(rule, 19)} ${cell(event, 29)} ${cell(resource, 28)} ${oneLine(reason)}`;
}
