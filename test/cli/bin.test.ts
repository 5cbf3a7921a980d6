// bin/trailguard.mjs runs the esbuild bundle of the CLI (scripts/build-cli.mjs), never tsx, and never a bundle
// older than its sources. These tests run the bin from a scratch copy of the checkout whose node_modules links
// every installed package but tsx, so a start that needed tsx fails; the copy's sources are edited and touched
// here, never the checkout's.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { RULES } from '../../functions/rules.js';
import { RULE_IDS } from '../../shared/config.js';
import { captureConsole } from '../helpers/console-capture.js';

const ROOT = join(import.meta.dirname, '..', '..');
const COPIED = ['bin', 'scripts', 'cli', 'shared', 'functions', 'package.json', 'package-lock.json', 'tsconfig.json'];
// Lambda's flags, under which .ci/run runs the replay and the tests: no require(esm), no module-syntax detection.
const LAMBDA_NODE_OPTIONS = '--no-experimental-require-module --no-experimental-detect-module';
const NODE22 = join(homedir(), '.cache', 'trailguard', 'node-v22.23.5-linux-x64', 'bin', 'node');
const BUILDING = /trailguard: building the CLI \(([^)]*)\)/g;

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A copy of the checkout's sources with node_modules linked package by package, but tsx. */
function scratchCopy(): string {
  const root = mkdtempSync(join(tmpdir(), 'trailguard-bin-'));
  for (const part of COPIED) cpSync(join(ROOT, part), join(root, part), { recursive: true, preserveTimestamps: true });
  mkdirSync(join(root, 'node_modules'));
  for (const entry of readdirSync(join(ROOT, 'node_modules'))) {
    if (entry === 'tsx' || entry === '.bin') continue;
    symlinkSync(join(ROOT, 'node_modules', entry), join(root, 'node_modules', entry));
  }
  return root;
}

function bin(root: string, args: readonly string[], node = process.execPath): Promise<Outcome> {
  return new Promise((done) => {
    execFile(
      node,
      [join(root, 'bin', 'trailguard.mjs'), ...args],
      { cwd: root, env: { ...process.env, NO_COLOR: '1', NODE_OPTIONS: LAMBDA_NODE_OPTIONS, TRAILGUARD_CLI_DIST: '' }, timeout: 60_000 },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
    );
  });
}

const builds = (outcome: Outcome): string[] => [...outcome.stderr.matchAll(BUILDING)].map((m) => m[1] ?? '');
const withoutBuildNotes = (stderr: string): string => stderr.replace(/trailguard: building the CLI \([^)]*\)…\n/g, '');

async function fromSources(argv: readonly string[]): Promise<Outcome> {
  const console = captureConsole();
  const code = await main(argv, {});
  return { code, stdout: console.out(), stderr: console.err() };
}

let scratch = '';

beforeAll(() => {
  scratch = scratchCopy();
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the trailguard bin', () => {
  it('builds once when started several times at once, runs the bundle without tsx, and prints what the sources print', async () => {
    expect(existsSync(join(scratch, 'node_modules', 'tsx'))).toBe(false);
    const runs = await Promise.all([bin(scratch, ['help']), bin(scratch, ['help']), bin(scratch, ['help']), bin(scratch, [])]);
    const sources = await fromSources(['help']);
    const bare = await fromSources([]);
    expect(sources.stdout.startsWith('trailguard ')).toBe(true);
    for (const run of runs.slice(0, 3)) {
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe(sources.stdout);
    }
    expect(runs[3]?.code).toBe(2);
    expect(withoutBuildNotes(runs[3]?.stderr ?? '')).toBe(bare.stderr);
    // One process built; the others waited for its manifest.
    expect(runs.flatMap(builds)).toHaveLength(1);
    const dist = join(scratch, 'dist', 'cli');
    expect(existsSync(join(dist, 'trailguard.mjs'))).toBe(true);
    expect(readdirSync(join(scratch, 'dist')).filter((name) => name !== 'cli')).toEqual([]);

    const again = await bin(scratch, ['help']);
    expect(builds(again)).toEqual([]);
    expect(again.stdout).toBe(sources.stdout);
  }, 30_000);

  it.runIf(existsSync(NODE22))('runs on Node 22 with Lambda’s flags (.ci/run’s Node)', async () => {
    const run = await bin(scratch, ['help'], NODE22);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe((await fromSources(['help'])).stdout);
  });

  it('rebuilds when a source changes, though its size does not, and runs the edit at once', async () => {
    const commands = join(scratch, 'cli', 'commands.ts');
    const text = readFileSync(commands, 'utf8');
    expect(text).toContain('what CloudTrail shows');
    // Same length: only the mtime tells the manifest that the file changed.
    writeFileSync(commands, text.replace('what CloudTrail shows', 'what EditedCopy shows'));
    expect(statSync(commands).size).toBe(Buffer.byteLength(text));
    const edited = await bin(scratch, ['help']);
    expect(builds(edited)).toEqual(['cli/commands.ts changed']);
    expect(edited.stdout).toContain('remediates what EditedCopy shows');
  }, 30_000);

  it('rebuilds over a corrupt manifest instead of trusting the bundle beside it', async () => {
    const manifest = join(scratch, 'dist', 'cli', 'manifest.json');
    writeFileSync(manifest, '{"format": 2, "inputs": [');
    const run = await bin(scratch, ['--version']);
    expect(builds(run)).toEqual(['no build, or an unreadable manifest']);
    expect(run.stdout).toBe(`${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
    expect(JSON.parse(readFileSync(manifest, 'utf8'))).toMatchObject({ format: 2 });
  }, 30_000);

  it('says so and exits 2 where esbuild is not installed and the bundle must be built; prepare lets such an install finish', async () => {
    for (const name of ['esbuild', '@esbuild']) rmSync(join(scratch, 'node_modules', name));
    rmSync(join(scratch, 'dist'), { recursive: true });
    const run = await bin(scratch, ['help']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('esbuild is not installed');
    expect(run.stdout).toBe('');
    const prepare = await new Promise<Outcome>((done) =>
      execFile(process.execPath, [join(scratch, 'scripts', 'build-cli.mjs'), '--if-esbuild'], { cwd: scratch, timeout: 30_000 }, (error, stdout, stderr) =>
        done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
      ),
    );
    expect(prepare.code).toBe(0);
    expect(prepare.stderr).toContain('esbuild is not installed');
  });
});

describe('the usage text', () => {
  it('names, as its example rule, a rule that writes (from the settings registry, so help never loads the rules)', () => {
    const example = RULES.find((rule) => rule.id === RULE_IDS[0]);
    expect(example?.actions.length).toBeGreaterThan(0);
  });
});
