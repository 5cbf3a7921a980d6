/**
 * Makes attacker-chosen text safe to show. trailguard prints event values to terminals (replay, report, undo,
 * redrive, sweep) and mails them: there, controls are not text. ESC starts terminal sequences (OSC 0 sets the
 * window title, CSI 2J clears the screen, OSC 52 writes the clipboard in some terminals), U+009B is a one-byte
 * CSI, CR overwrites a line, and Unicode format characters (bidi overrides and isolates, zero-width spaces and
 * joiners, the BOM) reorder or hide text, so one line reads as another.
 */

// Cc: C0, DEL and C1; Cf: bidi marks/embeddings/overrides/isolates, zero-width characters, BOM, tag characters;
// Zl/Zp: U+2028/U+2029, line breaks to some mail clients and editors.
const UNSAFE_BUT_NEWLINE = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const FORMAT = /\p{Cf}/gu;
// Printable ASCII holds none of them: most output is, and this check is ~9× cheaper than the Unicode classes
// (replay prints a record per event: 200,000 lines of a log file).
const PRINTABLE_ASCII_OR_NEWLINE = /^[\x20-\x7e\n]*$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** `\uXXXX` for each UTF-16 unit: visible evidence in a terminal, and a valid escape inside a JSON string. */
const escaped = (char: string) => [...Array(char.length).keys()].map((i) => `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');

/**
 * Output for a terminal: every control and format character but `\n` written as `\uXXXX`. `\n` stays, so
 * apply it to text whose line breaks are ours (values go through `terminalValue` first). JSON stays valid
 * JSON with the same value: these characters occur in JSON text only inside strings, where `\uXXXX` is an escape.
 */
export function terminalText(text: string): string {
  return PRINTABLE_ASCII_OR_NEWLINE.test(text) ? text : text.replace(UNSAFE_BUT_NEWLINE, escaped);
}

/** One value on one line of terminal output: like `terminalText`, and `\n` escaped too. */
export function terminalValue(value: string): string {
  return PRINTABLE_ASCII.test(value) ? value : value.replace(UNSAFE, escaped);
}

/** Removes Unicode format characters (bidi controls, zero-width characters, BOM): they spoof lines in email. */
export function withoutFormatCharacters(text: string): string {
  return text.replace(FORMAT, '');
}
