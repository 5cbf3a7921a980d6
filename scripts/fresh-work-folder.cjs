// Serverless plugin, listed before serverless-esbuild: before each of its bundlings, (1) waits for any other
// packaging of this checkout to end, then (2) removes serverless-esbuild's work folder.
// (1) Two packagings at once delete each other's work: serverless-esbuild removes its work folder after each, and
// osls moves every artifact and the service state through the service's `.serverless`. The lock is a file in the
// service folder naming its holder's pid; a holder that is gone (killed) loses it to the next packaging.
// (2) serverless-esbuild's pack step zips every file under the work folder into each function's artifact, and it
// removes the folder only after a success: what a failed or killed run left there (a bundle no function has any
// more, a half-written temp file) would otherwise ship in the next artifacts.
const fs = require('node:fs');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const EsbuildServerlessPlugin = require('serverless-esbuild');

/** serverless-esbuild's hooks that bundle (test/build/package-twice.test.ts checks this list against its hooks). */
const BUNDLING_HOOKS = [
  'before:run:run',
  'before:offline:start',
  'before:offline:start:init',
  'before:package:createDeploymentArtifacts',
  'before:deploy:function:packageFunction',
  'before:invoke:local:invoke',
];
/** The lock's file name, in the service folder. */
const LOCK_NAME = '.packaging.lock';
/** A process that took the lock for the packaging it runs (the tests) names its token here: that packaging holds it. */
const LOCK_TOKEN_ENV = 'TRAILGUARD_PACKAGING_LOCK';
const WAIT_STEP_MS = 250;
/**
 * A packaging takes 20–60 s (a deploy holds the lock until its artifacts are uploaded); one holding the lock this
 * long hung (end it) or its pid was reused. Well below the `timeout`s around a whole packaging (.ci/run's 300 s,
 * lint-templates.sh's 600 s), so the error saying which pid and file prints before such a kill.
 */
const WAIT_LIMIT_MS = 4 * 60 * 1000;
/**
 * A lock file no holder's JSON is in may be one being written (the no-hard-link path below writes after creating):
 * live this long after its last write, abandoned after. A takeover's guard is held for a few file operations: one
 * this old was left by a killed process.
 */
const HALF_WRITTEN_MS = 5_000;
/** Codes of a file system without hard links (FAT, exFAT, some network shares). */
const NO_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
/** The file operations that differ by file system: a test replaces `link` to act as one without hard links. */
const io = { link: (from, to) => fs.linkSync(from, to) };

const isAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
};

/** The lock's holder, as its file says; undefined when there is none, `{ ageMs }` when the file is not a holder's. */
function holderOf(file) {
  let text;
  let ageMs;
  try {
    ageMs = Date.now() - fs.statSync(file).mtimeMs;
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const { pid, token } = JSON.parse(text);
    if (Number.isSafeInteger(pid) && pid > 0 && typeof token === 'string') return { pid, token, ageMs };
  } catch {
    // not a holder's (yet)
  }
  return { ageMs };
}

/** A holder that will never release: its process is gone, or it wrote no holder's JSON a while ago. */
const abandoned = (holder) => (holder.pid === undefined ? holder.ageMs > HALF_WRITTEN_MS : !isAlive(holder.pid));

/**
 * Creates `file` holding `token`'s holder, unless it exists: true when created. Written whole, then hard-linked in
 * place (nobody reads a half-written holder); without hard links, created exclusively and then written (a reader
 * meanwhile sees no holder's JSON, and `abandoned` leaves such a young file alone).
 */
function create(file, token) {
  const text = JSON.stringify({ pid: process.pid, token });
  const whole = `${file}.${token}`;
  fs.writeFileSync(whole, text);
  try {
    io.link(whole, file);
    return true;
  } catch (error) {
    if (error.code === 'EEXIST') return false;
    if (!NO_LINKS.has(error.code)) throw error;
  } finally {
    fs.rmSync(whole, { force: true });
  }
  let fd;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (error) {
    if (error.code === 'EEXIST') return false;
    throw error;
  }
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/**
 * Removes `file`'s lock if its holder is still `seen`, abandoned; false when another process's takeover is under
 * way. Takeovers go one at a time, through the guard `${file}.takeover`: the holder is re-read under it, and nothing
 * else replaces an abandoned lock (its holder is gone; a new lock needs the file absent), so the lock removed is the
 * one checked — never a lock another process took meanwhile.
 */
function takeOver(file, token, seen) {
  const guard = `${file}.takeover`;
  if (!create(guard, token)) {
    const other = holderOf(guard);
    // Left by a takeover killed midway; removed only if unchanged since read (best effort: such a kill is rare).
    if (other && (abandoned(other) || other.ageMs > HALF_WRITTEN_MS)) {
      if (holderOf(guard)?.token === other.token) fs.rmSync(guard, { force: true });
    }
    return false;
  }
  try {
    const now = holderOf(file);
    if (now && now.token === seen.token && abandoned(now)) fs.rmSync(file, { force: true });
    return true;
  } finally {
    unlock(guard, token);
  }
}

/**
 * One attempt at the lock in `file` for `token` (this process's pid): undefined when taken (or already held under
 * `token`), else the live holder's pid, or 0 for a lock being written or being taken over by another process. An
 * abandoned lock is taken over.
 */
function tryLock(file, token) {
  for (;;) {
    if (create(file, token)) return undefined;
    const holder = holderOf(file);
    if (holder === undefined) continue;
    if (holder.token === token) return undefined;
    if (!abandoned(holder)) return holder.pid ?? 0;
    // Another process's takeover is under way: waited for, not spun on.
    if (!takeOver(file, token, holder)) return 0;
  }
}

/** Releases the lock in `file` if `token` holds it. */
function unlock(file, token) {
  if (holderOf(file)?.token === token) fs.rmSync(file, { force: true });
}

class FreshWorkFolder {
  constructor(serverless, _options, logging) {
    this.serverless = serverless;
    this.log = logging?.log;
    this.token = undefined;
    this.hooks = Object.fromEntries(
      BUNDLING_HOOKS.map((hook) => [
        hook,
        async () => {
          await this.lock();
          this.remove();
        },
      ]),
    );
    // A packaging's first step (of `package` and `deploy`) removes the service's `.serverless`, and the next writes
    // the core template there: the lock is taken before either.
    this.hooks['before:package:cleanup'] = () => this.lock();
    // `serverless package` ends here. A deploy (osls spawns `package` inside it) goes on reading `.serverless` until
    // its artifacts are uploaded; the CloudFormation update after that reads them from S3, so the lock goes there.
    this.hooks['after:package:finalize'] = () => {
      if (this.serverless.processedInput?.commands?.join(' ') === 'package') this.unlock();
    };
    this.hooks['after:aws:deploy:deploy:uploadArtifacts'] = () => this.unlock();
  }

  /** serverless-esbuild's instance: its folders, as it resolved them (custom.esbuild, its config file, its defaults). */
  esbuild() {
    const plugin = this.serverless.pluginManager.plugins.find((candidate) => candidate instanceof EsbuildServerlessPlugin);
    if (!plugin?.workDirPath || !plugin.serviceDirPath) {
      throw new this.serverless.classes.Error('fresh-work-folder: serverless-esbuild is not loaded (list it after this plugin)');
    }
    return plugin;
  }

  async lock() {
    if (this.token !== undefined) return;
    const file = path.join(this.esbuild().serviceDirPath, LOCK_NAME);
    const given = process.env[LOCK_TOKEN_ENV];
    if (given && holderOf(file)?.token === given) return;
    const token = randomUUID();
    const deadline = Date.now() + WAIT_LIMIT_MS;
    let told;
    for (let holder = tryLock(file, token); holder !== undefined; holder = tryLock(file, token)) {
      if (Date.now() > deadline) {
        throw new this.serverless.classes.Error(
          `fresh-work-folder: ${holder ? `pid ${holder}` : 'another packaging'} has held ${file} for over ${WAIT_LIMIT_MS / 60_000} minutes: end it, or remove the file if it runs no packaging`,
        );
      }
      if (told !== holder) {
        (this.log?.notice ?? console.error)(`Waiting for another packaging of this service${holder ? ` (pid ${holder})` : ''} to end`);
      }
      told = holder;
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    }
    this.token = token;
    this.lockFile = file;
    // An error ends osls through its exit too; a killed process leaves its pid, gone, and the next one takes over.
    this.onExit = () => this.unlock();
    process.once('exit', this.onExit);
  }

  unlock() {
    if (this.token !== undefined) unlock(this.lockFile, this.token);
    this.token = undefined;
    if (this.onExit) process.removeListener('exit', this.onExit);
    this.onExit = undefined;
  }

  remove() {
    const { serviceDirPath, workDirPath } = this.esbuild();
    const inside = path.relative(path.resolve(serviceDirPath), path.resolve(workDirPath));
    // '' or '.' is the service folder itself (serverless-esbuild then uses its default), '..' a folder above it.
    if (inside === '' || inside === '..' || inside.startsWith(`..${path.sep}`) || path.isAbsolute(inside)) {
      throw new this.serverless.classes.Error(
        `fresh-work-folder: serverless-esbuild's work folder ${workDirPath} is not inside the service folder ${serviceDirPath}: refusing to remove it`,
      );
    }
    fs.rmSync(workDirPath, { recursive: true, force: true });
  }
}

module.exports = FreshWorkFolder;
module.exports.BUNDLING_HOOKS = BUNDLING_HOOKS;
module.exports.LOCK_NAME = LOCK_NAME;
module.exports.LOCK_TOKEN_ENV = LOCK_TOKEN_ENV;
module.exports.tryLock = tryLock;
module.exports.unlock = unlock;
module.exports.takeOver = takeOver;
module.exports.io = io;
module.exports.HALF_WRITTEN_MS = HALF_WRITTEN_MS;
