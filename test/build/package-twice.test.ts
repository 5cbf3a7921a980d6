import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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

  it('succeeds over the work folder a killed run left, and removes it', () => {
    expect(existsSync(WORK_FOLDER)).toBe(false);
  });

  it('writes the same artifacts, byte for byte, and nothing else', () => {
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
