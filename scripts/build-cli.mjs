// Builds the operator's CLI (bin/trailguard.mjs runs it) into dist/cli/ with esbuild, and checks whether that build is
// still the build of the sources. A stale CLI would decide with old rules, so the bin checks the manifest written
// here on every start (stat only) and rebuilds when any input changed.
//
//   node scripts/build-cli.mjs               build (npm ci runs it as `prepare`)
//   node scripts/build-cli.mjs --if-esbuild  the same, but a production install without esbuild only says so
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = resolve(import.meta.dirname, '..');
/** Where the bundle goes: dist/cli/, or TRAILGUARD_CLI_DIST (tests build into a scratch folder). */
export const distOf = (env = process.env) => resolve(env.TRAILGUARD_CLI_DIST || join(ROOT, 'dist', 'cli'));

const MANIFEST = 'manifest.json';
const MANIFEST_FORMAT = 2;
/** The bundle's entries: output name → source. The replay worker is built when its source exists. */
const ENTRY_SOURCES = { trailguard: 'cli/main.ts', 'replay-worker': 'cli/replay-worker.ts' };
/**
 * Files the bundle depends on besides the esbuild inputs: how it is built, how modules resolve, and which packages
 * are installed (npm rewrites node_modules/.package-lock.json on every install, so an SDK upgrade rebuilds too).
 */
const BUILD_FILES = ['scripts/build-cli.mjs', 'package.json', 'package-lock.json', 'node_modules/.package-lock.json', 'tsconfig.json'];
/** The member stack generator reads serverless files beside its source at run time, so that command runs from sources. */
const FROM_SOURCES_ONLY = join(ROOT, 'cli', 'member-template.ts');
const LOCK_STALE_MS = 120_000;
/** Recorded for an input written while esbuild ran: its next check fails, so the next start rebuilds. */
const CHANGED_DURING_BUILD = -2;

/** An input as the manifest records it: path from the repository root, size, mtime; -1, -1 when there is no such file. */
function stamp(path) {
  try {
    const s = statSync(join(ROOT, path));
    return [path, s.size, s.mtimeMs];
  } catch {
    return [path, -1, -1];
  }
}

/** The manifest, or undefined when there is none or it is not one this script wrote. */
function readManifest(dist) {
  try {
    const manifest = JSON.parse(readFileSync(join(dist, MANIFEST), 'utf8'));
    const wellFormed =
      manifest?.format === MANIFEST_FORMAT
      && Array.isArray(manifest.inputs)
      && manifest.inputs.length > 0
      && manifest.inputs.every((i) => Array.isArray(i) && i.length === 3 && typeof i[0] === 'string' && typeof i[1] === 'number' && typeof i[2] === 'number')
      && Array.isArray(manifest.entries)
      && manifest.entries.every((e) => typeof e === 'string' && e in ENTRY_SOURCES)
      && Array.isArray(manifest.outputs)
      && manifest.outputs.every((o) => typeof o === 'string' && /^[\w.-]+$/.test(o));
    return wellFormed ? manifest : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why the build in `dist` is not the build of the sources now (no manifest, a changed input, an entry added or
 * missing), or undefined when it is. Stats only: ~3,000 files, a few milliseconds.
 */
export function staleness(dist = distOf()) {
  const manifest = readManifest(dist);
  if (!manifest) return 'no build, or an unreadable manifest';
  for (const [name, source] of Object.entries(ENTRY_SOURCES)) {
    if (manifest.entries.includes(name) !== existsSync(join(ROOT, source))) return `${source} was added or removed`;
  }
  const missing = manifest.outputs.find((file) => !existsSync(join(dist, file)));
  if (missing) return `${missing} is missing`;
  for (const [path, size, mtimeMs] of manifest.inputs) {
    const [, nowSize, nowMtime] = stamp(path);
    if (size === CHANGED_DURING_BUILD || nowSize !== size || nowMtime !== mtimeMs) return `${path} changed`;
  }
  return undefined;
}

/** Loads esbuild, or explains that this install has none (a production install: `npm ci --omit=dev`). */
async function loadEsbuild() {
  try {
    return await import('esbuild');
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    return undefined;
  }
}

export class NoEsbuild extends Error {}

/**
 * Builds into a folder of its own, then moves each file into `dist` by rename (chunks and maps first, the entries
 * next, the manifest last): a process starting meanwhile reads either the old manifest with the old bundle or the
 * new one with the new, never a half-written file.
 */
export async function buildCli(dist = distOf()) {
  const esbuild = await loadEsbuild();
  if (!esbuild) throw new NoEsbuild('esbuild is not installed (a production install?): run `npm ci` with dev dependencies to build the CLI');
  const entries = Object.fromEntries(Object.entries(ENTRY_SOURCES).filter(([, source]) => existsSync(join(ROOT, source))));
  mkdirSync(dirname(dist), { recursive: true });
  const scratch = `${dist}.build-${process.pid}-${Date.now()}`;
  const startedAt = Date.now();
  try {
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: entries,
      outdir: scratch,
      outExtension: { '.js': '.mjs' },
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      mainFields: ['module', 'main'],
      // Linked, without sources: an error's stack maps to cli/… and shared/… under --enable-source-maps, and a
      // start without that flag never reads the map.
      sourcemap: 'linked',
      sourcesContent: false,
      metafile: true,
      // cli/main.ts imports the commands when one runs: split, usage text loads a small chunk and never the SDK.
      splitting: true,
      logLevel: 'warning',
      // The sources find files beside themselves (package.json from cli/main.ts): the bundle looks where they are.
      define: { 'import.meta.dirname': '__trailguardSourceDir' },
      banner: {
        js: [
          "import { createRequire as __trailguardCreateRequire } from 'node:module';",
          "import { fileURLToPath as __trailguardFileURLToPath } from 'node:url';",
          'const require = __trailguardCreateRequire(import.meta.url);',
          `const __trailguardSourceDir = __trailguardFileURLToPath(new URL(${JSON.stringify(sourceDirFrom(dist))}, import.meta.url));`,
        ].join(' '),
      },
      plugins: [fromSourcesOnly],
    });
    const inputs = [...inputsOf(result.metafile), ...BUILD_FILES].map((path) => {
      const entry = stamp(path);
      // Edited while esbuild read it: which version was bundled is unknown, so the next start rebuilds.
      return entry[2] >= startedAt ? [entry[0], CHANGED_DURING_BUILD, CHANGED_DURING_BUILD] : entry;
    });
    const outputs = readdirSync(scratch);
    const manifest = { format: MANIFEST_FORMAT, esbuild: esbuild.version, entries: Object.keys(entries), outputs, inputs };
    writeFileSync(join(scratch, MANIFEST), `${JSON.stringify(manifest)}\n`);
    mkdirSync(dist, { recursive: true });
    const files = [...outputs, MANIFEST];
    const rank = (file) => (file === MANIFEST ? 2 : Object.keys(entries).some((name) => file === `${name}.mjs`) ? 1 : 0);
    for (const file of files.sort((a, b) => rank(a) - rank(b))) renameSync(join(scratch, file), join(dist, file));
    removeOldChunks(dist, new Set(files));
    return manifest;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * What the manifest checks of esbuild's inputs: each of the project's files, and of a package only its package.json
 * (~3,000 bundled files are ~100 packages; npm rewrites a package's package.json when it installs another version).
 */
function inputsOf(metafile) {
  const paths = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    if (input.startsWith('<')) continue; // esbuild's own runtime helpers
    const path = relative(ROOT, resolve(ROOT, input)).split(sep).join('/');
    const pkg = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1];
    paths.add(pkg ? `${pkg}/package.json` : path);
  }
  return [...paths].sort();
}

// A process started on an earlier build may still import its chunks (they are loaded when a command runs), so
// chunks no build uses any more are removed only once they are an hour old.
const OLD_CHUNK_MS = 3_600_000;

function removeOldChunks(dist, current) {
  for (const file of readdirSync(dist)) {
    if (current.has(file) || !/\.mjs(\.map)?$/.test(file)) continue;
    const old = (statSync(join(dist, file), { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) < Date.now() - OLD_CHUNK_MS;
    if (old) rmSync(join(dist, file), { force: true });
  }
}

/** The bundle's path to cli/ (what import.meta.dirname was in cli/main.ts), relative so a moved checkout still works. */
function sourceDirFrom(dist) {
  const path = relative(dist, join(ROOT, 'cli')).split(sep).join('/');
  return `${path}/`;
}

// `trailguard member-template` runs from sources (bin/trailguard.mjs sends it there): the generator it imports
// loads CommonJS helpers and serverless files from beside its own source file.
const fromSourcesOnly = {
  name: 'member-template-from-sources',
  setup(build) {
    build.onLoad({ filter: /[\\/]cli[\\/]member-template\.ts$/ }, (args) =>
      args.path === FROM_SOURCES_ONLY
        ? {
            loader: 'js',
            contents: [
              'export const MEMBER_STACK_FILE = undefined;',
              'export function memberTemplate() {',
              "  throw new Error('member-template runs from the sources: bin/trailguard.mjs sends it there');",
              '}',
            ].join('\n'),
          }
        : undefined,
    );
  },
};

/**
 * Makes sure `dist` holds a fresh build, building it when not. Concurrent first starts (tests spawn the bin in
 * parallel) build once: the first takes a lock folder, the others wait for its manifest; a lock left by a killed
 * build is taken over once old.
 */
export async function ensureBuilt(dist = distOf(), log = (text) => process.stderr.write(text)) {
  const lock = `${dist}.lock`;
  mkdirSync(dirname(dist), { recursive: true });
  for (;;) {
    const why = staleness(dist);
    if (why === undefined) return;
    try {
      mkdirSync(lock);
    } catch (error) {
      if (error?.code !== 'EEXIST') throw error;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > LOCK_STALE_MS) rmSync(lock, { recursive: true, force: true });
      else await new Promise((done) => setTimeout(done, 100));
      continue;
    }
    try {
      // Another process may have finished between the check and the lock.
      const still = staleness(dist);
      if (still === undefined) return;
      log(`trailguard: building the CLI (${still})…\n`);
      await buildCli(dist);
      return;
    } finally {
      rmdirSync(lock);
    }
  }
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const onlyWithEsbuild = process.argv.includes('--if-esbuild');
  try {
    await ensureBuilt(distOf(), () => {});
    process.stdout.write(`built ${relative(process.cwd(), distOf()) || '.'}\n`);
  } catch (error) {
    if (!(error instanceof NoEsbuild)) throw error;
    process.stderr.write(`build-cli: ${error.message}\n`);
    process.exitCode = onlyWithEsbuild ? 0 : 2;
  }
}
