/**
 * The shell commands of the documentation's fenced code blocks, and which of them this machine can run.
 * Commands in a fence not labelled as shell, and any npx form of trailguard other than `npx --no trailguard`, are
 * reported so the test can fail on them.
 * A command is run when it drives the CLI offline; anything else must match a stated reason to skip it, so a new
 * example is either run or consciously skipped, never silently ignored.
 */

/** One logical command: continuation lines joined, a compound loop kept whole, the trailing comment cut off. */
export interface DocCommand {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

// The fences whose lines are shell commands. Any other fence (a language, `text`, `console`, or none) is prose
// or data: a line in it that looks like a command fails the test (hiddenCommandsIn), so relabelling a fence
// cannot take a command out of the scan.
const SHELL_FENCES = new Set(['bash', 'sh', 'shell', 'zsh']);
const OPENERS = /^(for|while|until|if)\b/;
const CLOSERS = /^(done|fi)\b/;

/** A fenced code block: its info string's first word (lower case, '' when unlabelled) and its lines. */
export interface Fence {
  readonly file: string;
  readonly line: number;
  readonly label: string;
  readonly lines: readonly { readonly line: number; readonly text: string }[];
}

/** The ``` and ~~~ fences of a Markdown text (a fence closes on the same character, at least as long). */
export function fencesIn(markdown: string, file: string): Fence[] {
  const fences: Fence[] = [];
  let open: { line: number; label: string; marker: string; lines: { line: number; text: string }[] } | undefined;
  markdown.split('\n').forEach((raw, index) => {
    if (!open) {
      const opening = /^\s*(`{3,}|~{3,})\s*([^\s`]*)/.exec(raw);
      if (opening) open = { line: index + 1, label: (opening[2] ?? '').toLowerCase(), marker: opening[1] ?? '```', lines: [] };
      return;
    }
    const closing = /^\s*(`{3,}|~{3,})\s*$/.exec(raw);
    if (closing && closing[1]?.[0] === open.marker[0] && (closing[1]?.length ?? 0) >= open.marker.length) {
      fences.push({ file, line: open.line, label: open.label, lines: open.lines });
      open = undefined;
      return;
    }
    open.lines.push({ line: index + 1, text: raw });
  });
  if (open) fences.push({ file, line: open.line, label: open.label, lines: open.lines });
  return fences;
}

/** Cuts a `# comment` that starts after white space outside quotes (a `#` inside a word or quotes stays). */
export function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1] ?? ''))) {
      return line.slice(0, i).trimEnd();
    }
  }
  return line.trimEnd();
}

/** The commands of every shell fence (```bash, ```sh, ```shell, ```zsh, or ~~~) of a Markdown text. */
export function commandsIn(markdown: string, file: string): DocCommand[] {
  const commands: DocCommand[] = [];
  for (const fence of fencesIn(markdown, file)) {
    if (!SHELL_FENCES.has(fence.label)) continue;
    // A command being gathered: continuation lines (`\`) and the lines of a loop up to its `done`.
    let open: { text: string; line: number; depth: number } | undefined;
    for (const { line: number, text: raw } of fence.lines) {
      const line = withoutComment(raw).trim();
      const continued = line.endsWith('\\');
      const body = continued ? line.slice(0, -1).trimEnd() : line;
      if (body === '' && !open) continue;
      const depth = (open?.depth ?? 0) + (OPENERS.test(body) ? 1 : 0) - (CLOSERS.test(body) ? 1 : 0);
      // Joined with spaces: a gathered loop is only ever classified, never run, so it need not stay valid shell.
      const text = open ? `${open.text} ${body}`.trim() : body;
      if (continued || depth > 0) {
        open = { text, line: open?.line ?? number, depth };
        continue;
      }
      commands.push({ file, line: open?.line ?? number, text });
      open = undefined;
    }
    if (open) commands.push({ file, line: open.line, text: open.text });
  }
  return commands;
}

// A line that reads as a command: a prompt, or a command word this project's docs use first on a line.
const SHELL_LOOKING =
  /^(\$\s|(npx|npm|node|trailguard|aws|git|serverless|sls|curl|docker|pip3?|export|cd|bash|sh|sudo|tsx|vitest|moto_server|yarn|pnpm|make)(\s|$)|\.{0,2}\/\S+\s)/;
// Stated exception: a usage synopsis in a `text` fence (bare `trailguard COMMAND` with [optional] parts) is the
// CLI's own notation, not something to paste.
const SYNOPSIS = /^trailguard [a-z][\w-]* .*\[/;

/** The lines of non-shell fences (labelled otherwise or unlabelled) that look like shell commands. */
export function hiddenCommandsIn(markdown: string, file: string): DocCommand[] {
  return fencesIn(markdown, file)
    .filter((fence) => !SHELL_FENCES.has(fence.label))
    .flatMap((fence) =>
      fence.lines
        .map(({ line, text }) => ({ file, line, text: text.trim() }))
        .filter(({ text }) => SHELL_LOOKING.test(text) && !(fence.label === 'text' && SYNOPSIS.test(text))),
    );
}

/**
 * Every place of a text (prose and code) where npx or npm exec would run trailguard other than as exactly
 * `npx --no trailguard COMMAND`: without --no, npx outside the checkout fetches whatever package npm has under the
 * name; and an option right after the name (`--help`, `--version`) is taken by npx itself, never reaching the CLI.
 */
export function unsafeNpxIn(markdown: string, file: string): DocCommand[] {
  const found: DocCommand[] = [];
  markdown.split('\n').forEach((text, index) => {
    const at = (what: string) => found.push({ file, line: index + 1, text: `${what}: ${text.trim()}` });
    for (const m of text.matchAll(/\bnpx((?:\s+-[^\s`]*)*)\s+([^\s`]+)/g)) {
      const flags = m[1] ?? '';
      const name = m[2] ?? '';
      if (!`${flags} ${name}`.includes('trailguard')) continue;
      if (flags !== ' --no' || name !== 'trailguard') at(`not "npx --no trailguard"`);
    }
    for (const m of text.matchAll(/\bnpx --no trailguard\s+(-\S*)/g)) at(`npx takes ${m[1]} as its own option`);
    if (/\bnpm\s+(exec|x)\b[^`\n]*trailguard/.test(text)) at('npm exec: write npx --no trailguard');
  });
  return found;
}

/** Why a command part is not run here, or undefined when it is a CLI run this test performs. */
export type Verdict = { readonly run: true } | { readonly run: false; readonly reason: string } | { readonly unknown: true };

// The CLI as the docs write it. `npm run -s replay --` is `trailguard replay`.
const CLI = /^(npx --no trailguard|npm run -s (replay|trailguard) --|node bin\/trailguard\.mjs)(?=\s|$)/;

/** The words of a command line, quotes removed, up to its first redirect, pipe or separator. */
export function wordsOf(text: string): string[] {
  const words: string[] = [];
  for (const m of text.matchAll(/(?:[^\s"']+|"[^"]*"|'[^']*')+/g)) {
    const word = m[0];
    if (/^(\d?>>?|<|\||\|\||;|&)/.test(word)) break;
    words.push(word.replace(/["']/g, ''));
  }
  return words;
}

/** The CLI's arguments of a part (`replay` first for `npm run -s replay --`), or undefined when it is no CLI run. */
export function cliArguments(part: string): string[] | undefined {
  const prefix = CLI.exec(part);
  if (!prefix) return undefined;
  const rest = wordsOf(part.slice(prefix[0].length));
  return prefix[2] === 'replay' ? ['replay', ...rest] : rest;
}

// What makes a CLI run need AWS, read from its subcommand and its options, never from a word inside a path.
const AWS_COMMANDS: Readonly<Record<string, string>> = {
  redrive: 'needs the deployed dead-letter queue',
  sweep: "reads the account's resources",
  breaker: 'needs the deployed state table',
  exempt: "reads and writes the stack's Parameter Store exemptions",
};

function cliNeedsAws(args: readonly string[]): string | undefined {
  const command = args[0] ?? '';
  if (command in AWS_COMMANDS) return AWS_COMMANDS[command];
  for (let i = 1; i < args.length; i += 1) {
    const word = args[i] ?? '';
    const [name = '', inline] = word.startsWith('--') ? word.split(/=(.*)/s) : [word];
    const value = inline ?? args[i + 1];
    if (name === '--mode' && (value === 'live' || value === 'dry-run')) return 'dry-run and live call AWS';
    if (name === '--lookup' || name === '--lookup-all' || name === '--s3') return 'backtests read CloudTrail or S3';
    // --print-sql only prints the query: it runs here, offline.
    if ((name === '--athena' || name === '--lake') && !args.includes('--print-sql')) return 'backtests query Athena or CloudTrail Lake';
    if (name === '--apply') return 'undo --apply writes to AWS';
    if (name.startsWith('logs:') || inline?.startsWith('logs:')) return 'reads CloudWatch Logs';
  }
  return undefined;
}

// An AWS CLI call where a command starts: at the beginning, in $( ), or after a pipe or separator.
const AWS_CLI = /(^|\$\(|[|;]\s*)aws\s/;

// Needs AWS, for what is not the trailguard CLI: deploying, removing, the AWS CLI.
const NEEDS_AWS: readonly [RegExp, string][] = [
  [/^npx serverless (deploy|remove)\b/, 'deploys to AWS'],
  [AWS_CLI, 'an AWS CLI call'],
  [/^(for|while|until)\b.*\$\(aws\s/, 'an AWS CLI loop'],
];

// Toolchain and setup: run by .ci/run or by a person once, too slow or too broad for a unit test.
const TOOLCHAIN: readonly [RegExp, string][] = [
  [/^npm (ci|test)\b/, 'installs or runs the test suite itself'],
  [/^npm run (test:|typecheck|lint:templates|bench)/, 'a CI step of its own'],
  [/^npx serverless package\b/, 'packaging: test/template runs it'],
  [/^(git|cd|pip|docker|moto_server|export|curl|bash \.\.\/shared\/emulator)\b/, "setup on a person's machine"],
];

/** How this test treats one `&&`-separated part of a command. */
export function verdictOf(part: string): Verdict {
  const args = cliArguments(part);
  if (args) {
    const reason = cliNeedsAws(args) ?? (AWS_CLI.test(part) ? 'an AWS CLI call' : undefined);
    return reason ? { run: false, reason: `needs AWS: ${reason}` } : { run: true };
  }
  for (const [pattern, reason] of NEEDS_AWS) if (pattern.test(part)) return { run: false, reason: `needs AWS: ${reason}` };
  for (const [pattern, reason] of TOOLCHAIN) if (pattern.test(part)) return { run: false, reason: `toolchain: ${reason}` };
  return { unknown: true };
}

/** The parts of a command joined by `&&`, each trimmed. */
export function partsOf(command: string): string[] {
  return command
    .split('&&')
    .map((part) => part.trim())
    .filter((part) => part !== '');
}

/**
 * The part as it runs here: the repository's CLI through node (fast; that `npx --no trailguard` itself reaches
 * this bin is proven once, literally, by the test), output redirected as written.
 */
export function runnable(part: string, cli: string): string {
  return part.replace(CLI, (_prefix, _form, script?: string) => (script === 'replay' ? `node ${cli} replay` : `node ${cli}`));
}

/** The file a part redirects its standard output into, if any. */
export function redirectTarget(part: string): string | undefined {
  return /(?:^|\s)>\s*(\S+)\s*$/.exec(part)?.[1];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function slugOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a Markdown text's headings. */
export function anchorsIn(markdown: string): Set<string> {
  const anchors = new Set<string>();
  let inFence = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) inFence = !inFence;
    const heading = !inFence && /^#{1,6}\s+(.*)$/.exec(line);
    if (heading) anchors.add(slugOf(heading[1] ?? ''));
  }
  return anchors;
}

/** The relative links of a Markdown text (outside code), as `path#anchor`. */
export function relativeLinksIn(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? '').filter((target) => !/^[a-z]+:/i.test(target));
}
