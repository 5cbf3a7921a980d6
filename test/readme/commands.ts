/**
 * The shell commands of the documentation's fenced code blocks, and which of them this machine can run.
 * A command is run when it drives the CLI offline; anything else must match a stated reason to skip it, so a new
 * example is either run or consciously skipped, never silently ignored.
 */

/** One logical command: continuation lines joined, a compound loop kept whole, the trailing comment cut off. */
export interface DocCommand {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

const SHELL_FENCES = new Set(['bash', 'sh', 'shell']);
const OPENERS = /^(for|while|until|if)\b/;
const CLOSERS = /^(done|fi)\b/;

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

/** The commands of every ```bash / ```sh / ```shell block of a Markdown text. */
export function commandsIn(markdown: string, file: string): DocCommand[] {
  const commands: DocCommand[] = [];
  let fence: 'none' | 'shell' | 'other' = 'none';
  // A command being gathered: continuation lines (`\`) and the lines of a loop up to its `done`.
  let open: { text: string; line: number; depth: number } | undefined;
  markdown.split('\n').forEach((raw, index) => {
    const marker = /^\s*```(\S*)/.exec(raw);
    if (marker) {
      if (fence === 'none') {
        fence = SHELL_FENCES.has(marker[1] ?? '') ? 'shell' : 'other';
      } else {
        if (open) commands.push({ file, line: open.line, text: open.text });
        open = undefined;
        fence = 'none';
      }
      return;
    }
    if (fence !== 'shell') return;
    const line = withoutComment(raw).trim();
    const continued = line.endsWith('\\');
    const body = continued ? line.slice(0, -1).trimEnd() : line;
    if (body === '' && !open) return;
    const depth = (open?.depth ?? 0) + (OPENERS.test(body) ? 1 : 0) - (CLOSERS.test(body) ? 1 : 0);
    // Joined with spaces: a gathered loop is only ever classified, never run, so it need not stay valid shell.
    const text = open ? `${open.text} ${body}`.trim() : body;
    if (continued || depth > 0) {
      open = { text, line: open?.line ?? index + 1, depth };
      return;
    }
    commands.push({ file, line: open?.line ?? index + 1, text });
    open = undefined;
  });
  return commands;
}

/** Why a command part is not run here, or undefined when it is a CLI run this test performs. */
export type Verdict = { readonly run: true } | { readonly run: false; readonly reason: string } | { readonly unknown: true };

// Needs AWS: credentials, a deployed stack or the account's history. Recognised by what the command asks for.
const NEEDS_AWS: readonly [RegExp, string][] = [
  [/--mode\s+(live|dry-run)\b/, 'dry-run and live call AWS'],
  [/\blogs:/, 'reads CloudWatch Logs'],
  [/--lookup\b|--s3\b/, 'backtests read CloudTrail or S3'],
  [/\bredrive\b|\bsweep\b|\bbreaker\b/, 'needs the deployed queue or state table'],
  [/--apply\b/, 'undo --apply writes to AWS'],
  [/\bserverless\s+(deploy|remove)\b/, 'deploys to AWS'],
  [/(^|[\s($])aws\s/, 'an AWS CLI call'],
];

// Toolchain and setup: run by .ci/run or by a person once, too slow or too broad for a unit test.
const TOOLCHAIN: readonly [RegExp, string][] = [
  [/^npm (ci|test)\b/, 'installs or runs the test suite itself'],
  [/^npm run (test:|typecheck|lint:templates|bench)/, 'a CI step of its own'],
  [/^npx serverless package\b/, 'packaging: test/template runs it'],
  [/^(git|cd|pip|docker|moto_server|export|curl|bash \.\.\/shared\/emulator)\b/, 'setup on a person\'s machine'],
];

/** How this test treats one `&&`-separated part of a command. */
export function verdictOf(part: string): Verdict {
  for (const [pattern, reason] of NEEDS_AWS) if (pattern.test(part)) return { run: false, reason: `needs AWS: ${reason}` };
  for (const [pattern, reason] of TOOLCHAIN) if (pattern.test(part)) return { run: false, reason: `toolchain: ${reason}` };
  if (/^(npx trailguard|npm run -s replay --|node bin\/trailguard\.mjs)(\s|$)/.test(part)) return { run: true };
  return { unknown: true };
}

/** The parts of a command joined by `&&`, each trimmed. */
export function partsOf(command: string): string[] {
  return command.split('&&').map((part) => part.trim()).filter((part) => part !== '');
}

/** The part as it runs here: the repository's CLI through node, output redirected as written. */
export function runnable(part: string, cli: string): string {
  return part.replace(/^npx trailguard|^npm run -s replay --|^node bin\/trailguard\.mjs/, (prefix) =>
    prefix.startsWith('npm run') ? `node ${cli} replay` : `node ${cli}`);
}

/** The file a part redirects its standard output into, if any. */
export function redirectTarget(part: string): string | undefined {
  return /(?:^|\s)>\s*(\S+)\s*$/.exec(part)?.[1];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
export function slugOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
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
