import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** A CloudFormation resource, loosely typed: tests navigate it. */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, any>;
  readonly Condition?: string;
}

export interface Packaged {
  readonly template: { Resources: Record<string, CfnResource>; Conditions?: Record<string, unknown>; Outputs?: Record<string, unknown> };
  readonly dir: string;
  readonly zips: Record<string, number>;
}

const packagedBy = new Map<string, Packaged>();
/** A packaging takes 20–60 s on these machines; one still running after this has hung. */
const PACKAGE_TIMEOUT_MS = 300_000;
const require = createRequire(import.meta.url);
const packagingLock = require('../../scripts/fresh-work-folder.cjs') as {
  LOCK_NAME: string;
  LOCK_TOKEN_ENV: string;
  tryLock: (file: string, token: string) => number | undefined;
  unlock: (file: string, token: string) => void;
};
/** The packaging plugin's lock (scripts/fresh-work-folder.cjs): the packagings the tests run hold it on their behalf. */
const LOCK = join(ROOT, packagingLock.LOCK_NAME);

/**
 * Runs `fn` holding the packaging lock, with the environment under which a `serverless package` it spawns holds it
 * too: two packagings at once share serverless-esbuild's work folder and `.serverless`.
 */
function whileLocked<T>(fn: (env: Readonly<Record<string, string>>) => T): T {
  const token = randomUUID();
  // Within the hook timeout (180 s, vitest.package.config.ts).
  const deadline = Date.now() + 170_000;
  for (let holder = packagingLock.tryLock(LOCK, token); holder !== undefined; holder = packagingLock.tryLock(LOCK, token)) {
    if (Date.now() > deadline) throw new Error(`waited 170 s for another packaging (pid ${holder}, ${LOCK})`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
  }
  try {
    return fn({ [packagingLock.LOCK_TOKEN_ENV]: token });
  } finally {
    packagingLock.unlock(LOCK, token);
  }
}

/** serverless-esbuild's work folder (its default, in the service folder): shared by every packaging of this checkout. */
export const WORK_FOLDER = join(ROOT, '.esbuild');

/**
 * `serverless package` (offline, no credentials) into `dir`; the exit status and output, whatever they are.
 * `beforeRun` runs under the packaging lock, just before: the only time the work folder is safely ours.
 */
function runPackage(dir: string, stage: string, params: Readonly<Record<string, string>>, beforeRun?: () => void): { status: number | null; output: string } {
  // serverless-esbuild leaves its work folders in the temp directory: give it one of ours, removed after.
  const scratch = join(dir, '.tmp');
  mkdirSync(scratch);
  const paramArgs = Object.entries(params).flatMap(([name, value]) => ['--param', `${name}=${value}`]);
  const result = whileLocked((lockEnv) => {
    beforeRun?.();
    return spawnSync(join(ROOT, 'node_modules', '.bin', 'serverless'), ['package', '--stage', stage, '--region', 'eu-west-1', '--package', dir, ...paramArgs], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', SLS_TELEMETRY_DISABLED: '1', TMPDIR: scratch, ...lockEnv },
      // spawnSync blocks the test worker, beyond vitest's timeouts: a packaging that hangs must fail, not stall CI.
      timeout: PACKAGE_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
  });
  rmSync(scratch, { recursive: true, force: true });
  if (result.error) {
    const timedOut = (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT';
    throw timedOut ? new Error(`serverless package --stage ${stage} still ran after ${PACKAGE_TIMEOUT_MS / 1000} s: killed, it hung`) : result.error;
  }
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Runs `serverless package` once per test process, stage and set of stage params into a temp folder; throws if it fails. */
export function packageOnce(params: Readonly<Record<string, string>> = {}, stage = 'test'): Packaged {
  const key = JSON.stringify([stage, params]);
  const done = packagedBy.get(key);
  if (done) return done;
  const packaged = packageInto(mkdtempSync(join(tmpdir(), 'trailguard-package-')), params, stage);
  packagedBy.set(key, packaged);
  return packaged;
}

/** Runs `serverless package` into `dir` (which may hold an earlier packaging), never cached; throws if it fails. */
export function packageInto(dir: string, params: Readonly<Record<string, string>> = {}, stage = 'test', beforeRun?: () => void): Packaged {
  const { status, output } = runPackage(dir, stage, params, beforeRun);
  if (status !== 0) throw new Error(`serverless package --stage ${stage} exited ${status}:\n${output}`);
  const template = JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));
  const zips = Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.zip'))
      .map((f) => [f.replace(/\.zip$/, ''), statSync(join(dir, f)).size]),
  );
  return { template, dir, zips };
}

/** Runs `serverless package` expecting a refusal: its exit status and output (stdout and stderr). */
export function packageRefused(params: Readonly<Record<string, string>>, stage: string): { status: number | null; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'trailguard-package-'));
  try {
    return runPackage(dir, stage, params);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Resources of one type, by logical id. */
export function resourcesOfType(template: Packaged['template'], type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

/** camelCase function key from a kebab rule id: `public-bucket` → `publicBucket`. */
export function functionKeyOf(ruleId: string): string {
  return ruleId.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** CloudFormation's logical-id prefix for a function key: `publicBucket` → `PublicBucket`. */
export function logicalPrefixOf(ruleId: string): string {
  const key = functionKeyOf(ruleId);
  return key.charAt(0).toUpperCase() + key.slice(1);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * True when an EventBridge pattern's top-level `source` admits `aws.` sources only: each matcher an exact `aws.…`
 * string or a `prefix` starting with `aws.` (no `anything-but`, `exists`, `wildcard`, `suffix`, no bare `aws`).
 * Only AWS services can emit such sources; a missing source admits anyone's custom events.
 */
export function admitsOnlyAwsSources(pattern: unknown): boolean {
  const source = isObject(pattern) ? pattern.source : undefined;
  if (!Array.isArray(source) || source.length === 0) return false;
  return source.every(
    (matcher) =>
      (typeof matcher === 'string' && matcher.startsWith('aws.'))
      || (isObject(matcher) && Object.keys(matcher).length === 1 && typeof matcher.prefix === 'string' && matcher.prefix.startsWith('aws.')),
  );
}

/** An IAM policy statement, loosely typed. */
export interface PolicyStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}

/** Every statement of every inline policy of every role of a template. */
export function roleStatementsOf(resources: Readonly<Record<string, CfnResource>>): [string, PolicyStatement][] {
  return Object.entries(resources)
    .filter(([, resource]) => resource.Type === 'AWS::IAM::Role')
    .flatMap(([id, role]) =>
      ((role.Properties?.Policies ?? []) as { PolicyDocument: { Statement: PolicyStatement[] } }[]).flatMap((policy) =>
        policy.PolicyDocument.Statement.map((statement) => [id, statement] as [string, PolicyStatement]),
      ),
    );
}

/** The statements granting an `s3:` action on bucket or object ARNs (`arn:…:s3:::…`). */
export function s3ResourceStatements(resources: Readonly<Record<string, CfnResource>>): [string, PolicyStatement][] {
  return roleStatementsOf(resources).filter(
    ([, statement]) => [statement.Action].flat().some((action) => action.startsWith('s3:')) && /:s3:::/.test(JSON.stringify(statement.Resource)),
  );
}
