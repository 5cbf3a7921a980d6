// The documentation's commands must work as written. Every shell command of README.md and docs/*.md is either run
// here (the CLI offline, through node bin/trailguard.mjs) or skipped for a stated reason (commands.ts: it needs
// AWS, or it is a toolchain step CI runs on its own); a command that is neither fails this test until it is
// classified. What a command redirects into a file must be pure: JSON that parses, an HTML page from its doctype.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anchorsIn, commandsIn, partsOf, redirectTarget, relativeLinksIn, runnable, verdictOf, withoutComment, type DocCommand, type Verdict,
} from './commands.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'bin', 'trailguard.mjs');
const PAGES = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const LINKED_PAGES = [...PAGES, 'CONTRIBUTING.md', 'SECURITY.md', 'CHANGELOG.md'].filter((page) => existsSync(join(ROOT, page)));
const read = (page: string) => readFileSync(join(ROOT, page), 'utf8');

const COMMANDS: readonly DocCommand[] = PAGES.flatMap((page) => commandsIn(read(page), page));
const PARTS = COMMANDS.flatMap((command) => partsOf(command.text).map((part) => ({ command, part, verdict: verdictOf(part) })))
  .map((p, _i, all) => {
    // A command reading a file that only a skipped command writes (a backtest's output) is skipped with it.
    const skippedOutputs = all.filter((o) => 'run' in o.verdict && !o.verdict.run).map((o) => redirectTarget(o.part));
    const inputs = p.part.replace(/\s>\s*\S+\s*$/, '').split(/\s+/);
    const fed = 'run' in p.verdict && p.verdict.run && skippedOutputs.some((file) => file !== undefined && inputs.includes(file));
    return fed ? { ...p, verdict: { run: false, reason: 'its input is written by a command that needs AWS' } as Verdict } : p;
  });
const RUN = PARTS.filter((p) => 'run' in p.verdict && p.verdict.run);

interface Outcome { readonly code: number; readonly stderr: string }

// Each part runs once, in a scratch folder holding the repository's samples and configuration, with an endpoint
// that refuses connections: an offline command never calls AWS, and one that tried would fail here, not reach it.
let scratch = '';
const outcomes = new Map<string, Promise<Outcome>>();

// The same command written two ways (`npm run -s replay --` and `npx trailguard replay`) runs once.
const runs = new Map<string, Promise<Outcome>>();

function runPart(part: string): Promise<Outcome> {
  const line = runnable(part, CLI);
  const known = runs.get(line);
  if (known) return known;
  const run = new Promise<Outcome>((done) => {
    execFile('bash', ['-c', line], {
      cwd: scratch,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TZ: 'UTC', NO_COLOR: '1', AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'none', AWS_SECRET_ACCESS_KEY: 'none' },
      timeout: 30_000,
    }, (error, _stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr }));
  });
  runs.set(line, run);
  return run;
}

// Parts run in parallel, except that a part waits for every earlier part that writes a file it names (its input,
// or the same output): the quickstart's report reads the log its replay wrote.
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'trailguard-readme-'));
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

  it('classifies every command: run here, or skipped for a stated reason', () => {
    const unknown = PARTS.filter((p) => 'unknown' in p.verdict).map((p) => `${p.command.file}:${p.command.line}: ${p.part}`);
    expect(unknown).toEqual([]);
  });

  it('uses no npm run form that prints npm\'s banner into redirected output', () => {
    const bannered = COMMANDS.filter((c) => /npm run (?!-s )[\w:-]+ --/.test(c.text)).map((c) => `${c.file}:${c.line}: ${c.text}`);
    expect(bannered).toEqual([]);
  });

  it.each(RUN.map((p) => [`${p.command.file}:${p.command.line}`, p.part]))('%s exits 0: %s', async (_where, part) => {
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
  }, 60_000);
});

describe('the extraction', () => {
  it('joins continuation lines, keeps a loop whole and cuts comments outside quotes only', () => {
    const markdown = ['```bash', 'npx trailguard report \\', '  --format json a.jsonl   # the report', 'for g in $(aws logs x); do', '  echo "#$g"',
      'done', '```', '```text', 'trailguard replay [--mode offline] INPUT...', '```'].join('\n');
    expect(commandsIn(markdown, 'x.md').map((c) => c.text)).toEqual([
      'npx trailguard report --format json a.jsonl',
      'for g in $(aws logs x); do echo "#$g" done',
    ]);
    expect(withoutComment('echo "a # b" # c')).toBe('echo "a # b"');
  });

  it('runs offline CLI commands and skips those that need AWS', () => {
    expect(verdictOf('npx trailguard report remediation.jsonl')).toEqual({ run: true });
    expect(verdictOf('npx trailguard report logs:/aws/lambda/trailguard-prod-')).toMatchObject({ run: false });
    expect(verdictOf('npx trailguard undo e --log r.jsonl --mode dry-run')).toMatchObject({ run: false });
    expect(verdictOf('npx serverless deploy --stage prod')).toMatchObject({ run: false });
    expect(verdictOf('rm -rf /')).toEqual({ unknown: true });
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
