import { terminalText, terminalValue } from '../shared/safe-text.js';
import type { Severity } from '../shared/rule.js';

/**
 * Text made safe for a terminal (controls and format characters shown as `\uXXXX`, see shared/safe-text.ts),
 * possibly with our own colour sequences. Only this module makes one: colour is added after a value is made
 * safe, so an event value can never carry an escape sequence to the terminal, and the writer need not (and must
 * not) escape it again.
 */
export type Shown = string & { readonly __shown: unique symbol };

export type Style = 'critical' | 'high' | 'medium' | 'low' | 'good' | 'bad' | 'warn' | 'dim' | 'bold';

// SGR codes: bright red on CRITICAL, red, yellow, cyan; green for fixed; dim for the quiet rest.
const SGR: Readonly<Record<Style, string>> = {
  critical: '1;31',
  high: '31',
  medium: '33',
  low: '36',
  good: '32',
  bad: '1;31',
  warn: '33',
  dim: '2',
  bold: '1',
};

export const SEVERITY_STYLE: Readonly<Record<Severity, Style>> = { CRITICAL: 'critical', HIGH: 'high', MEDIUM: 'medium', LOW: 'low' };

type Env = Readonly<Record<string, string | undefined>>;

/** Where text output goes, and what it may use there: colour only on a TTY, and never with NO_COLOR. */
export class Terminal {
  constructor(
    /** Whether to colour: see `colourFor`. */
    readonly colour: boolean,
    /** Columns to fit text into; undefined when not a terminal (piped output is never cut). */
    readonly width: number | undefined,
    private readonly out: (text: string) => void,
  ) {}

  /** One value on one line, made safe: the way every event or AWS value enters text output. */
  value(text: string): Shown {
    return terminalValue(text.replace(/[ \t\n\r]+/g, ' ')) as Shown;
  }

  /** Text of ours with line breaks, made safe (values in it still escaped). */
  text(text: string): Shown {
    return terminalText(text) as Shown;
  }

  /** A value made safe, then coloured when colour is on. */
  paint(style: Style, text: string): Shown {
    const safe = this.value(text);
    return (this.colour ? `\x1b[${SGR[style]}m${safe}\x1b[0m` : safe) as Shown;
  }

  /** A value made safe, cut to `columns` with "…" when it is longer (undefined: never cut), then painted if a style is given. */
  fitted(text: string, columns: number | undefined, style?: Style): Shown {
    const safe = this.value(text);
    const cut = columns === undefined || safe.length <= columns ? safe : `${safe.slice(0, Math.max(0, columns - 1))}…`;
    return (style !== undefined && this.colour ? `\x1b[${SGR[style]}m${cut}\x1b[0m` : cut) as Shown;
  }

  /** Writes shown text as it is: it was made safe when it was made. */
  write(text: Shown | readonly Shown[]): void {
    this.out(typeof text === 'string' ? text : text.join(''));
  }
}

/** Whether output to this stream may be coloured: a TTY, no NO_COLOR (any value, https://no-color.org), not TERM=dumb; FORCE_COLOR forces it. */
export function colourFor(isTTY: boolean | undefined, env: Env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return isTTY === true && env.TERM !== 'dumb';
}

/** The terminal for standard output (or error) of this process. */
export function terminalOf(stream: NodeJS.WriteStream, env: Env = process.env): Terminal {
  return new Terminal(colourFor(stream.isTTY, env), stream.isTTY ? stream.columns || 80 : undefined, (text) => stream.write(text));
}

/** Visible width of shown text: colour sequences take no columns. */
export function widthOf(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the colour sequences this removes
  return text.replace(/\x1b\[[0-9;]*m/g, '').length;
}

/** "1 event", "2 events"; `plural` when adding "s" is wrong ("1 policy", "2 policies"). */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? singular : plural}`;
}
