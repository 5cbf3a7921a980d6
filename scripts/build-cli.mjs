// Builds the operator's CLI (bin/trailguard.mjs runs it) into dist/cli/ with esbuild, and checks whether that build is
// still the build of the sources. A stale CLI would decide with old rules, so the bin checks the manifest written
// here on every start (stat only, but for inputs whose mtime said too little; see NEAR_MS) and rebuilds when any
// input changed. Each build has a folder of its own (dist/cli/builds/<id>/: entries, chunks, replay worker) and the
// manifest names the current one, so a process started on an older build keeps loading that build's chunks.
//
//   node scripts/build-cli.mjs               build (npm ci runs it as `prepare`)
//   node scripts/build-cli.mjs --if-esbuild  the same, but a production install without esbuild only says so
import {
  closeSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = resolve(import.meta.dirname, '..');
/** Where the bundle goes: dist/cli/, or TRAILGUARD_CLI_DIST (tests build into a scratch folder). */
export const distOf = (env = process.env) => resolve(env.TRAILGUARD_CLI_DIST || join(ROOT, 'dist', 'cli'));

const MANIFEST = 'manifest.json';
const MANIFEST_FORMAT = 3;
/** dist/cli/builds/<id>/: one folder a build. */
const BUILDS = 'builds';
/** A build's id: base-36 time, the builder's pid (an unfinished build whose builder is gone is removed), a nonce. */
const BUILD_ID = /^[0-9a-z]+-(\d+)-[0-9a-f]+$/;
/** The bundle's entries: output name → source. The replay worker is built when its source exists. */
const ENTRY_SOURCES = { trailguard: 'cli/main.ts', 'replay-worker': 'cli/replay-worker.ts' };
/**
 * Files the bundle depends on besides the esbuild inputs: how it is built, how modules resolve, and which packages
 * are installed (npm rewrites node_modules/.package-lock.json on every install, so an SDK upgrade rebuilds too).
 */
const BUILD_FILES = ['scripts/build-cli.mjs', 'package.json', 'package-lock.json', 'node_modules/.package-lock.json', 'tsconfig.json'];
/** The member stack generator reads serverless files beside its source at run time, so that command runs from sources. */
const FROM_SOURCES_ONLY = join(ROOT, 'cli', 'member-template.ts');
/**
 * An input whose mtime is in the future, or this close to the build's start, gets its sha256 in the manifest too: on a
 * filesystem with whole-second (FAT: 2 s) mtimes a same-size edit in the build's second keeps size and mtime, and
 * a future mtime (clock skew, a tarball) is no sign of an edit at all. Only those are read at start.
 */
const NEAR_MS = 2_000;
/** Recorded for an input written while esbuild ran, whose contents as bundled are unknown: the next start rebuilds. */
const CHANGED_DURING_BUILD = -2;
/** A lock whose owner is alive is waited for this long, at most (its pid may have been reused since). */
const LOCK_STALE_MS = 120_000;
/** Waiting longer than this for another process's build says so, once. */
const WAIT_NOTE_MS = 1_000;
/** A build that is no longer current is kept this long after it was replaced: a process started on it loads its chunks late. */
const OLD_BUILD_MS = 24 * 3_600_000;

// node:crypto costs a start ~2 ms to load, and a start needs it only for a NEAR_MS input: loaded when used.
const crypto = () => createRequire(import.meta.url)('node:crypto');
const randomHex = (bytes) => crypto().randomBytes(bytes).toString('hex');
const sha256Of = (bytes) => crypto().createHash('sha256').update(bytes).digest('hex');

/** A file's sha256, or undefined when it cannot be read (then no recorded hash matches). */
const sha256 = (path) => {
  let bytes;
  try {
    bytes = readFileSync(join(ROOT, path));
  } catch {
    return undefined;
  }
  return sha256Of(bytes);
};

/** An input as the manifest records it: path from the repository root, size, mtime; -1, -1 when there is no such file. */
function stamp(path) {
  try {
    const s = statSync(join(ROOT, path));
    return [path, s.size, s.mtimeMs];
  } catch {
    return [path, -1, -1];
  }
}

const validInput = (i) =>
  Array.isArray(i)
  && (i.length === 3 || (i.length === 4 && typeof i[3] === 'string' && /^[0-9a-f]{64}$/.test(i[3])))
  && typeof i[0] === 'string'
  && typeof i[1] === 'number'
  && typeof i[2] === 'number';

/** The manifest, or undefined when there is none or it is not one this script wrote. */
function readManifest(file) {
  try {
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    const wellFormed =
      manifest?.format === MANIFEST_FORMAT
      && typeof manifest.build === 'string'
      && BUILD_ID.test(manifest.build)
      && Array.isArray(manifest.inputs)
      && manifest.inputs.length > 0
      && manifest.inputs.every(validInput)
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
 * The current build's folder when it is the build of the sources now, else why not (no manifest, a changed input,
 * an entry added or missing). Stats only, ~3,000 files in a few milliseconds, and a hash of the few NEAR_MS inputs.
 */
function check(dist) {
  const manifest = readManifest(join(dist, MANIFEST));
  if (!manifest) return { why: 'no build, or an unreadable manifest' };
  for (const [name, source] of Object.entries(ENTRY_SOURCES)) {
    if (manifest.entries.includes(name) !== existsSync(join(ROOT, source))) return { why: `${source} was added or removed` };
  }
  const dir = join(dist, BUILDS, manifest.build);
  const missing = manifest.outputs.find((file) => !existsSync(join(dir, file)));
  if (missing) return { why: `${missing} is missing` };
  for (const [path, size, mtimeMs, hash] of manifest.inputs) {
    const [, nowSize, nowMtime] = stamp(path);
    if (size === CHANGED_DURING_BUILD || nowSize !== size || nowMtime !== mtimeMs) return { why: `${path} changed` };
    if (hash !== undefined && sha256(path) !== hash) return { why: `${path} changed` };
  }
  return { dir };
}

/** Why the build in `dist` is not the build of the sources now, or undefined when it is. */
export const staleness = (dist = distOf()) => check(dist).why;

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

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error?.code === 'EPERM'; // someone else's process
  }
};

/**
 * Builds into a folder of its own, dist/cli/builds/<id>/, then points the manifest at it (written beside, then
 * renamed over the old one): a process starting meanwhile reads either the old manifest and the old build or the new
 * ones, never a half-written file; one started on the old build keeps it for OLD_BUILD_MS.
 * `onFolder` learns the folder before anything is written to it (ensureBuilt removes it on an interruption).
 */
export async function buildCli(dist = distOf(), onFolder = () => {}) {
  const esbuild = await loadEsbuild();
  if (!esbuild) throw new NoEsbuild('esbuild is not installed (a production install?): run `npm ci` with dev dependencies to build the CLI');
  const entries = Object.fromEntries(Object.entries(ENTRY_SOURCES).filter(([, source]) => existsSync(join(ROOT, source))));
  const id = `${Date.now().toString(36)}-${process.pid}-${randomHex(4)}`;
  const dir = join(dist, BUILDS, id);
  onFolder(dir);
  const startedAt = Date.now();
  // How the build files were before esbuild read them: one edited in the build's second shows no other sign.
  const before = new Map(BUILD_FILES.map((path) => [path, [stamp(path), sha256(path)]]));
  // What esbuild bundled of the project's own sources: a file edited while it ran is recorded with the hash it read.
  const loaded = new Map();
  let done = false;
  try {
    mkdirSync(dir, { recursive: true });
    const result = await esbuild.build({
      absWorkingDir: ROOT,
      entryPoints: entries,
      outdir: dir,
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
      // Chunks land in the build's folder, so cli/replay-pool.ts's `new URL('./replay-worker.mjs', import.meta.url)`
      // finds the worker of its own build.
      splitting: true,
      logLevel: 'warning',
      // The sources find files beside themselves (package.json from cli/main.ts): the bundle looks where they are.
      define: { 'import.meta.dirname': '__trailguardSourceDir' },
      banner: {
        js: [
          "import { createRequire as __trailguardCreateRequire } from 'node:module';",
          "import { fileURLToPath as __trailguardFileURLToPath } from 'node:url';",
          'const require = __trailguardCreateRequire(import.meta.url);',
          `const __trailguardSourceDir = __trailguardFileURLToPath(new URL(${JSON.stringify(sourceDirFrom(dir))}, import.meta.url));`,
        ].join(' '),
      },
      plugins: [fromSourcesOnly, hashingLoads(loaded)],
    });
    const finishedAt = Date.now();
    const inputs = [...inputsOf(result.metafile), ...BUILD_FILES].map((path) => {
      const entry = stamp(path);
      if (entry[2] < startedAt - NEAR_MS) return entry;
      const hash = loaded.get(path) ?? (before.has(path) ? buildFileHash(before.get(path), entry) : undefined);
      if (hash) return [...entry, hash];
      // Written while esbuild ran, and not read through hashingLoads: which version was bundled is unknown.
      if (entry[2] >= startedAt && entry[2] <= finishedAt) return [path, CHANGED_DURING_BUILD, CHANGED_DURING_BUILD];
      const now = sha256(path);
      return now ? [...entry, now] : entry;
    });
    const outputs = readdirSync(dir);
    const manifest = { format: MANIFEST_FORMAT, esbuild: esbuild.version, build: id, entries: Object.keys(entries), outputs, inputs };
    const text = `${JSON.stringify(manifest)}\n`;
    // The copy inside marks the build finished (an unfinished one is removed once its builder is gone).
    writeFileSync(join(dir, MANIFEST), text);
    const previous = readManifest(join(dist, MANIFEST))?.build;
    const next = join(dist, `${MANIFEST}.${id}`);
    writeFileSync(next, text);
    renameSync(next, join(dist, MANIFEST));
    done = true;
    // The replaced build's age counts from now: processes started on it have OLD_BUILD_MS from here.
    if (previous && previous !== id) {
      const now = new Date();
      try {
        utimesSync(join(dist, BUILDS, previous), now, now);
      } catch {
        // already removed
      }
    }
    try {
      removeOldBuilds(dist, id);
    } catch {
      // Tidying only: the build is current, and the next build tries again.
    }
    return manifest;
  } finally {
    if (!done) rmSync(dir, { recursive: true, force: true });
  }
}

/** A build file's hash as it was before the build, or undefined when it changed during the build. */
function buildFileHash([stampBefore, hash], stampAfter) {
  return stampBefore[1] === stampAfter[1] && stampBefore[2] === stampAfter[2] ? hash : undefined;
}

const LOADERS = { '.ts': 'ts', '.mts': 'ts', '.tsx': 'tsx' };

/** Loads the project's TypeScript itself (not node_modules), noting the sha256 of exactly what esbuild bundles. */
function hashingLoads(loaded) {
  return {
    name: 'hash-what-is-bundled',
    setup(build) {
      build.onLoad({ filter: /\.(m?ts|tsx)$/ }, (args) => {
        const path = relative(ROOT, args.path).split(sep).join('/');
        if (args.namespace !== 'file' || path.startsWith('..') || path.includes('node_modules/')) return undefined;
        const contents = readFileSync(args.path);
        loaded.set(path, sha256Of(contents));
        return { contents, loader: LOADERS[/\.\w+$/.exec(path)[0]] };
      });
    },
  };
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

const olderThan = (path, ms) => (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) < Date.now() - ms;

/**
 * Removes builds that are neither current nor OLD_BUILD_MS past their replacement, builds left unfinished by a
 * builder that is gone, and what earlier versions of this script left: a flat dist/cli/ and dist/cli.build-<pid>-*.
 */
function removeOldBuilds(dist, current) {
  const builds = join(dist, BUILDS);
  for (const id of readdirSync(builds)) {
    if (id === current) continue;
    const dir = join(builds, id);
    const pid = Number(BUILD_ID.exec(id)?.[1]);
    const abandoned = !existsSync(join(dir, MANIFEST)) && !(pid > 0 && alive(pid));
    if (abandoned || olderThan(dir, OLD_BUILD_MS)) rmSync(dir, { recursive: true, force: true });
  }
  for (const file of readdirSync(dist)) {
    const path = join(dist, file);
    const leftover = /\.mjs(\.map)?$/.test(file) || (file.startsWith(`${MANIFEST}.`) && !alive(Number(BUILD_ID.exec(file.slice(MANIFEST.length + 1))?.[1])));
    if (leftover && olderThan(path, file.endsWith('.map') || file.endsWith('.mjs') ? OLD_BUILD_MS : 0)) rmSync(path, { force: true });
  }
  const scratch = new RegExp(`^${basename(dist).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.build-(\\d+)-\\d+$`);
  for (const name of readdirSync(dirname(dist))) {
    const pid = Number(scratch.exec(name)?.[1]);
    if (pid > 0 && !alive(pid)) rmSync(join(dirname(dist), name), { recursive: true, force: true });
  }
}

/** The bundle's path to cli/ (what import.meta.dirname was in cli/main.ts), relative so a moved checkout still works. */
function sourceDirFrom(dir) {
  const path = relative(dir, join(ROOT, 'cli')).split(sep).join('/');
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

/** Codes of a file system without hard links (FAT, exFAT, some network shares). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
/** A lock file with no owner's JSON in it may be one being written (the no-hard-link path): live this long. */
const HALF_WRITTEN_MS = 5_000;
/** The file operations that differ by file system: a test replaces `link` to act as one without hard links. */
export const lockIo = { link: (from, to) => linkSync(from, to) };

/**
 * The build lock, `<dist>.lock`: a file naming its owner's pid and a random token, made whole beside it and then
 * hard-linked into place (which fails when one exists), so no one reads a half-written lock and only the owner,
 * holding the token, removes it. Without hard links it is created exclusively, then written: a lock naming no
 * owner is left alone for HALF_WRITTEN_MS. Undefined when another process holds it.
 */
export function takeLock(lock) {
  const token = randomHex(12);
  const text = JSON.stringify({ pid: process.pid, token });
  const whole = `${lock}.${token}`;
  writeFileSync(whole, text);
  let linked = false;
  try {
    lockIo.link(whole, lock);
    linked = true;
  } catch (error) {
    if (error?.code === 'EEXIST') return undefined;
    if (!NO_LINKS.has(error?.code)) throw error;
  } finally {
    rmSync(whole, { force: true });
  }
  if (!linked) {
    let fd;
    try {
      fd = openSync(lock, 'wx');
    } catch (error) {
      if (error?.code === 'EEXIST') return undefined;
      throw error;
    }
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
  }
  return {
    token,
    /** Removes the lock if it is still this one: a process that took over a lock it thought abandoned owns it now. */
    release() {
      if (lockOwner(lock)?.token === token) rmSync(lock, { force: true });
    },
  };
}

/**
 * Who holds the lock: { pid, token, ageMs }; { ageMs } alone for a lock that names no owner (an earlier version's
 * lock folder); undefined when there is none.
 */
export function lockOwner(lock) {
  const s = statSync(lock, { throwIfNoEntry: false });
  if (!s) return undefined;
  const ageMs = Date.now() - s.mtimeMs;
  try {
    const { pid, token } = JSON.parse(readFileSync(lock, 'utf8'));
    if (Number.isSafeInteger(pid) && pid > 0 && typeof token === 'string') return { pid, token, ageMs };
  } catch {
    // not a lock this version wrote
  }
  return { ageMs };
}

/**
 * A lock no one will release: its owner is gone, or it named none for longer than a write takes, or it is older
 * than any build takes.
 */
export const abandoned = (owner) =>
  (owner.pid === undefined ? owner.ageMs > HALF_WRITTEN_MS : owner.pid === process.pid || !alive(owner.pid)) || owner.ageMs > LOCK_STALE_MS;

/**
 * Removes an abandoned lock, and only the one seen: it is moved aside first, and put back when what was moved is
 * another process's newer lock.
 */
function removeAbandoned(lock, seen) {
  const aside = `${lock}.abandoned-${randomHex(8)}`;
  try {
    renameSync(lock, aside);
  } catch {
    return; // gone already
  }
  if (lockOwner(aside)?.token !== seen.token) {
    try {
      linkSync(aside, lock);
    } catch {
      // a third process locked meanwhile; the owner moved aside finds its lock gone and builds as well (harmless)
    }
  }
  rmSync(aside, { recursive: true, force: true });
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Runs `work`, and runs `cleanup` also when the process is interrupted or exits meanwhile (then re-raises the signal). */
async function cleaningUp(cleanup, work) {
  let cleaned = false;
  const once = () => {
    if (!cleaned) {
      cleaned = true;
      cleanup();
    }
  };
  const onSignal = (signal) => {
    once();
    detach();
    process.kill(process.pid, signal);
  };
  const detach = () => {
    for (const signal of SIGNALS) process.removeListener(signal, onSignal);
    process.removeListener('exit', once);
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  process.on('exit', once);
  try {
    return await work();
  } finally {
    detach();
    once();
  }
}

/**
 * Makes sure `dist` holds a fresh build, building it when not, and returns the build's folder. Concurrent first
 * starts (tests spawn the bin in parallel) build once: the first takes the lock, the others wait for its manifest,
 * saying so after WAIT_NOTE_MS; a lock whose owner is gone is taken over at once.
 */
export async function ensureBuilt(dist = distOf(), log = (text) => process.stderr.write(text)) {
  const lock = `${dist}.lock`;
  mkdirSync(dirname(dist), { recursive: true });
  const waitingSince = Date.now();
  let noted = false;
  for (;;) {
    const fresh = check(dist);
    if (fresh.dir) return fresh.dir;
    const held = takeLock(lock);
    if (!held) {
      const owner = lockOwner(lock);
      if (owner && abandoned(owner)) {
        removeAbandoned(lock, owner);
        continue;
      }
      if (!noted && owner?.pid && Date.now() - waitingSince >= WAIT_NOTE_MS) {
        noted = true;
        log(`trailguard: waiting for the CLI build by pid ${owner.pid}…\n`);
      }
      await new Promise((done) => setTimeout(done, 100));
      continue;
    }
    let folder;
    return await cleaningUp(
      () => {
        // Interrupted or failed: the build's folder goes too unless the manifest already points at it.
        if (folder && readManifest(join(dist, MANIFEST))?.build !== basename(folder)) rmSync(folder, { recursive: true, force: true });
        held.release();
      },
      async () => {
        // Another process may have finished between the check and the lock.
        const still = check(dist);
        if (still.dir) return still.dir;
        log(`trailguard: building the CLI (${still.why})…\n`);
        const manifest = await buildCli(dist, (dir) => {
          folder = dir;
        });
        return join(dist, BUILDS, manifest.build);
      },
    );
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
