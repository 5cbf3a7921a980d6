import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
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

let packaged: Packaged | undefined;

/** Runs `serverless package` once per test process (offline, no credentials) into a temp folder. */
export function packageOnce(): Packaged {
  if (packaged) return packaged;
  const dir = mkdtempSync(join(tmpdir(), 'trailguard-package-'));
  execFileSync(join(ROOT, 'node_modules', '.bin', 'serverless'), ['package', '--stage', 'test', '--region', 'eu-west-1', '--package', dir], {
    cwd: ROOT,
    stdio: 'pipe',
    env: { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', SLS_TELEMETRY_DISABLED: '1' },
  });
  const template = JSON.parse(readFileSync(join(dir, 'cloudformation-template-update-stack.json'), 'utf8'));
  const zips = Object.fromEntries(
    readdirSync(dir).filter((f) => f.endsWith('.zip')).map((f) => [f.replace(/\.zip$/, ''), statSync(join(dir, f)).size]),
  );
  packaged = { template, dir, zips };
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
