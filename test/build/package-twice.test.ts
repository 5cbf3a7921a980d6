import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageInto, packageOnce, WORK_FOLDER } from '../helpers/template.js';

const require = createRequire(import.meta.url);
const ROOT = join(import.meta.dirname, '..', '..');
const { TRIMMED_MARK } = require('../../scripts/esbuild-plugins.cjs') as { TRIMMED_MARK: string };

/** Every file of a zip (stored or deflated, no zip64: what the packaging writes), read through its central directory. */
function unzip(file: string): Map<string, Buffer> {
  const zip = readFileSync(file);
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error(`${file} is not a zip: no end of central directory`);
  const entries = new Map<string, Buffer>();
  let at = zip.readUInt32LE(end + 16);
  for (let count = zip.readUInt16LE(end + 10); count > 0; count--) {
    const method = zip.readUInt16LE(at + 10);
    const nameLength = zip.readUInt16LE(at + 28);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    const local = zip.readUInt32LE(at + 42);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const stored = zip.subarray(start, start + zip.readUInt32LE(at + 20));
    const data = method === 0 ? Buffer.from(stored) : inflateRawSync(stored);
    if (data.length !== zip.readUInt32LE(at + 24)) throw new Error(`${file}: ${name} is cut short`);
    if (!name.endsWith('/')) entries.set(name, data);
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return entries;
}

const zipsIn = (dir: string) =>
  readdirSync(dir)
    .filter((file) => file.endsWith('.zip'))
    .sort();
const hashesIn = (dir: string) =>
  Object.fromEntries(
    zipsIn(dir).map((zip) => [
      zip,
      createHash('sha256')
        .update(readFileSync(join(dir, zip)))
        .digest('hex'),
    ]),
  );

// What a packaging killed half-way leaves (serverless-esbuild removes its work folder only after a success): the
// bundles of the run before, their maps cut short (as the failure read one) beside temp files, a bundle no
// function has any more, an artifact half-zipped. serverless-esbuild zips every file of the folder into each artifact.
function leaveKilledRun(first: string): void {
  const build = join(WORK_FOLDER, '.build');
  for (const zip of zipsIn(first)) {
    for (const [file, data] of unzip(join(first, zip))) {
      mkdirSync(dirname(join(build, file)), { recursive: true });
      writeFileSync(join(build, file), file.endsWith('.map') ? data.subarray(0, data.length >> 1) : data);
      if (file.endsWith('.map')) writeFileSync(join(build, `${file}.1-1.tmp`), data.subarray(0, 100));
    }
  }
  mkdirSync(join(build, 'functions', 'removed-since'), { recursive: true });
  writeFileSync(join(build, 'functions', 'removed-since', 'handler.mjs'), 'export const handler = () => "stale";\n');
  mkdirSync(join(WORK_FOLDER, '.serverless'), { recursive: true });
  writeFileSync(join(WORK_FOLDER, '.serverless', zipsIn(first)[0] ?? 'a.zip'), 'not a zip: the artifact of a packaging killed while zipping');
}

describe('`serverless package` twice in a row into the same folder', () => {
  let dir = '';
  let firstHashes: Record<string, string> = {};

  beforeAll(() => {
    dir = packageOnce().dir;
    firstHashes = hashesIn(dir);
    packageInto(dir, {}, 'test', () => leaveKilledRun(dir));
  }, 480_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes, over the work folder a killed run left, the same artifacts, byte for byte, and nothing else', () => {
    expect(Object.keys(firstHashes).length).toBeGreaterThan(10);
    expect(hashesIn(dir)).toEqual(firstHashes);
    expect(readdirSync(dir).filter((file) => !file.endsWith('.zip') && !file.endsWith('.json'))).toEqual([]);
  });

  it('ships in each zip one bundle and its map, whole and trimmed once, that the bundle names', () => {
    for (const zip of zipsIn(dir)) {
      const files = unzip(join(dir, zip));
      const bundle = [...files.keys()].find((file) => file.endsWith('.mjs')) ?? '';
      expect({ zip, files: [...files.keys()].sort() }).toEqual({ zip, files: [bundle, `${bundle}.map`] });
      const map = JSON.parse(files.get(`${bundle}.map`)?.toString('utf8') ?? '') as { sources: string[]; names: string[]; [mark: string]: unknown };
      expect(map[TRIMMED_MARK]).toBe(true);
      expect(map.names).toEqual([]);
      expect(map.sources.length).toBeGreaterThan(0);
      expect(map.sources.filter((source) => source.includes('node_modules'))).toEqual([]);
      expect(files.get(bundle)?.toString('utf8')).toContain(`//# sourceMappingURL=${bundle.split('/').pop()}.map`);
    }
  });
});

// serverless-esbuild's bundling step itself, with serverless.yml's esbuild settings and an entry whose build fails in
// a plugin (as the trimming once did): the process must end with the error. With esbuild contexts (no skipRebuild)
// they stay alive after a failure, and the packaging hung after printing it.
describe('a packaging whose build fails', () => {
  it('ends with the error instead of hanging', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trailguard-failing-build-'));
    try {
      writeFileSync(join(dir, 'handler.ts'), 'export const handler = () => 1;\n');
      const custom = (parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8'), { logLevel: 'silent' }) as { custom: { esbuild: Record<string, unknown> } })
        .custom.esbuild;
      const script = `
        const { bundle } = require(${JSON.stringify(require.resolve('serverless-esbuild/dist/bundle.js'))});
        const failing = { name: 'failing-on-end', setup: (build) => build.onEnd(() => { JSON.parse('"cut short'); }) };
        const plugin = {
          buildOptions: { ...${JSON.stringify(custom)}, concurrency: Infinity, plugins: undefined, alias: undefined },
          plugins: [failing],
          buildDirPath: ${JSON.stringify(join(dir, 'out'))},
          functionEntries: [{ entry: 'handler.ts', func: {}, functionAlias: 'handler' }],
          prepare() {},
          log: { verbose() {} },
          serverless: { classes: { Error } },
        };
        bundle.call(plugin).then(
          () => console.log('built'),
          (error) => { console.error(error.message); process.exitCode = 1; },
        );`;
      const child = spawnSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
      expect(child.error?.message ?? 'ended', 'the bundling still ran 30 s after its build failed: it hung').toBe('ended');
      expect(child.status).toBe(1);
      expect(child.stderr).toContain('[plugin: failing-on-end] Unterminated string in JSON');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});

type Hook = () => unknown;
interface FreshWorkFolderPlugin {
  hooks: Record<string, Hook>;
}
const FreshWorkFolder = require('../../scripts/fresh-work-folder.cjs') as {
  new (serverless: unknown, options: unknown, logging: unknown): FreshWorkFolderPlugin;
  BUNDLING_HOOKS: string[];
  LOCK_NAME: string;
  LOCK_TOKEN_ENV: string;
  HALF_WRITTEN_MS: number;
  tryLock(file: string, token: string): number | undefined;
  takeOver(file: string, token: string, seen: { pid?: number; token?: string; ageMs: number }): boolean;
  unlock(file: string, token: string): void;
  io: { link(from: string, to: string): void };
};
const EsbuildServerlessPlugin = require('serverless-esbuild') as new (
  serverless: unknown,
  options: unknown,
  logging: unknown,
) => Record<string, unknown> & {
  hooks: Record<string, Hook>;
  init(): void;
};

const silentLog = { verbose() {}, notice() {}, warning() {}, error() {} };
/** What serverless-esbuild's constructor and its `init` read of the framework, for a service in `serviceDir`. */
const serverlessFor = (serviceDir: string, esbuild: Record<string, unknown> = {}, commands = ['package']) => ({
  config: { serviceDir },
  service: { provider: { name: 'aws', runtime: 'nodejs22.x' }, custom: { esbuild }, functions: {} },
  configSchemaHandler: { defineFunctionProperties() {} },
  classes: { Error },
  processedInput: { commands },
  pluginManager: { plugins: [] as unknown[] },
});

describe("fresh-work-folder's hooks", () => {
  // Which of serverless-esbuild's hooks bundle, found by running each with every method of it stubbed but `bundle`.
  it("run before every hook of serverless-esbuild's that bundles, and no other", async () => {
    const bundling: string[] = [];
    const esbuild = new EsbuildServerlessPlugin(serverlessFor(ROOT), {}, { log: silentLog });
    const methods = new Set([...Object.getOwnPropertyNames(EsbuildServerlessPlugin.prototype), ...Object.keys(esbuild)]);
    let current = '';
    for (const name of methods) {
      const descriptor = Object.getOwnPropertyDescriptor(EsbuildServerlessPlugin.prototype, name);
      if (name === 'constructor' || descriptor?.get || typeof esbuild[name] !== 'function') continue;
      esbuild[name] = name === 'bundle' ? async () => void bundling.push(current) : async () => {};
    }
    Object.defineProperty(esbuild, 'functionEntries', { value: [{ entry: 'handler.ts', func: {}, functionAlias: 'handler' }] });
    for (const [hook, run] of Object.entries(esbuild.hooks)) {
      current = hook;
      await run();
    }
    expect(bundling.length).toBeGreaterThan(3);
    expect([...FreshWorkFolder.BUNDLING_HOOKS].sort()).toEqual(bundling.sort());
    const ours = new FreshWorkFolder(serverlessFor(ROOT), {}, { log: silentLog });
    // And the lock's own: taken before a packaging's first step, released after its last (a deploy's: its upload).
    expect(Object.keys(ours.hooks).sort()).toEqual(
      [...bundling, 'before:package:cleanup', 'after:package:finalize', 'after:aws:deploy:deploy:uploadArtifacts'].sort(),
    );
  });
});

describe('fresh-work-folder on a service folder', () => {
  let service = '';
  const lockFile = () => join(service, FreshWorkFolder.LOCK_NAME);
  /** Our plugin beside a real serverless-esbuild, initialised with `esbuild` as custom.esbuild; `notices` collects its messages. */
  const pluginFor = (esbuild: Record<string, unknown> = {}, commands = ['package']) => {
    const serverless = serverlessFor(service, esbuild, commands);
    const esbuildPlugin = new EsbuildServerlessPlugin(serverless, {}, { log: silentLog });
    esbuildPlugin.init();
    serverless.pluginManager.plugins.push(esbuildPlugin);
    const notices: string[] = [];
    const plugin = new FreshWorkFolder(serverless, {}, { log: { ...silentLog, notice: (text: string) => notices.push(text) } });
    return {
      plugin,
      notices,
      bundle: plugin.hooks['before:package:createDeploymentArtifacts'] as Hook,
      finalize: plugin.hooks['after:package:finalize'] as Hook,
      cleanup: plugin.hooks['before:package:cleanup'] as Hook,
      uploaded: plugin.hooks['after:aws:deploy:deploy:uploadArtifacts'] as Hook,
    };
  };
  const leftovers = (folder: string) => {
    mkdirSync(join(service, folder, '.build'), { recursive: true });
    writeFileSync(join(service, folder, '.build', 'stale.mjs.1-1.tmp'), 'half');
  };
  /** A process that lives until killed, and one that has ended: lock holders. */
  const sleeper = () => spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const endedPid = () => spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;

  beforeAll(() => {
    service = realpathSync(mkdtempSync(join(tmpdir(), 'fresh-work-folder-')));
  });
  afterAll(() => rmSync(service, { recursive: true, force: true }));

  it("removes serverless-esbuild's work folder, as it resolves an empty outputWorkFolder, and nothing beside it", async () => {
    leftovers('.esbuild');
    writeFileSync(join(service, 'serverless.yml'), 'service: kept\n');
    const { bundle, finalize } = pluginFor({ outputWorkFolder: '' });
    await bundle();
    finalize();
    expect(existsSync(join(service, '.esbuild'))).toBe(false);
    expect(readFileSync(join(service, 'serverless.yml'), 'utf8')).toBe('service: kept\n');
  });

  it('refuses a work folder that is the service folder or outside it, and removes nothing', async () => {
    leftovers('.esbuild');
    for (const folder of ['.', './', 'build/..', '..', `..${sep}elsewhere`]) {
      const { bundle, finalize } = pluginFor({ outputWorkFolder: folder });
      await expect(bundle(), folder).rejects.toThrow(/is not inside the service folder .*: refusing to remove it/);
      finalize();
    }
    expect(existsSync(join(service, '.esbuild', '.build', 'stale.mjs.1-1.tmp'))).toBe(true);
    expect(existsSync(lockFile())).toBe(false);
  });

  it('waits while a live process holds the lock, saying which, then takes it over when that process is gone', async () => {
    leftovers('.esbuild');
    const holder = sleeper();
    try {
      writeFileSync(lockFile(), JSON.stringify({ pid: holder.pid, token: 'another packaging' }));
      const { bundle, finalize, notices } = pluginFor();
      let done = false;
      const bundled = Promise.resolve(bundle()).then(() => {
        done = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(done).toBe(false);
      expect(existsSync(join(service, '.esbuild'))).toBe(true);
      expect(notices).toEqual([`Waiting for another packaging of this service (pid ${holder.pid}) to end`]);
      holder.kill('SIGKILL');
      await bundled;
      expect(existsSync(join(service, '.esbuild'))).toBe(false);
      expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toMatchObject({ pid: process.pid });
      finalize();
      expect(existsSync(lockFile())).toBe(false);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it("takes the lock before the packaging's first step, which removes `.serverless`, and keeps it to its end", async () => {
    leftovers('.esbuild');
    const { cleanup, bundle, finalize } = pluginFor();
    await cleanup();
    expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toMatchObject({ pid: process.pid });
    expect(existsSync(join(service, '.esbuild'))).toBe(true);
    await bundle();
    expect(existsSync(join(service, '.esbuild'))).toBe(false);
    expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toMatchObject({ pid: process.pid });
    finalize();
    expect(existsSync(lockFile())).toBe(false);
  });

  it("keeps a deploy's lock past its packaging, through the upload of its artifacts, and no longer", async () => {
    const { cleanup, bundle, finalize, uploaded } = pluginFor({}, ['deploy']);
    await cleanup();
    await bundle();
    finalize();
    expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toMatchObject({ pid: process.pid });
    uploaded();
    expect(existsSync(lockFile())).toBe(false);
  });

  /** Backdates `file` by `ms`. */
  const age = (file: string, ms: number) => utimesSync(file, new Date(Date.now() - ms), new Date(Date.now() - ms));

  it('takes over at once a lock whose holder has ended, or that no holder wrote a while ago', async () => {
    for (const left of [JSON.stringify({ pid: Number(endedPid()), token: 'killed packaging' }), '{"pid": 1, "tok']) {
      leftovers('.esbuild');
      writeFileSync(lockFile(), left);
      age(lockFile(), FreshWorkFolder.HALF_WRITTEN_MS + 1_000);
      const { bundle, finalize, notices } = pluginFor();
      await bundle();
      expect(notices).toEqual([]);
      expect(existsSync(join(service, '.esbuild'))).toBe(false);
      finalize();
      expect(existsSync(lockFile())).toBe(false);
    }
  });

  it('leaves alone a lock file just created and not yet written (no hard links), and takes it over later', () => {
    writeFileSync(lockFile(), '');
    expect(FreshWorkFolder.tryLock(lockFile(), 'waiter')).toBe(0);
    expect(readFileSync(lockFile(), 'utf8')).toBe('');
    age(lockFile(), FreshWorkFolder.HALF_WRITTEN_MS + 1_000);
    expect(FreshWorkFolder.tryLock(lockFile(), 'waiter')).toBeUndefined();
    expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toEqual({ pid: process.pid, token: 'waiter' });
    FreshWorkFolder.unlock(lockFile(), 'waiter');
    expect(existsSync(lockFile())).toBe(false);
  });

  it('locks without hard links (FAT, exFAT): created exclusively, one holder at a time', () => {
    const link = FreshWorkFolder.io.link;
    for (const code of ['EPERM', 'ENOTSUP', 'ENOSYS']) {
      FreshWorkFolder.io.link = () => {
        throw Object.assign(new Error(`link: ${code}`), { code });
      };
      try {
        expect(FreshWorkFolder.tryLock(lockFile(), 'first'), code).toBeUndefined();
        expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toEqual({ pid: process.pid, token: 'first' });
        // This process is alive: a second packager waits for it.
        expect(FreshWorkFolder.tryLock(lockFile(), 'second')).toBe(process.pid);
        FreshWorkFolder.unlock(lockFile(), 'first');
        expect(FreshWorkFolder.tryLock(lockFile(), 'second')).toBeUndefined();
        FreshWorkFolder.unlock(lockFile(), 'second');
        expect(readdirSync(service).filter((name) => name.startsWith(FreshWorkFolder.LOCK_NAME))).toEqual([]);
      } finally {
        FreshWorkFolder.io.link = link;
      }
    }
    // Any other failure of the link is no file system without hard links: it is raised.
    FreshWorkFolder.io.link = () => {
      throw Object.assign(new Error('link: EACCES'), { code: 'EACCES' });
    };
    try {
      expect(() => FreshWorkFolder.tryLock(lockFile(), 'first')).toThrow(/EACCES/);
      expect(existsSync(lockFile())).toBe(false);
    } finally {
      FreshWorkFolder.io.link = link;
    }
  });

  it('never removes a lock taken over meanwhile: a takeover re-checks its holder under the takeover guard', () => {
    const dead = { pid: Number(endedPid()), token: 'killed packaging' };
    writeFileSync(lockFile(), JSON.stringify(dead));
    const seenByAll = { ...dead, ageMs: 0 };
    // W1 takes the abandoned lock over; W2 and W3 saw the same dead holder before it did.
    expect(FreshWorkFolder.tryLock(lockFile(), 'W1')).toBeUndefined();
    expect(FreshWorkFolder.takeOver(lockFile(), 'W2', seenByAll)).toBe(true);
    expect(FreshWorkFolder.tryLock(lockFile(), 'W3')).toBe(process.pid);
    expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toEqual({ pid: process.pid, token: 'W1' });
    FreshWorkFolder.unlock(lockFile(), 'W1');

    // While a live process's takeover is under way, others wait for it (0: no holder to name) and touch nothing.
    writeFileSync(lockFile(), JSON.stringify(dead));
    const guard = `${lockFile()}.takeover`;
    writeFileSync(guard, JSON.stringify({ pid: process.pid, token: 'W1' }));
    expect(FreshWorkFolder.tryLock(lockFile(), 'W2')).toBe(0);
    expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toEqual(dead);
    // A guard left by a takeover that was killed is cleared, and the takeover goes on.
    writeFileSync(guard, JSON.stringify(dead));
    expect(FreshWorkFolder.tryLock(lockFile(), 'W2')).toBe(0);
    expect(existsSync(guard)).toBe(false);
    expect(FreshWorkFolder.tryLock(lockFile(), 'W2')).toBeUndefined();
    expect(existsSync(guard)).toBe(false);
    FreshWorkFolder.unlock(lockFile(), 'W2');
    expect(existsSync(lockFile())).toBe(false);
  });

  it('goes on under a lock taken on its behalf (the tests), and leaves it to its taker', async () => {
    leftovers('.esbuild');
    const holder = sleeper();
    process.env[FreshWorkFolder.LOCK_TOKEN_ENV] = 'the test process';
    try {
      writeFileSync(lockFile(), JSON.stringify({ pid: holder.pid, token: 'the test process' }));
      const { bundle, finalize } = pluginFor();
      await bundle();
      finalize();
      expect(existsSync(join(service, '.esbuild'))).toBe(false);
      expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toEqual({ pid: holder.pid, token: 'the test process' });
    } finally {
      delete process.env[FreshWorkFolder.LOCK_TOKEN_ENV];
      holder.kill('SIGKILL');
      rmSync(lockFile(), { force: true });
    }
  });
});

// Two packagings at once, as two terminals (or `npm run package` beside the tests) start them: the second waits.
// Without the lock, one's first step removed the other's `.serverless` and its templates with it.
describe('two `serverless package` started at once', () => {
  const run = (dir: string) =>
    new Promise<{ status: number | null; output: string }>((resolve) => {
      mkdirSync(join(dir, '.tmp'));
      const child = spawn(
        join(ROOT, 'node_modules', '.bin', 'serverless'),
        ['package', '--stage', 'test', '--region', 'eu-west-1', '--package', join(dir, 'out')],
        {
          cwd: ROOT,
          env: {
            ...process.env,
            AWS_ACCESS_KEY_ID: '',
            AWS_SECRET_ACCESS_KEY: '',
            AWS_PROFILE: '',
            SLS_TELEMETRY_DISABLED: '1',
            TMPDIR: join(dir, '.tmp'),
            [FreshWorkFolder.LOCK_TOKEN_ENV]: '',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
      });
      // Two packagings, one after the other, and maybe another test file's before them.
      const killer = setTimeout(() => child.kill('SIGKILL'), 400_000);
      child.on('close', (status) => {
        clearTimeout(killer);
        resolve({ status, output });
      });
    });

  it('take turns, and each writes the whole packaging', async () => {
    const dirs = [mkdtempSync(join(tmpdir(), 'trailguard-at-once-')), mkdtempSync(join(tmpdir(), 'trailguard-at-once-'))];
    try {
      const runs = await Promise.all(dirs.map(run));
      for (const { status, output } of runs) expect({ status, output }).toMatchObject({ status: 0 });
      expect(runs.filter(({ output }) => /Waiting for another packaging of this service \(pid \d+\) to end/.test(output)).length).toBeGreaterThan(0);
      const [first, second] = dirs.map((dir) => join(dir, 'out')) as [string, string];
      expect(readdirSync(first)).toContain('cloudformation-template-create-stack.json');
      expect(readdirSync(second).sort()).toEqual(readdirSync(first).sort());
      expect(hashesIn(second)).toEqual(hashesIn(first));
    } finally {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  }, 420_000);
});
