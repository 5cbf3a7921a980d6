// bin/trailguard.mjs runs the esbuild bundle of the CLI (scripts/build-cli.mjs), never tsx, and never a bundle
// older than its sources. These tests run the bin from a scratch copy of the checkout whose node_modules links
// every installed package but tsx, so a start that needed tsx fails; the copy's sources are edited and touched
// here, never the checkout's.
import { type ChildProcess, execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import { RULES } from '../../functions/rules.js';
import { RULE_IDS } from '../../shared/config.js';
import { captureConsole } from '../helpers/console-capture.js';

const ROOT = join(import.meta.dirname, '..', '..');
const COPIED = ['bin', 'scripts', 'cli', 'shared', 'functions', 'config', 'events', 'package.json', 'package-lock.json', 'tsconfig.json'];
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

interface Started {
  readonly child: ChildProcess;
  readonly outcome: Promise<Outcome & { readonly signal: string | null }>;
}

function startBin(root: string, args: readonly string[], node = process.execPath, env: Record<string, string> = {}): Started {
  let child: ChildProcess | undefined;
  const outcome = new Promise<Outcome & { readonly signal: string | null }>((done) => {
    child = execFile(
      node,
      [join(root, 'bin', 'trailguard.mjs'), ...args],
      { cwd: root, env: { ...process.env, NO_COLOR: '1', NODE_OPTIONS: LAMBDA_NODE_OPTIONS, TRAILGUARD_CLI_DIST: '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => done({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, signal: error?.signal ?? null, stdout, stderr }),
    );
  });
  if (!child) throw new Error('execFile started no process');
  return { child, outcome };
}

const bin = (root: string, args: readonly string[], node = process.execPath, env: Record<string, string> = {}): Promise<Outcome> =>
  startBin(root, args, node, env).outcome;

const dist = (): string => join(scratch, 'dist', 'cli');
const lock = (): string => `${dist()}.lock`;
const manifest = (): { build: string } => JSON.parse(readFileSync(join(dist(), 'manifest.json'), 'utf8')) as { build: string };
const buildFolders = (): string[] => readdirSync(join(dist(), 'builds')).sort();
const lockToken = (): string | undefined => {
  try {
    return (JSON.parse(readFileSync(lock(), 'utf8')) as { token?: string }).token;
  } catch {
    return undefined;
  }
};
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Polls until `ready` holds, failing after `ms`. */
async function until(ready: () => boolean, what: string, ms = 20_000): Promise<void> {
  for (const started = Date.now(); !ready(); await sleep(20)) {
    if (Date.now() - started > ms) throw new Error(`no ${what} after ${ms} ms`);
  }
}

/** A pid no process has: one that has just exited. */
const deadPid = (): number => {
  const { pid } = spawnSync(process.execPath, ['-e', '0']);
  if (!pid) throw new Error('spawned no process');
  return pid;
};

const builds = (outcome: Outcome): string[] => [...outcome.stderr.matchAll(BUILDING)].map((m) => m[1] ?? '');
// What a start says while it builds, or waits for another start's build, before the command's own output.
const withoutBuildNotes = (stderr: string): string =>
  stderr.replace(/trailguard: building the CLI \([^)]*\)…\n/g, '').replace(/trailguard: waiting for the CLI build by pid \d+…\n/g, '');

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
    // The manifest names the build's own folder, which holds the entries, the worker and the chunks.
    const folder = join(dist(), 'builds', manifest().build);
    expect(existsSync(join(folder, 'trailguard.mjs'))).toBe(true);
    expect(existsSync(join(folder, 'replay-worker.mjs'))).toBe(true);
    expect(readdirSync(folder).some((file) => /^chunk-\w+\.mjs$/.test(file))).toBe(true);
    expect(readdirSync(join(scratch, 'dist')).filter((name) => name !== 'cli')).toEqual([]);

    const again = await bin(scratch, ['help']);
    expect(builds(again)).toEqual([]);
    expect(again.stdout).toBe(sources.stdout);
  }, 30_000);

  it.runIf(existsSync(NODE22))(
    'runs on Node 22 with Lambda’s flags (.ci/run’s Node), help and a replay on a worker thread',
    async () => {
      const run = await bin(scratch, ['help'], NODE22);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe((await fromSources(['help'])).stdout);
      // The worker is the build folder's replay-worker.mjs, found beside the chunk that starts it: dist/cli/ has none.
      expect(existsSync(join(dist(), 'replay-worker.mjs'))).toBe(false);
      const replay = ['replay', '--config', 'config/replay.sample.json', 'events/'];
      const [onWorker, inline] = await Promise.all([
        bin(scratch, replay, NODE22, { TRAILGUARD_REPLAY_WORKERS: '1' }),
        bin(scratch, replay, NODE22, { TRAILGUARD_REPLAY_WORKERS: '0' }),
      ]);
      expect(onWorker.code, onWorker.stderr).toBe(0);
      expect(onWorker.stdout.length).toBeGreaterThan(0);
      expect(onWorker.stdout).toBe(inline.stdout);
    },
    30_000,
  );

  it('leaves no lock and no unfinished build when interrupted while building', async () => {
    rmSync(join(dist(), 'manifest.json'));
    const before = buildFolders();
    const started = startBin(scratch, ['help']);
    await until(() => lockToken() !== undefined, 'lock');
    await sleep(300); // esbuild is running
    started.child.kill('SIGINT');
    const run = await started.outcome;
    expect(run.signal).toBe('SIGINT');
    expect(existsSync(lock())).toBe(false);
    expect(readdirSync(join(scratch, 'dist')).filter((name) => name !== 'cli')).toEqual([]);
    expect(buildFolders()).toEqual(before);
  }, 30_000);

  it('takes over at once a lock whose owner is gone, and removes what such builders left', async () => {
    rmSync(join(dist(), 'manifest.json'), { force: true });
    const gone = deadPid();
    writeFileSync(lock(), JSON.stringify({ pid: gone, token: 'gone' }));
    const oldScratch = join(scratch, 'dist', `cli.build-${gone}-1`);
    const unfinished = join(dist(), 'builds', `${Date.now().toString(36)}-${gone}-0bad`);
    for (const folder of [oldScratch, unfinished]) {
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, 'chunk-HALF.mjs'), '');
    }
    const started = Date.now();
    const run = await bin(scratch, ['help']);
    expect(run.code, run.stderr).toBe(0);
    expect(builds(run)).toEqual(['no build, or an unreadable manifest']);
    expect(run.stderr).not.toContain('waiting');
    // An earlier version waited 2 minutes for such a lock.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(existsSync(lock())).toBe(false);
    expect(existsSync(oldScratch)).toBe(false);
    expect(existsSync(unfinished)).toBe(false);
  }, 30_000);

  it('waits for a live owner’s build, saying so, and removes only its own lock', async () => {
    rmSync(join(dist(), 'manifest.json'));
    writeFileSync(lock(), JSON.stringify({ pid: process.pid, token: 'first' }));
    const started = startBin(scratch, ['help']);
    await sleep(1_500);
    rmSync(lock());
    // The bin takes the lock and builds; meanwhile a process that wrongly thought it abandoned takes it over.
    await until(() => (lockToken() ?? 'first') !== 'first', 'lock of the bin’s');
    writeFileSync(lock(), JSON.stringify({ pid: process.pid, token: 'second' }));
    const run = await started.outcome;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`trailguard: waiting for the CLI build by pid ${process.pid}…`);
    expect(builds(run)).toHaveLength(1);
    expect(lockToken()).toBe('second');
    rmSync(lock());
  }, 30_000);

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

  it('builds once for a source with a future mtime, and sees a same-size edit that keeps the mtime; keeps the builds in use', async () => {
    const commands = join(scratch, 'cli', 'commands.ts');
    const text = readFileSync(commands, 'utf8');
    // Clock skew, or a tarball's times: an hour ahead.
    const future = new Date(Date.now() + 3_600_000);
    utimesSync(commands, future, future);
    const first = await bin(scratch, ['help']);
    expect(builds(first)).toEqual(['cli/commands.ts changed']);
    const second = await bin(scratch, ['help']);
    expect(builds(second)).toEqual([]);
    expect(second.stdout).toBe(first.stdout);

    // A finished build replaced more than a day ago goes at the next build; the one just replaced stays.
    const replaced = manifest().build;
    const dayOld = join(dist(), 'builds', `${(Date.now() - 90_000_000).toString(36)}-1-0ld0`);
    mkdirSync(dayOld);
    writeFileSync(join(dayOld, 'manifest.json'), '{}');
    const longAgo = new Date(Date.now() - 25 * 3_600_000);
    utimesSync(dayOld, longAgo, longAgo);

    // What a filesystem with whole-second mtimes shows of an edit in the build's second: same size, same mtime.
    const edited = text.replace(/what (CloudTrail|EditedCopy) shows/, 'what SameStamp1 shows');
    expect(Buffer.byteLength(edited)).toBe(Buffer.byteLength(text));
    writeFileSync(commands, edited);
    utimesSync(commands, future, future);
    const third = await bin(scratch, ['help']);
    expect(builds(third)).toEqual(['cli/commands.ts changed']);
    expect(third.stdout).toContain('remediates what SameStamp1 shows');
    expect(buildFolders()).toContain(replaced);
    expect(buildFolders()).not.toContain(basename(dayOld));
    writeFileSync(commands, text);
  }, 40_000);

  it('rebuilds over a corrupt manifest instead of trusting the bundle beside it', async () => {
    const file = join(dist(), 'manifest.json');
    writeFileSync(file, '{"format": 3, "inputs": [');
    const run = await bin(scratch, ['--version']);
    expect(builds(run)).toEqual(['no build, or an unreadable manifest']);
    expect(run.stdout).toBe(`${(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version}\n`);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ format: 3 });
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

/** The build lock's parts, from scripts/build-cli.mjs (plain JavaScript, so imported by URL and typed here). */
interface BuildLock {
  takeLock(lock: string): { token: string; release(): void } | undefined;
  lockOwner(lock: string): { pid?: number; token?: string; ageMs: number } | undefined;
  abandoned(owner: { pid?: number; token?: string; ageMs: number }): boolean;
  lockIo: { link(from: string, to: string): void };
}
const buildLock = async (): Promise<BuildLock> => (await import(pathToFileURL(join(ROOT, 'scripts', 'build-cli.mjs')).href)) as BuildLock;

describe('the build lock', () => {
  let folder = '';
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'trailguard-build-lock-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('works without hard links (FAT, exFAT): created exclusively, one owner at a time, and raises any other failure', async () => {
    const { takeLock, lockOwner, lockIo } = await buildLock();
    const file = join(folder, 'no-links.lock');
    const link = lockIo.link;
    try {
      for (const code of ['EPERM', 'ENOTSUP', 'ENOSYS']) {
        lockIo.link = () => {
          throw Object.assign(new Error(`link: ${code}`), { code });
        };
        const first = takeLock(file);
        expect(first, code).toBeDefined();
        expect(lockOwner(file)).toMatchObject({ pid: process.pid, token: first?.token });
        expect(takeLock(file)).toBeUndefined();
        first?.release();
        expect(existsSync(file)).toBe(false);
        expect(readdirSync(folder)).toEqual([]);
      }
      lockIo.link = () => {
        throw Object.assign(new Error('link: EACCES'), { code: 'EACCES' });
      };
      expect(() => takeLock(file)).toThrow(/EACCES/);
      expect(readdirSync(folder)).toEqual([]);
    } finally {
      lockIo.link = link;
    }
  });

  it('leaves alone a lock just created and not yet written, and takes over one that stayed so', async () => {
    const { lockOwner, abandoned } = await buildLock();
    const file = join(folder, 'half-written.lock');
    writeFileSync(file, '');
    const young = lockOwner(file);
    expect(young).toEqual({ ageMs: expect.any(Number) });
    expect(abandoned(young ?? { ageMs: 0 })).toBe(false);
    const past = new Date(Date.now() - 10_000);
    utimesSync(file, past, past);
    expect(abandoned(lockOwner(file) ?? { ageMs: 0 })).toBe(true);
    rmSync(file);
  });
});

describe('the usage text', () => {
  it('names, as its example rule, a rule that writes (from the settings registry, so help never loads the rules)', () => {
    const example = RULES.find((rule) => rule.id === RULE_IDS[0]);
    expect(example?.actions.length).toBeGreaterThan(0);
  });
});
