// The documentation's commands must work as written. Every shell command of README.md, docs/*.md, CONTRIBUTING.md
// and SECURITY.md is either run here (the CLI offline, through node bin/trailguard.mjs for speed) or skipped for a
// stated reason read from its subcommand and options (commands.ts: it needs AWS, or it is a toolchain step CI runs
// on its own); a command that is neither fails this test until it is classified. A command-looking line in a fence
// not labelled as shell fails too, as does any npx form of trailguard but `npx --no trailguard` (without --no, npx
// outside the checkout runs whatever npm publishes under the name); that form itself is run once, literally.
// What a command redirects into a file must be pure: JSON that parses, an HTML page from its doctype.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anchorsIn,
  cliArguments,
  commandsIn,
  hiddenCommandsIn,
  partsOf,
  redirectTarget,
  relativeLinksIn,
  runnable,
  unsafeNpxIn,
  verdictOf,
  withoutComment,
  type DocCommand,
  type Verdict,
} from './commands.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'trailguard.mjs');
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  'CONTRIBUTING.md',
  'SECURITY.md',
].filter((page) => existsSync(join(ROOT, page)));
const LINKED_PAGES = [...PAGES, 'CHANGELOG.md'].filter((page) => existsSync(join(ROOT, page)));
const read = (page: string) => readFileSync(join(ROOT, page), 'utf8');

const COMMANDS: readonly DocCommand[] = PAGES.flatMap((page) => commandsIn(read(page), page));
const PARTS = COMMANDS.flatMap((command) => partsOf(command.text).map((part) => ({ command, part, verdict: verdictOf(part) }))).map((p, _i, all) => {
  // A command reading a file that only a skipped command writes (a backtest's output) is skipped with it.
  const skippedOutputs = all.filter((o) => 'run' in o.verdict && !o.verdict.run).map((o) => redirectTarget(o.part));
  const inputs = p.part.replace(/\s>\s*\S+\s*$/, '').split(/\s+/);
  const fed = 'run' in p.verdict && p.verdict.run && skippedOutputs.some((file) => file !== undefined && inputs.includes(file));
  return fed ? { ...p, verdict: { run: false, reason: 'its input is written by a command that needs AWS' } as Verdict } : p;
});
const RUN = PARTS.filter((p) => 'run' in p.verdict && p.verdict.run);

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

// Each part runs once, in a scratch folder holding the repository's samples and configuration, with an endpoint
// that refuses connections: an offline command never calls AWS, and one that tried would fail here, not reach it.
let scratch = '';
const outcomes = new Map<string, Promise<Outcome>>();

// The same command written two ways (`npm run -s replay --` and `npx --no trailguard replay`) runs once.
const runs = new Map<string, Promise<Outcome>>();

function runPart(part: string): Promise<Outcome> {
  const line = runnable(part, CLI);
  const known = runs.get(line);
  if (known) return known;
  const run = new Promise<Outcome>((done) => {
    execFile(
      'bash',
      ['-c', line],
      {
        cwd: scratch,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          TZ: 'UTC',
          NO_COLOR: '1',
          AWS_REGION: 'us-east-1',
          AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
          AWS_ACCESS_KEY_ID: 'none',
          AWS_SECRET_ACCESS_KEY: 'none',
        },
        timeout: 30_000,
      },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
  runs.set(line, run);
  return run;
}

// The documented form itself, literally: `npx --no trailguard help` from the checkout must reach this checkout's bin
// (the same output as node bin/trailguard.mjs help). npm is offline here, so a failed lookup can never fetch.
let literalNpx: Promise<Outcome> | undefined;

// Parts run in parallel, except that a part waits for every earlier part that writes a file it names (its input,
// or the same output): the quickstart's report reads the log its replay wrote.
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'trailguard-readme-'));
  literalNpx = new Promise((done) => {
    execFile(
      'npx',
      ['--no', 'trailguard', 'help'],
      {
        cwd: ROOT,
        env: { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false', NO_COLOR: '1' },
        timeout: 30_000,
      },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
  for (const shared of ['config', 'events']) symlinkSync(join(ROOT, shared), join(scratch, shared));
  const writers: { file: string; done: Promise<Outcome> }[] = [];
  for (const { part } of RUN) {
    if (outcomes.has(part)) continue;
    const words = new Set(part.split(/\s+/));
    const before = writers.filter((w) => words.has(w.file)).map((w) => w.done);
    const done = Promise.all(before).then(() => runPart(part));
    outcomes.set(part, done);
    const target = redirectTarget(part);
    if (target) writers.push({ file: target, done });
  }
}, 5_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the documentation commands', () => {
  it('finds the README quickstart and runs it, so an empty extraction cannot pass', () => {
    const readmeRuns = RUN.filter((p) => p.command.file === 'README.md').map((p) => p.part);
    expect(readmeRuns.some((part) => /replay .*events\//.test(part))).toBe(true);
    expect(readmeRuns.some((part) => /report .*--format html .*> \S+\.html$/.test(part))).toBe(true);
    expect(readmeRuns.some((part) => /report .*--format json .*> \S+\.json$/.test(part))).toBe(true);
    expect(readmeRuns.some((part) => /undo /.test(part))).toBe(true);
  });

  it('scans README.md, docs/, CONTRIBUTING.md and SECURITY.md', () => {
    expect(PAGES).toEqual(expect.arrayContaining(['README.md', 'docs/operators.md', 'CONTRIBUTING.md', 'SECURITY.md']));
    expect(RUN.some((p) => p.command.file === 'CONTRIBUTING.md')).toBe(true);
  });

  it("writes trailguard's npx form as exactly `npx --no trailguard COMMAND`, in prose and code alike", () => {
    const unsafe = PAGES.flatMap((page) => unsafeNpxIn(read(page), page)).map((c) => `${c.file}:${c.line}: ${c.text}`);
    expect(unsafe).toEqual([]);
  });

  it('runs `npx --no trailguard` literally from the checkout: it reaches this bin', async () => {
    const outcome = await literalNpx;
    const direct = await runPart('node bin/trailguard.mjs help');
    const { version } = JSON.parse(read('package.json')) as { version: string };
    expect(outcome?.code, outcome?.stderr).toBe(0);
    expect(outcome?.stdout).toBe(direct.stdout);
    expect(outcome?.stdout.startsWith(`trailguard ${version}:`)).toBe(true);
  });

  it('leaves no command in a fence not labelled as shell', () => {
    const hidden = PAGES.flatMap((page) => hiddenCommandsIn(read(page), page)).map((c) => `${c.file}:${c.line}: ${c.text}`);
    expect(hidden).toEqual([]);
  });

  it('classifies every command: run here, or skipped for a stated reason', () => {
    const unknown = PARTS.filter((p) => 'unknown' in p.verdict).map((p) => `${p.command.file}:${p.command.line}: ${p.part}`);
    expect(unknown).toEqual([]);
  });

  it("uses no npm run form that prints npm's banner into redirected output", () => {
    const bannered = COMMANDS.filter((c) => /npm run (?!-s )[\w:-]+ --/.test(c.text)).map((c) => `${c.file}:${c.line}: ${c.text}`);
    expect(bannered).toEqual([]);
  });

  it.each(RUN.map((p) => [`${p.command.file}:${p.command.line}`, p.part]))(
    '%s exits 0: %s',
    async (_where, part) => {
      const outcome = await outcomes.get(part);
      expect(outcome?.stderr ?? 'not run').not.toMatch(/ENOENT|TypeError|at .*\.ts:\d+/);
      expect(outcome?.code, outcome?.stderr).toBe(0);
      const target = redirectTarget(part);
      if (!target) return;
      const output = readFileSync(resolve(scratch, target), 'utf8');
      expect(output.length).toBeGreaterThan(0);
      if (target.endsWith('.json')) expect(() => JSON.parse(output)).not.toThrow();
      if (target.endsWith('.jsonl')) {
        const lines = output.trimEnd().split('\n');
        expect(lines.length).toBeGreaterThan(0);
        for (const line of lines) expect(() => JSON.parse(line), line.slice(0, 80)).not.toThrow();
      }
      if (target.endsWith('.html')) expect(output.trimStart().slice(0, 15).toLowerCase()).toBe('<!doctype html>');
    },
    60_000,
  );
});

describe('the extraction', () => {
  it('joins continuation lines, keeps a loop whole and cuts comments outside quotes only', () => {
    const markdown = [
      '```bash',
      'npx --no trailguard report \\',
      '  --format json a.jsonl   # the report',
      'for g in $(aws logs x); do',
      '  echo "#$g"',
      'done',
      '```',
      '```text',
      'trailguard replay [--mode offline] INPUT...',
      '```',
    ].join('\n');
    expect(commandsIn(markdown, 'x.md').map((c) => c.text)).toEqual([
      'npx --no trailguard report --format json a.jsonl',
      'for g in $(aws logs x); do echo "#$g" done',
    ]);
    expect(withoutComment('echo "a # b" # c')).toBe('echo "a # b"');
  });

  it('reads ~~~ fences and every fence label, and finds commands hidden in fences not labelled as shell', () => {
    const markdown = [
      '~~~sh',
      'npx --no trailguard help',
      '~~~',
      '```',
      'npx --no trailguard replay events/',
      '```',
      '```console',
      '$ npm ci',
      '```',
      '```text',
      'trailguard replay [--mode offline] INPUT...',
      'To reverse: aws s3api x',
      '```',
      '```json',
      '{"a": 1}',
      '```',
    ].join('\n');
    expect(commandsIn(markdown, 'x.md').map((c) => c.text)).toEqual(['npx --no trailguard help']);
    expect(hiddenCommandsIn(markdown, 'x.md').map((c) => c.text)).toEqual(['npx --no trailguard replay events/', '$ npm ci']);
  });

  it('accepts only `npx --no trailguard COMMAND` among npx forms of trailguard', () => {
    const flagged = (line: string) => unsafeNpxIn(line, 'x.md').length;
    expect(flagged('run `npx --no trailguard report x.jsonl` or `npx serverless package`')).toBe(0);
    for (const line of [
      'npx trailguard report x',
      'Use `npx trailguard …`',
      'npx --yes trailguard help',
      'npx -y trailguard help',
      'npx trailguard@latest help',
      'npx -p trailguard trailguard help',
      'npx --no trailguard --help',
      'npm exec trailguard -- help',
    ]) {
      expect(flagged(line), line).toBe(1);
    }
    expect(verdictOf('npx trailguard report remediation.jsonl')).toEqual({ unknown: true });
  });

  it('runs offline CLI commands and skips those that need AWS, by subcommand and option, not by a word in a path', () => {
    expect(verdictOf('npx --no trailguard report remediation.jsonl')).toEqual({ run: true });
    expect(verdictOf('npx --no trailguard report logs:/aws/lambda/trailguard-prod-')).toMatchObject({ run: false });
    expect(verdictOf('npx --no trailguard undo e --log logs:/aws/lambda/x --since 7d')).toMatchObject({ run: false });
    expect(verdictOf('npx --no trailguard undo e --log r.jsonl --mode dry-run')).toMatchObject({ run: false });
    expect(verdictOf('npx --no trailguard undo e --log r.jsonl --mode=live')).toMatchObject({ run: false });
    expect(verdictOf('npx --no trailguard undo e --log r.jsonl --apply')).toMatchObject({ run: false });
    expect(verdictOf('npx --no trailguard replay --lookup --since 7d')).toMatchObject({ run: false });
    expect(verdictOf('npx --no trailguard sweep --region eu-west-1')).toMatchObject({ run: false });
    expect(verdictOf('npx --no trailguard breaker status')).toMatchObject({ run: false });
    expect(verdictOf('npx --no trailguard redrive --queue q')).toMatchObject({ run: false });
    expect(verdictOf('npx --no trailguard report x.jsonl | aws s3 cp - s3://b/r')).toMatchObject({ run: false });
    // Offline, whatever their paths and arguments say.
    for (const part of [
      'npx --no trailguard report sweep/redrive-breaker.jsonl',
      'npx --no trailguard replay --config breaker.json events/',
      'npx --no trailguard replay events/dry-run/ --mode offline > logs:x.jsonl',
      'npx --no trailguard report my-logs:x.jsonl',
      'npm run -s replay -- --format jsonl events/sweep/',
      'npx --no trailguard report --rule aws-config x.jsonl',
    ]) {
      expect(verdictOf(part), part).toEqual({ run: true });
    }
    expect(cliArguments('npm run -s replay -- --format jsonl "a b/" > x.jsonl')).toEqual(['replay', '--format', 'jsonl', 'a b/']);
    expect(runnable('npx --no trailguard report x', 'cli.mjs')).toBe('node cli.mjs report x');
    expect(runnable('npm run -s replay -- events/', 'cli.mjs')).toBe('node cli.mjs replay events/');
    expect(verdictOf('npx serverless deploy --stage prod')).toMatchObject({ run: false });
    expect(verdictOf('rm -rf /')).toEqual({ unknown: true });
    expect(verdictOf('cat aws-notes.txt')).toEqual({ unknown: true });
  });
});

describe('the documentation links', () => {
  const links = LINKED_PAGES.flatMap((page) => relativeLinksIn(read(page)).map((link) => ({ page, link })));

  it('finds links between the README and docs/', () => {
    expect(links.some((l) => l.page === 'README.md' && l.link.startsWith('docs/'))).toBe(true);
    expect(links.some((l) => l.page.startsWith('docs/') && l.link.includes('#'))).toBe(true);
  });

  it('resolves every relative link to a file and every anchor to a heading', () => {
    const broken = links.filter(({ page, link }) => {
      const [path = '', anchor] = link.split('#');
      const target = path === '' ? join(ROOT, page) : resolve(dirname(join(ROOT, page)), path);
      if (!existsSync(target)) return true;
      return anchor !== undefined && target.endsWith('.md') && !anchorsIn(readFileSync(target, 'utf8')).has(anchor);
    });
    expect(broken.map(({ page, link }) => `${page}: ${link}`)).toEqual([]);
  });
});
