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
/** A packaging takes 20–60 s; one holding the lock this long hung (end it) or its pid was reused. */
const WAIT_LIMIT_MS = 10 * 60 * 1000;

const isAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
};

/** The lock's holder, as its file says; undefined when there is none, `{}` when the file is not a holder's. */
function holderOf(file) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const { pid, token } = JSON.parse(text);
    return Number.isSafeInteger(pid) && pid > 0 && typeof token === 'string' ? { pid, token } : {};
  } catch {
    return {};
  }
}

/**
 * One attempt at the lock in `file` for `token` (this process's pid): undefined when taken (or already held under
 * `token`), else the live holder's pid. A holder whose pid is gone, or an unreadable file, is taken over.
 */
function tryLock(file, token) {
  for (;;) {
    // Written whole, then linked in place: link fails if the lock exists, and nobody reads a half-written holder.
    const mine = `${file}.${token}`;
    fs.writeFileSync(mine, JSON.stringify({ pid: process.pid, token }));
    try {
      fs.linkSync(mine, file);
      return undefined;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
    } finally {
      fs.rmSync(mine, { force: true });
    }
    const holder = holderOf(file);
    if (holder === undefined) continue;
    if (holder.token === token) return undefined;
    if (holder.pid !== undefined && isAlive(holder.pid)) return holder.pid;
    // Taken over by a rename, then checked: another waiter may have taken it over between our read and the rename.
    const stale = `${file}.stale.${token}`;
    try {
      fs.renameSync(file, stale);
    } catch (error) {
      if (error.code === 'ENOENT') continue;
      throw error;
    }
    const moved = holderOf(stale);
    if (moved?.token !== holder.token) {
      try {
        fs.linkSync(stale, file);
      } catch (error) {
        if (error.code !== 'EEXIST') throw error;
      }
    }
    fs.rmSync(stale, { force: true });
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
    // `serverless package` ends here; a deploy goes on reading `.serverless`, so it keeps the lock until it exits.
    this.hooks['after:package:finalize'] = () => {
      if (this.serverless.processedInput?.commands?.join(' ') === 'package') this.unlock();
    };
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
          `fresh-work-folder: pid ${holder} has held ${file} for over ${WAIT_LIMIT_MS / 60_000} minutes: end it, or remove the file if it runs no packaging`,
        );
      }
      if (told !== holder) (this.log?.notice ?? console.error)(`Waiting for another packaging of this service (pid ${holder}) to end`);
      told = holder;
      await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
    }
    this.token = token;
    this.lockFile = file;
    // An error ends osls through its exit too; a killed process leaves its pid, gone, and the next one takes over.
    process.once('exit', () => this.unlock());
  }

  unlock() {
    if (this.token !== undefined) unlock(this.lockFile, this.token);
    this.token = undefined;
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
