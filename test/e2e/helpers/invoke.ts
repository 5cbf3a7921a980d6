import type { Context } from 'aws-lambda';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { resetProcessConfig, type Mode, type RuleId } from '../../../shared/config.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { REGION } from './emulator.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');

/** The Lambda environment of a test: what serverless.yml sets, pointed at the emulator. */
export interface LambdaEnv {
  readonly mode: Mode;
  readonly topicArn?: string;
  readonly stateTable?: string;
  readonly exemptions?: readonly object[];
  readonly rules?: object;
  readonly selfRoles?: string;
}

const toVariables = (env: LambdaEnv): Record<string, string | undefined> => ({
  TRAILGUARD_MODE: env.mode,
  TRAILGUARD_TOPIC_ARN: env.topicArn,
  TRAILGUARD_STATE_TABLE: env.stateTable,
  TRAILGUARD_EXEMPTIONS: env.exemptions ? JSON.stringify(env.exemptions) : undefined,
  TRAILGUARD_RULES: env.rules ? JSON.stringify(env.rules) : undefined,
  TRAILGUARD_SELF_ROLES: env.selfRoles ?? 'trailguard-*',
  TRAILGUARD_LOG_LEVEL: 'INFO',
  // Lambda runs in the events' region; the state table lives there too.
  AWS_REGION: REGION,
});

// Static imports only, so the bundler-free module graph sees each handler (no import by computed path).
const HANDLERS: Record<RuleId, () => Promise<{ handler: (event: unknown, context: Context) => Promise<RemediationRecord> }>> = {
  'public-bucket': () => import('../../../functions/public-bucket/handler.js'),
  'open-security-group': () => import('../../../functions/open-security-group/handler.js'),
  'trail-logging': () => import('../../../functions/trail-logging/handler.js'),
  'untagged-instance': () => import('../../../functions/untagged-instance/handler.js'),
  'shared-image-snapshot': () => import('../../../functions/shared-image-snapshot/handler.js'),
  'shared-db-snapshot': () => import('../../../functions/shared-db-snapshot/handler.js'),
  'outside-role-trust': () => import('../../../functions/outside-role-trust/handler.js'),
  'outside-bucket-policy': () => import('../../../functions/outside-bucket-policy/handler.js'),
  'trail-bucket-lifecycle': () => import('../../../functions/trail-bucket-lifecycle/handler.js'),
  'public-lambda-function': () => import('../../../functions/public-lambda-function/handler.js'),
  'root-activity': () => import('../../../functions/root-activity/handler.js'),
  'console-signin-without-mfa': () => import('../../../functions/console-signin-without-mfa/handler.js'),
  'console-signin-failures': () => import('../../../functions/console-signin-failures/handler.js'),
  'iam-policy-change': () => import('../../../functions/iam-policy-change/handler.js'),
  'kms-key-deletion': () => import('../../../functions/kms-key-deletion/handler.js'),
  'config-recorder-stopped': () => import('../../../functions/config-recorder-stopped/handler.js'),
  'network-change': () => import('../../../functions/network-change/handler.js'),
  's3-bucket-deleted': () => import('../../../functions/s3-bucket-deleted/handler.js'),
  'config-store-change': () => import('../../../functions/config-store-change/handler.js'),
  'network-logs-deleted': () => import('../../../functions/network-logs-deleted/handler.js'),
  'organization-left': () => import('../../../functions/organization-left/handler.js'),
  'instance-user-data-changed': () => import('../../../functions/instance-user-data-changed/handler.js'),
  'image-deregistered': () => import('../../../functions/image-deregistered/handler.js'),
  'federation-token-issued': () => import('../../../functions/federation-token-issued/handler.js'),
  'secrets-bulk-read': () => import('../../../functions/secrets-bulk-read/handler.js'),
  'parameters-bulk-decrypt': () => import('../../../functions/parameters-bulk-decrypt/handler.js'),
  'iam-enumerated-by-instance': () => import('../../../functions/iam-enumerated-by-instance/handler.js'),
  'instance-credentials-outside': () => import('../../../functions/instance-credentials-outside/handler.js'),
  'denied-calls-burst': () => import('../../../functions/denied-calls-burst/handler.js'),
  'instance-user-data-read': () => import('../../../functions/instance-user-data-read/handler.js'),
  'remote-session-spread': () => import('../../../functions/remote-session-spread/handler.js'),
  'console-access-added': () => import('../../../functions/console-access-added/handler.js'),
  'serial-console-enabled': () => import('../../../functions/serial-console-enabled/handler.js'),
  'trust-anchor-created': () => import('../../../functions/trust-anchor-created/handler.js'),
  'notebook-lifecycle-attached': () => import('../../../functions/notebook-lifecycle-attached/handler.js'),
  'model-access-enabled': () => import('../../../functions/model-access-enabled/handler.js'),
  'ses-enumeration': () => import('../../../functions/ses-enumeration/handler.js'),
  'bedrock-first-use': () => import('../../../functions/bedrock-first-use/handler.js'),
  'lambda-backdoor': () => import('../../../functions/lambda-backdoor/handler.js'),
};

const CONTEXT = {
  awsRequestId: 'e2e-request',
  functionName: 'trailguard-e2e',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:trailguard-e2e',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

/**
 * Invokes a rule's real Lambda handler in a fresh "container": the module graph is reset, so config,
 * client caches and the handler's deps are built anew from the environment, as on a cold start. Returns
 * the handler's record and the remediation-log lines it wrote.
 */
export async function invokeHandler(rule: RuleId, event: unknown, env: LambdaEnv): Promise<{ record: RemediationRecord; logs: Record<string, unknown>[] }> {
  vi.resetModules();
  return withLambdaEnv(env, async () => {
    const { resetProcessConfig } = await import('../../../shared/config.js');
    resetProcessConfig();
    const { logger } = await import('../../../shared/log.js');
    const logs: Record<string, unknown>[] = [];
    logger.setSink((line) => logs.push(JSON.parse(line) as Record<string, unknown>));
    const { handler } = await HANDLERS[rule]();
    const record = await handler(event, CONTEXT);
    return { record, logs };
  });
}

/**
 * Runs `fn` with the Lambda environment set (and the test file's config cache reset before and after), for
 * tests that call `run(rule, event, lambdaDeps())` with a modified rule. The environment is restored after.
 */
export async function withLambdaEnv<T>(env: LambdaEnv, fn: () => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  for (const [name, value] of Object.entries(toVariables(env))) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  resetProcessConfig();
  try {
    return await fn();
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
    resetProcessConfig();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'trailguard-e2e-'));
let files = 0;

/**
 * Runs `trailguard replay --mode <mode> [--notify] --format jsonl FILE` as a separate process (the bin, which runs
 * the CLI's bundle), with the Lambda-style environment; returns its exit code and records.
 */
/** Under the e2e tests' 30 s, so a replay that hangs fails with its own message. */
const REPLAY_TIMEOUT_MS = 25_000;

export async function replayCli(event: unknown, env: LambdaEnv): Promise<{ exit: number; records: RemediationRecord[]; stderr: string }> {
  files += 1;
  const file = join(dir, `event-${files}.json`);
  writeFileSync(file, JSON.stringify(event));
  const variables = Object.fromEntries(Object.entries({ ...process.env, ...toVariables(env) }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return new Promise((resolve, reject) => {
    // Replay publishes only with --notify; these tests compare its notifications with the handlers'.
    const notify = env.topicArn && env.mode !== 'offline' ? ['--notify'] : [];
    execFile(
      process.execPath,
      [join(ROOT, 'bin', 'trailguard.mjs'), 'replay', '--mode', env.mode, ...notify, '--format', 'jsonl', file],
      { cwd: ROOT, env: variables, timeout: REPLAY_TIMEOUT_MS },
      (error, stdout, stderr) => {
        if (error?.killed) return reject(new Error(`trailguard replay ran over ${REPLAY_TIMEOUT_MS / 1000} s: killed`));
        const exit = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        if (exit !== 0 && exit !== 1) return reject(new Error(`trailguard replay exited ${exit}: ${stderr}`));
        try {
          resolve({
            exit,
            records: stdout
              .split('\n')
              .filter(Boolean)
              .map((line) => JSON.parse(line) as RemediationRecord),
            stderr,
          });
        } catch (parseError) {
          reject(new Error(`trailguard replay printed something that is not JSON lines: ${stdout.slice(0, 500)}`, { cause: parseError }));
        }
      },
    );
  });
}
