// The deployment artifacts as `serverless package` emits them, and the naive build they are compared with.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

// yauzl ships no types; the few members used here (the same reader as scripts/recompress-artifacts.cjs).
interface ZipEntry {
  readonly fileName: string;
}
interface ZipFile {
  on(event: 'entry', listener: (entry: ZipEntry) => void): void;
  on(event: 'end', listener: () => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  readEntry(): void;
  openReadStream(entry: ZipEntry, callback: (error: Error | null, stream?: NodeJS.ReadableStream) => void): void;
}
const yauzl = createRequire(import.meta.url)('yauzl') as {
  open(path: string, options: { lazyEntries: boolean }, callback: (error: Error | null, zip?: ZipFile) => void): void;
};

export const ROOT = join(import.meta.dirname, '..');

/** One function's artifact: the zip as packaged, and its files unpacked to `dir`. */
export interface Artifact {
  /** The serverless function name (the zip's name): publicBucket, publicBucketSweep, … */
  readonly name: string;
  readonly rule: string;
  /** The handler module inside the zip, without extension: functions/public-bucket/handler. */
  readonly entry: string;
  readonly zipBytes: number;
  readonly handlerBytes: number;
  readonly mapBytes: number;
  /** The unpacked handler module, ready to import. */
  readonly handlerPath: string;
}

/**
 * `serverless package` takes 15–30 s here, and waits for another packaging of this checkout to end
 * (scripts/fresh-work-folder.cjs's lock): three minutes means it hangs (as it once did on a source-map race).
 */
export const PACKAGE_TIMEOUT_MS = 180_000;

/**
 * Runs `serverless package` into `dir`: the artifacts' names. The framework's own script is run with this Node
 * (not through npx), so the timeout's kill reaches it, not a wrapper.
 */
export function packageService(dir: string, timeoutMs = PACKAGE_TIMEOUT_MS): string[] {
  const run = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'osls', 'bin', 'serverless.js'), 'package', '--package', dir, '--stage', 'dev'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1' },
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.error && (run.error as NodeJS.ErrnoException).code === 'ETIMEDOUT')
    throw new Error(`serverless package: no exit after ${timeoutMs / 1000} s, killed:\n${run.stderr}\n${run.stdout}`);
  if (run.error) throw run.error;
  const zips = run.status === 0 ? readdirSync(dir).filter((f) => f.endsWith('.zip')) : [];
  if (zips.length === 0 || zips.some((zip) => statSync(join(dir, zip)).size <= 22))
    throw new Error(`serverless package exited ${run.status}${run.status === 0 ? ', its zips empty' : ''}:\n${run.stderr}\n${run.stdout}`);
  return zips.sort();
}

function unzip(path: string): Promise<{ name: string; data: Buffer }[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (error, zip) => {
      if (error || !zip) return reject(error ?? new Error(`cannot open ${path}`));
      const entries: { name: string; data: Buffer }[] = [];
      zip.on('entry', (entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (streamError, stream) => {
          if (streamError || !stream) return reject(streamError);
          const chunks: Buffer[] = [];
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', () => {
            entries.push({ name: entry.fileName, data: Buffer.concat(chunks) });
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(entries));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/** Sizes each artifact and unpacks it under `dir/unpacked/<name>/`. */
export async function readArtifacts(dir: string, zips: readonly string[]): Promise<Artifact[]> {
  const artifacts: Artifact[] = [];
  for (const zip of zips) {
    const name = zip.replace(/\.zip$/, '');
    const entries = await unzip(join(dir, zip));
    const out = join(dir, 'unpacked', name);
    for (const entry of entries) {
      mkdirSync(dirname(join(out, entry.name)), { recursive: true });
      writeFileSync(join(out, entry.name), entry.data);
    }
    // A rule's function (functions/<rule>/), or a stack job's (jobs/<job>/, the weekly exemption notice).
    const modules = entries.filter((e) => /^(functions|jobs)\/[^/]+\/[^/]+\.mjs$/.test(e.name));
    const handler = modules[0];
    if (!handler || modules.length > 1) throw new Error(`${zip} should hold one functions/<rule>/<handler>.mjs (or jobs/<job>/), holds ${modules.length}`);
    const map = entries.find((e) => e.name === `${handler.name}.map`);
    artifacts.push({
      name,
      rule: handler.name.split('/')[1] as string,
      entry: handler.name.replace(/\.mjs$/, ''),
      zipBytes: statSync(join(dir, zip)).size,
      handlerBytes: handler.data.length,
      mapBytes: map?.data.length ?? 0,
      handlerPath: join(out, handler.name),
    });
  }
  return artifacts;
}

function filesUnder(folder: string, test: (file: string) => boolean): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = join(folder, entry.name);
    return entry.isDirectory() ? filesUnder(full, test) : test(entry.name) ? [full] : [];
  });
}

/**
 * The naive build: every project .ts file transpiled one to one (esbuild, `bundle: false`) into `dir`,
 * imports left pointing at node_modules, so the handler loads the full SDK clients as Node resolves them.
 */
export async function naiveBuild(dir: string): Promise<void> {
  const sources = ['functions', 'shared'].flatMap((folder) => filesUnder(join(ROOT, folder), (f) => f.endsWith('.ts') && !f.endsWith('.d.ts')));
  await build({
    entryPoints: sources,
    outdir: dir,
    outbase: ROOT,
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    supported: { 'import-attributes': true },
    logLevel: 'error',
  });
  for (const json of ['functions', 'shared'].flatMap((folder) => filesUnder(join(ROOT, folder), (f) => f.endsWith('.json')))) {
    const target = join(dir, relative(ROOT, json));
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(json, target);
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
}

/** The bytes of a file (for the report). */
export const sizeOf = (path: string): number => readFileSync(path).length;
