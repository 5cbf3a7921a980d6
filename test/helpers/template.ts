import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
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
const LOCK = join(tmpdir(), 'trailguard-package.lock');

/** Runs `fn` while holding a cross-process lock: two test files packaging at once would share serverless-esbuild's work folder. */
function whileLocked<T>(fn: () => T): T {
  const deadline = Date.now() + 170_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (Date.now() > deadline) throw new Error(`${LOCK} held for too long: remove it if no packaging runs`);
      if (Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 300_000) rmSync(LOCK, { recursive: true, force: true });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Runs `serverless package` once per test process and set of stage params (offline, no credentials) into a temp folder. */
export function packageOnce(params: Readonly<Record<string, string>> = {}): Packaged {
  const key = JSON.stringify(params);
  const done = packagedBy.get(key);
  if (done) return done;
  const dir = mkdtempSync(join(tmpdir(), 'trailguard-package-'));
  // serverless-esbuild leaves its work folders in the temp directory: give it one of ours, removed after.
  const scratch = join(dir, '.tmp');
  mkdirSync(scratch);
  const paramArgs = Object.entries(params).flatMap(([name, value]) => ['--param', `${name}=${value}`]);
  whileLocked(() => execFileSync(join(ROOT, 'node_modules', '.bin', 'serverless'), ['package', '--stage', 'test', '--region', 'eu-west-1', '--package', dir, ...paramArgs], {
    cwd: ROOT,
    stdio: 'pipe',
    env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', SLS_TELEMETRY_DISABLED: '1', TMPDIR: scratch },
  }));
  rmSync(scratch, { recursive: true, force: true });
  const template = JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));
  const zips = Object.fromEntries(
    readdirSync(dir).filter((f) => f.endsWith('.zip')).map((f) => [f.replace(/\.zip$/, ''), statSync(join(dir, f)).size]),
  );
  const packaged = { template, dir, zips };
  packagedBy.set(key, packaged);
  return packaged;
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
