import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { MetadataBearer } from '@smithy/types';
import { mockClient, type AwsStub } from 'aws-sdk-client-mock';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RULES } from '../functions/rules.js';
import { isReadCommand } from '../shared/aws/client-options.js';
import { matchesPattern } from '../shared/events/pattern.js';
import { toEnvelopeJson } from '../shared/events/schema.js';
import { ALERT_RULE_IDS, parseConfig, type AlertRuleId, type RuleId } from '../shared/config.js';
import type { RemediationRecord } from '../shared/remediation-log.js';
import type { AnyRule } from '../shared/rule.js';
import { DEADLINE_MARGIN_MS } from '../shared/runner/deadline.js';
import { lambdaRunner } from '../shared/runner/lambda.js';
import { run } from '../shared/runner/run.js';
import { memoryStateStore } from '../shared/state/store.js';
import { capturingDeps, loadSample, sampleConfig, sampleNames } from './helpers/samples.js';

/**
 * Roles Anywhere has no SDK client (shared/aws/rolesanywhere.ts signs its own calls): its requests are answered at the
 * HTTP handler, with the fault the SDK stubs are given, and counted as their calls are (a stub of the same shape).
 */
function rolesAnywhereStub() {
  type Answer = () => Promise<unknown>;
  const calls: { args: [{ constructor: { name: string } }] }[] = [];
  let answer: Answer | undefined;
  const operationOf = (method: string, path: string) =>
    method === 'GET' ? 'GetTrustAnchor' : path.endsWith('/disable') ? 'DisableTrustAnchor' : 'EnableTrustAnchor';
  return {
    reset() {
      calls.length = 0;
      answer = undefined;
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
      vi.spyOn(NodeHttpHandler.prototype, 'handle').mockImplementation(async (request, options) => {
        if (!request.hostname.startsWith('rolesanywhere.')) throw new Error(`unexpected HTTP call to ${request.hostname}`);
        calls.push({ args: [{ constructor: { name: `${operationOf(request.method, request.path)}Command` } }] });
        if (!answer) throw new Error('unexpected Roles Anywhere call');
        const aborted = new Promise<never>((_, reject) =>
          (options?.abortSignal as globalThis.AbortSignal | undefined)?.addEventListener('abort', () =>
            reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
          ),
        );
        const error = (await Promise.race([answer(), aborted]).catch((e: unknown) => e)) as Error & { $metadata?: { httpStatusCode?: number } };
        const status = error.$metadata?.httpStatusCode;
        if (status === undefined) throw error;
        return { response: { statusCode: status, headers: {}, body: JSON.stringify({ __type: error.name, message: error.message }) } as never };
      });
    },
    restore() {},
    calls: () => calls,
    onAnyCommand: () => ({
      rejects(error: Error) {
        answer = () => Promise.reject(error);
      },
      callsFake(fake: Answer) {
        answer = fake;
      },
    }),
  };
}

// One list of stubs, whatever the service: the tests only reset, fail or count calls.
const mocks = [
  mockClient(S3Client),
  mockClient(EC2Client),
  mockClient(CloudTrailClient),
  mockClient(RDSClient),
  mockClient(IAMClient),
  mockClient(LambdaClient),
  rolesAnywhereStub(),
] as unknown as AwsStub<object, MetadataBearer, unknown>[];
beforeEach(() => {
  for (const mock of mocks) mock.reset();
});
afterAll(() => {
  for (const mock of mocks) mock.restore();
});

const sdkError = (name: string, status?: number) => Object.assign(new Error(name), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });
// The remediation rules: every cell below applies to each. The audit alerts (notify-only) have their own matrix.
const isAlertRule = (id: RuleId): id is AlertRuleId => (ALERT_RULE_IDS as readonly string[]).includes(id);
const REMEDIATION_RULES = RULES.filter((rule) => !isAlertRule(rule.id));
const ALERT_RULES = RULES.filter((rule) => isAlertRule(rule.id));

const DENIED: Record<Exclude<RuleId, AlertRuleId>, string> = {
  'public-bucket': 'AccessDenied',
  'open-security-group': 'UnauthorizedOperation',
  'trail-logging': 'AccessDeniedException',
  'untagged-instance': 'UnauthorizedOperation',
  'shared-image-snapshot': 'UnauthorizedOperation',
  'shared-db-snapshot': 'AccessDenied',
  'outside-role-trust': 'AccessDenied',
  'outside-bucket-policy': 'AccessDenied',
  'trail-bucket-lifecycle': 'AccessDenied',
  'public-lambda-function': 'AccessDeniedException',
  'console-access-added': 'AccessDenied',
  'serial-console-enabled': 'UnauthorizedOperation',
  'trust-anchor-created': 'AccessDeniedException',
};
const GONE: Record<Exclude<RuleId, AlertRuleId>, string> = {
  'public-bucket': 'NoSuchBucket',
  'open-security-group': 'InvalidGroup.NotFound',
  'trail-logging': 'TrailNotFoundException',
  'untagged-instance': 'InvalidInstanceID.NotFound',
  'shared-image-snapshot': 'InvalidAMIID.NotFound',
  'shared-db-snapshot': 'DBSnapshotNotFound',
  'outside-role-trust': 'NoSuchEntity',
  'outside-bucket-policy': 'NoSuchBucket',
  'trail-bucket-lifecycle': 'NoSuchBucket',
  'public-lambda-function': 'ResourceNotFoundException',
  // NoSuchEntity: the password is gone (deleted since, or the user with it).
  'console-access-added': 'NoSuchEntity',
  // An account setting cannot be gone: the generic NotFound only holds the runner's path for it.
  'serial-console-enabled': 'NotFound',
  'trust-anchor-created': 'ResourceNotFoundException',
};

function sampleOf(rule: AnyRule, prefix: 'would-remediate' | 'exempt'): Record<string, unknown> {
  const name = sampleNames(rule.id).find((n) => n.startsWith(`${prefix}.`));
  if (!name) throw new Error(`${rule.id} has no ${prefix} sample`);
  return loadSample(rule.id, name) as Record<string, unknown>;
}

function detailOf(event: Record<string, unknown>): Record<string, unknown> {
  return (event.detail ?? event) as Record<string, unknown>;
}

/**
 * The trailguard write each rule makes, as CloudTrail records it: its name and the parameters trailguard writes
 * (its own fix; only two rules' patterns see theirs). The same call with other parameters is not its own.
 */
const OWN_WRITE: Record<Exclude<RuleId, AlertRuleId>, { readonly eventName: string; readonly requestParameters: Record<string, unknown> }> = {
  'public-bucket': {
    eventName: 'PutBucketPublicAccessBlock',
    requestParameters: {
      bucketName: 'example-reports',
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
    },
  },
  'open-security-group': { eventName: 'RevokeSecurityGroupIngress', requestParameters: { groupId: 'sg-0123456789abcdef0' } },
  'trail-logging': { eventName: 'UpdateTrail', requestParameters: { name: 'example-audit-trail', enableLogFileValidation: true } },
  'shared-db-snapshot': {
    eventName: 'ModifyDBSnapshotAttribute',
    requestParameters: { dBSnapshotIdentifier: 'orders-db-2026-11-20', attributeName: 'restore', valuesToRemove: ['444455556666'] },
  },
  // Neither write is in its rule's pattern: the own write never reaches the rule, and the guard is checked anyway.
  'console-access-added': { eventName: 'DeleteLoginProfile', requestParameters: { userName: 'svc-reporting' } },
  'serial-console-enabled': { eventName: 'DisableSerialConsoleAccess', requestParameters: { DisableSerialConsoleAccessRequest: '' } },
  // DisableTrustAnchor is not in the rule's pattern: its own write never reaches it, and the guard is checked anyway.
  'trust-anchor-created': { eventName: 'DisableTrustAnchor', requestParameters: { trustAnchorId: '5b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d' } },
  // RemovePermission is not in the rule's pattern: its own write never reaches it, and the guard is checked anyway.
  'public-lambda-function': {
    eventName: 'RemovePermission20150331v2',
    requestParameters: { functionName: 'orders-webhook', statementId: 'open-to-all' },
  },
  'outside-role-trust': {
    eventName: 'UpdateAssumeRolePolicy',
    requestParameters: {
      roleName: 'support-access',
      policyDocument: '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}',
    },
  },
  'outside-bucket-policy': {
    eventName: 'PutBucketPolicy',
    requestParameters: {
      bucketName: 'example-exports',
      bucketPolicy: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::example-exports/*' },
        ],
      },
    },
  },
  'trail-bucket-lifecycle': {
    eventName: 'PutBucketLifecycle',
    requestParameters: {
      bucketName: 'example-trail-logs',
      LifecycleConfiguration: { Rule: { ID: 'archive', Status: 'Enabled', Filter: { Prefix: 'AWSLogs/' }, Expiration: { Days: 2555 } } },
    },
  },
  'shared-image-snapshot': {
    eventName: 'ModifySnapshotAttribute',
    requestParameters: {
      snapshotId: 'snap-0123456789abcdef0',
      attributeType: 'CREATE_VOLUME_PERMISSION',
      createVolumePermission: { remove: { items: [{ userId: '444455556666' }] } },
    },
  },
  'untagged-instance': {
    eventName: 'CreateTags',
    requestParameters: {
      resourcesSet: { items: [{ resourceId: 'i-0123456789abcdef0' }] },
      tagSet: {
        items: [
          { key: 'Owner', value: 'arn:aws:iam::111122223333:user/alice' },
          { key: 'trailguard:tagged-at', value: '2026-11-20T09:15:00Z' },
        ],
      },
    },
  },
};

/** A function role of trailguard's (as the replay sample config's `selfRoles` names them), in the event's account. */
function trailguardRole(event: Record<string, unknown>): Record<string, unknown> {
  const account = String(event.account ?? detailOf(event).recipientAccountId ?? '111122223333');
  return {
    type: 'AssumedRole',
    accountId: account,
    arn: `arn:aws:sts::${account}:assumed-role/trailguard-prod-x-role/trailguard-prod-x`,
    sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${account}:role/trailguard-prod-x-role`, userName: 'trailguard-prod-x-role' } },
  };
}

function failAllCalls(error: Error) {
  for (const mock of mocks) mock.onAnyCommand().rejects(error);
}

function writes(): string[] {
  return mocks.flatMap((m) => m.calls().map((c) => (c.args[0] as object).constructor.name)).filter((n) => !isReadCommand(n));
}

/** How one cell reads in docs/reliability.md: the outcome, and what else happens. */
type Cell = string;

/** Each fault: how to cause it, and the outcome every rule must produce. The table in docs/reliability.md is rendered from this. */
const FAULTS: readonly { fault: string; cell: Cell | ((rule: AnyRule) => Cell); check: (rule: AnyRule) => Promise<void> }[] = [
  {
    fault: 'throttling',
    cell: '`failed` (transient), thrown: retried by Lambda/EventBridge, then DLQ',
    check: async (rule) => {
      failAllCalls(sdkError('ThrottlingException', 400));
      const deps = capturingDeps({ mode: 'live' });
      await expect(lambdaRunner(rule, () => deps)(sampleOf(rule, 'would-remediate'))).rejects.toMatchObject({ kind: 'transient' });
      expect(deps.written).toMatchObject([{ outcome: 'failed', error: { kind: 'transient' }, notification: { status: 'deferred' } }]);
    },
  },
  {
    fault: '5xx',
    cell: '`failed` (transient), thrown: retried by Lambda/EventBridge, then DLQ',
    check: async (rule) => {
      failAllCalls(sdkError('InternalError', 500));
      const deps = capturingDeps({ mode: 'live' });
      await expect(lambdaRunner(rule, () => deps)(sampleOf(rule, 'would-remediate'))).rejects.toMatchObject({ kind: 'transient' });
      expect(deps.written[0]).toMatchObject({ outcome: 'failed', error: { kind: 'transient' } });
    },
  },
  {
    fault: 'timeout',
    cell: '`failed` (transient), thrown: retried by Lambda/EventBridge, then DLQ',
    check: async (rule) => {
      failAllCalls(sdkError('TimeoutError'));
      const deps = capturingDeps({ mode: 'live' });
      await expect(lambdaRunner(rule, () => deps)(sampleOf(rule, 'would-remediate'))).rejects.toMatchObject({ kind: 'transient' });
      expect(deps.written[0]).toMatchObject({ outcome: 'failed', error: { kind: 'transient', code: 'TimeoutError' } });
    },
  },
  {
    fault: 'deadline reached',
    cell: '`failed` (transient, `DeadlineExceeded`) before the function timeout; claim given back, thrown; no write',
    check: async (rule) => {
      for (const mock of mocks) mock.onAnyCommand().callsFake(() => new Promise(() => undefined)); // AWS never answers
      const store = memoryStateStore();
      const deps = { ...capturingDeps({ mode: 'live' }), store };
      const event = sampleOf(rule, 'would-remediate');
      const remainingMs = DEADLINE_MARGIN_MS + 100;
      const started = Date.now();
      await expect(lambdaRunner(rule, () => deps)(event, { getRemainingTimeInMillis: () => remainingMs })).rejects.toMatchObject({
        kind: 'transient',
        code: 'DeadlineExceeded',
      });
      expect(Date.now() - started).toBeLessThan(remainingMs);
      expect(deps.written).toMatchObject([{ outcome: 'failed', error: { kind: 'transient', code: 'DeadlineExceeded' }, notification: { status: 'deferred' } }]);
      expect(mocks.some((m) => m.calls().length > 0)).toBe(true);
      expect(writes()).toEqual([]);
      const id = String(detailOf(event).eventID);
      expect(await store.claimEvent(`${rule.id}#${id}`, deps.now(), 1_000, 3_600_000)).toMatchObject({ kind: 'claimed' });
    },
  },
  {
    fault: 'AccessDenied',
    cell: '`failed` + alert naming the IAM action (or SCP) that blocked it',
    check: async (rule) => {
      failAllCalls(sdkError(DENIED[rule.id as Exclude<RuleId, AlertRuleId>], 403));
      const { record, deps } = await runOnce(rule, sampleOf(rule, 'would-remediate'));
      expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'denied', permission: expect.stringMatching(/^[a-z0-9-]+:[A-Z]\w+$/) } });
      expect(Object.values(rule.permissions)).toContain(record.error?.permission);
      expect(deps.published).toHaveLength(1);
      expect(writes()).toEqual([]);
    },
  },
  {
    fault: 'not found',
    // A stopped trail that is gone was probably deleted, and its DeleteTrail may never be seen: that alerts.
    cell: (rule) =>
      rule.id === 'trail-logging'
        ? '`alerted` (CRITICAL): a stopped or weakened trail that is gone was probably deleted, perhaps unseen; no write'
        : '`ignored`: the resource no longer exists; no write, no alert',
    check: async (rule) => {
      failAllCalls(sdkError(GONE[rule.id as Exclude<RuleId, AlertRuleId>], 400));
      const { record, deps } = await runOnce(rule, sampleOf(rule, 'would-remediate'));
      if (rule.id === 'trail-logging') {
        expect(record).toMatchObject({ outcome: 'alerted', severity: 'CRITICAL' });
        expect(deps.published).toHaveLength(1);
      } else {
        expect(record.outcome).toBe('ignored');
        expect(deps.published).toEqual([]);
      }
      expect(writes()).toEqual([]);
    },
  },
  {
    fault: 'duplicate',
    cell: '`ignored` (duplicate delivery): one action, one notification in all',
    check: async (rule) => {
      failAllCalls(sdkError('ThrottlingException', 400)); // any AWS call would make the second run fail
      const store = memoryStateStore();
      const deps = { ...capturingDeps({ mode: 'offline' }), store };
      const event = sampleOf(rule, 'would-remediate');
      const first = await run(rule, event, deps);
      const second = await run(rule, event, deps);
      expect(first.outcome).toBe('would-remediate');
      expect(second).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('duplicate delivery') });
      expect(deps.published).toHaveLength(1);
    },
  },
  {
    fault: 'forged source',
    cell: '`ignored`: only `aws.*` CloudTrail events can act',
    check: async (rule) => {
      failAllCalls(sdkError('ThrottlingException', 400));
      const event = sampleOf(rule, 'would-remediate');
      const envelope = 'detail' in event ? event : { 'detail-type': 'AWS API Call via CloudTrail', detail: event };
      const { record } = await runOnce(rule, { ...envelope, source: 'custom.security' });
      expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('not a CloudTrail event from an AWS service') });
      expect(mocks.every((m) => m.calls().length === 0)).toBe(true);
    },
  },
  {
    fault: 'malformed event',
    cell: '`failed` (parse), naming the field; never an AWS call',
    check: async (rule) => {
      failAllCalls(sdkError('ThrottlingException', 400));
      const event = structuredClone(sampleOf(rule, 'would-remediate'));
      detailOf(event).requestParameters = 'not an object';
      detailOf(event).responseElements = 'not an object';
      const { record } = await runOnce(rule, event);
      expect(record).toMatchObject({
        outcome: 'failed',
        error: { kind: 'parse' },
        reason: expect.stringMatching(/detail\.(requestParameters|responseElements)/),
      });
      expect(mocks.every((m) => m.calls().length === 0)).toBe(true);
    },
  },
  {
    fault: 'self-caused event',
    cell: "`ignored`: the remediator's own fix (its role, its account, a call it makes with the parameters it writes); no loop. The same role name calling anything else, or the same call with other parameters, is evaluated",
    check: async (rule) => {
      failAllCalls(sdkError('ThrottlingException', 400));
      const own = structuredClone(sampleOf(rule, 'would-remediate'));
      detailOf(own).userIdentity = trailguardRole(own);
      Object.assign(detailOf(own), OWN_WRITE[rule.id as Exclude<RuleId, AlertRuleId>]);
      const { record } = await runOnce(rule, own);
      expect(record.outcome).toBe('ignored');
      expect(writes()).toEqual([]);
      // A role named like trailguard's making the violating call: not a call trailguard makes, so not trusted.
      const lookalike = structuredClone(sampleOf(rule, 'would-remediate'));
      detailOf(lookalike).userIdentity = trailguardRole(lookalike);
      const { record: judged } = await runOnce(rule, lookalike);
      expect(judged.reason).not.toContain('caused by trailguard itself');
    },
  },
  {
    fault: 'exempt resource',
    cell: "`exempt`, with the exemption's reason; no AWS call",
    check: async (rule) => {
      failAllCalls(sdkError('ThrottlingException', 400));
      const { record } = await runOnce(rule, sampleOf(rule, 'exempt'));
      expect(record.outcome).toBe('exempt');
      expect(record.exemptions[0]?.reason.length).toBeGreaterThan(0);
      expect(mocks.every((m) => m.calls().length === 0)).toBe(true);
    },
  },
];

async function runOnce(rule: AnyRule, event: unknown): Promise<{ record: RemediationRecord; deps: ReturnType<typeof capturingDeps> }> {
  const deps = capturingDeps({ mode: 'live', config: sampleConfig() });
  return { record: await run(rule, event, deps), deps };
}

describe.each(FAULTS.map((f) => [f.fault, f] as const))('fault: %s', (_fault, { check }) => {
  it.each(REMEDIATION_RULES.map((rule) => [rule.id, rule] as const))('%s', async (_id, rule) => {
    await check(rule);
  });
});

/** The fault matrix of docs/reliability.md, rendered from FAULTS: a cell there is a claim these tests back. */
function renderFaultMatrix(): string {
  const header = `| fault | ${REMEDIATION_RULES.map((r) => `\`${r.id}\``).join(' | ')} |`;
  const rule = `| --- | ${REMEDIATION_RULES.map(() => '---').join(' | ')} |`;
  const rows = FAULTS.map((f) => `| ${f.fault} | ${REMEDIATION_RULES.map((r) => (typeof f.cell === 'function' ? f.cell(r) : f.cell)).join(' | ')} |`);
  return [header, rule, ...rows].join('\n');
}

/**
 * The page with its fault matrix (the table that starts `| fault |`) replaced by `table`, written back when
 * TRAILGUARD_WRITE_DOCS=1 (after a rule is added: `TRAILGUARD_WRITE_DOCS=1 npx vitest run test/fault-matrix.test.ts`).
 */
function pageWith(file: string, table: string): string {
  const path = join(import.meta.dirname, '..', 'docs', file);
  const page = readFileSync(path, 'utf8');
  if (process.env.TRAILGUARD_WRITE_DOCS !== '1') return page;
  const lines = page.split('\n');
  const start = lines.findIndex((line) => line.startsWith('| fault |'));
  if (start === -1) return page;
  let end = start;
  while (end < lines.length && lines[end]?.startsWith('|')) end += 1;
  const next = [...lines.slice(0, start), table, ...lines.slice(end)].join('\n');
  writeFileSync(path, next);
  return next;
}

it('docs/reliability.md holds exactly the fault matrix these tests check', () => {
  expect(pageWith('reliability.md', renderFaultMatrix())).toContain(renderFaultMatrix());
});

it('parses the sample config these cells run against', () => {
  expect(parseConfig(JSON.parse(readFileSync(join(import.meta.dirname, '..', 'config', 'replay.sample.json'), 'utf8'))).selfRoles).toContain('trailguard-*');
});

// The audit alerts' matrix: notify-only rules make no write, and all but s3-bucket-deleted no call at all,
// so AWS faults apply to that one rule; the cells where they cannot apply are checked too ("no AWS call").
const READS_AWS: ReadonlySet<RuleId> = new Set(['s3-bucket-deleted']);
// config-store-change reads Parameter Store through shared/live-config/ssm-reader.ts, no SDK client: its faults are
// answered at the HTTP handler (with test credentials to sign), and every other alert's cells hold for it too.
const READS_SSM: ReadonlySet<RuleId> = new Set(['config-store-change']);
// instance-credentials-outside reads EC2 (the instance's addresses, its VPC's NAT gateways): a refused read leaves it
// unable to tell, so it alerts MEDIUM naming the read and the permission instead of HIGH.
const READS_EC2: ReadonlySet<RuleId> = new Set(['instance-credentials-outside']);
const ssmAnswers: string[] = [];
function failSsm(code: string): void {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
  vi.spyOn(NodeHttpHandler.prototype, 'handle').mockImplementation(async () => {
    ssmAnswers.push(code);
    return { response: { statusCode: 400, headers: {}, body: JSON.stringify({ __type: code, message: 'refused' }) } as never };
  });
}
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  ssmAnswers.length = 0;
});
const HAS_SERVICE_ROLE_SETTING = (rule: AnyRule) => 'ignoreServiceLinkedRoles' in rule.settings(sampleConfig());
const NO_CALL = 'n/a: no AWS call (still `alerted`)';
const SERVICE_LINKED = {
  type: 'AssumedRole',
  arn: 'arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForConfig/config-session',
  sessionContext: {
    sessionIssuer: {
      type: 'Role',
      arn: 'arn:aws:iam::111122223333:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig',
      userName: 'AWSServiceRoleForConfig',
    },
  },
};

function alertedSample(rule: AnyRule): Record<string, unknown> {
  const name = sampleNames(rule.id).find((n) => n.startsWith('alerted.'));
  if (!name) throw new Error(`${rule.id} has no alerted sample`);
  return loadSample(rule.id, name) as Record<string, unknown>;
}

async function expectNoCallStillAlerted(rule: AnyRule): Promise<void> {
  const { record } = await runOnce(rule, alertedSample(rule));
  expect(record.outcome).toBe('alerted');
  expect(mocks.every((m) => m.calls().length === 0)).toBe(true);
}

const ALERT_FAULTS: readonly { fault: string; cell: (rule: AnyRule) => Cell; check: (rule: AnyRule) => Promise<void> }[] = [
  {
    fault: 'throttling',
    cell: (rule) =>
      READS_AWS.has(rule.id) || READS_SSM.has(rule.id) || READS_EC2.has(rule.id)
        ? '`failed` (transient), thrown: retried by Lambda/EventBridge, then DLQ'
        : NO_CALL,
    check: async (rule) => {
      failAllCalls(sdkError('ThrottlingException', 400));
      if (READS_SSM.has(rule.id)) failSsm('ThrottlingException');
      if (!READS_AWS.has(rule.id) && !READS_SSM.has(rule.id) && !READS_EC2.has(rule.id)) return expectNoCallStillAlerted(rule);
      const deps = capturingDeps({ mode: 'live' });
      await expect(lambdaRunner(rule, () => deps)(alertedSample(rule))).rejects.toMatchObject({ kind: 'transient' });
      expect(deps.written).toMatchObject([{ outcome: 'failed', error: { kind: 'transient' }, notification: { status: 'deferred' } }]);
    },
  },
  {
    fault: 'AccessDenied',
    cell: (rule) =>
      READS_AWS.has(rule.id)
        ? '`alerted` (HIGH, "could not be checked"): names the bucket, the error and the IAM action (or SCP) that blocked it'
        : READS_SSM.has(rule.id)
          ? '`alerted` as decided from the event alone (HIGH for an exemption in `all`): names the parameter, the error and the IAM action'
          : READS_EC2.has(rule.id)
            ? '`alerted` (MEDIUM, "could not be read"): names the role, the read, the error and the IAM action (or SCP) that blocked it'
            : NO_CALL,
    check: async (rule) => {
      failAllCalls(sdkError('AccessDeniedException', 400));
      if (READS_SSM.has(rule.id)) {
        failSsm('AccessDeniedException');
        const { record, deps } = await runOnce(rule, alertedSample(rule));
        expect(ssmAnswers).toEqual(['AccessDeniedException']);
        expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', error: null, resources: [{ type: 'AWS::SSM::Parameter' }] });
        for (const text of ['AccessDeniedException', ...Object.values(rule.permissions)]) expect(record.reason).toContain(text);
        expect(deps.published).toHaveLength(1);
        return;
      }
      if (READS_EC2.has(rule.id)) {
        const { record, deps } = await runOnce(rule, alertedSample(rule));
        expect(record).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', error: null, resources: [{ type: 'AWS::IAM::Role' }] });
        for (const text of ['AccessDeniedException', 'EC2.DescribeInstances', 'ec2:DescribeInstances']) expect(record.reason).toContain(text);
        expect(deps.published).toHaveLength(1);
        return;
      }
      if (!READS_AWS.has(rule.id)) return expectNoCallStillAlerted(rule);
      const { record, deps } = await runOnce(rule, alertedSample(rule));
      expect(record).toMatchObject({
        outcome: 'alerted',
        severity: 'HIGH',
        error: null,
        resources: [{ type: 'AWS::S3::Bucket' }],
        reason: expect.stringContaining('AccessDeniedException'),
      });
      for (const action of Object.values(rule.permissions)) expect(record.reason).toContain(action);
      expect(deps.published).toHaveLength(1);
    },
  },
  {
    fault: 'duplicate',
    cell: () => '`ignored` (duplicate delivery): one notification in all',
    check: async (rule) => {
      failAllCalls(sdkError('ThrottlingException', 400));
      const deps = { ...capturingDeps({ mode: 'offline' }), store: memoryStateStore() };
      const event = alertedSample(rule);
      expect((await run(rule, event, deps)).outcome).toBe('alerted');
      expect(await run(rule, event, deps)).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('duplicate delivery') });
      expect(deps.published).toHaveLength(1);
    },
  },
  {
    fault: 'forged source',
    cell: () => '`ignored`: only `aws.*` CloudTrail events are read',
    check: async (rule) => {
      failAllCalls(sdkError('ThrottlingException', 400));
      const event = alertedSample(rule);
      const envelope = 'detail' in event ? event : { 'detail-type': 'AWS API Call via CloudTrail', detail: event };
      const { record, deps } = await runOnce(rule, { ...envelope, source: 'custom.security' });
      expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('not a CloudTrail event from an AWS service') });
      expect(deps.published).toEqual([]);
    },
  },
  {
    fault: 'self-caused event',
    cell: (rule) =>
      rule.id === 'root-activity'
        ? '`ignored`: its pattern matches root only'
        : 'evaluated like any caller: trailguard makes none of these calls, so a role named like its own is no excuse',
    check: async (rule) => {
      if (READS_SSM.has(rule.id)) failSsm('ParameterNotFound');
      const event = structuredClone(alertedSample(rule));
      detailOf(event).userIdentity = trailguardRole(event);
      const { record } = await runOnce(rule, event);
      if (rule.id === 'root-activity') {
        expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('does not match the root-activity pattern') });
      } else {
        expect(record.reason).not.toContain('caused by trailguard itself');
      }
    },
  },
  {
    fault: 'service-linked role',
    cell: (rule) =>
      HAS_SERVICE_ROLE_SETTING(rule)
        ? '`ignored`: routine AWS machinery (`ignoreServiceLinkedRoles`); no read'
        : 'n/a: such roles neither act as root nor sign in to the console',
    check: async (rule) => {
      failAllCalls(sdkError('ThrottlingException', 400));
      const event = structuredClone(alertedSample(rule));
      detailOf(event).userIdentity = SERVICE_LINKED;
      if (!HAS_SERVICE_ROLE_SETTING(rule)) {
        expect(rule.id === 'root-activity' || rule.id.startsWith('console-signin-'), rule.id).toBe(true);
        return;
      }
      const { record, deps } = await runOnce(rule, event);
      // A pattern that names the sessions it is about (instance sessions) never even takes one: ignored all the same.
      const why = matchesPattern(rule.pattern, toEnvelopeJson(event)) ? 'service-linked role AWSServiceRoleForConfig' : `does not match the ${rule.id} pattern`;
      expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining(why) });
      expect(deps.published).toEqual([]);
      expect(mocks.every((m) => m.calls().length === 0)).toBe(true);
    },
  },
];

describe.each(ALERT_FAULTS.map((f) => [f.fault, f] as const))('audit alert fault: %s', (_fault, { check }) => {
  it.each(ALERT_RULES.map((rule) => [rule.id, rule] as const))('%s', async (_id, rule) => {
    await check(rule);
  });
});

/** The audit-alert fault matrix of docs/audit-alerts.md, rendered from ALERT_FAULTS. */
function renderAlertFaultMatrix(): string {
  const header = `| fault | ${ALERT_RULES.map((r) => `\`${r.id}\``).join(' | ')} |`;
  const rule = `| --- | ${ALERT_RULES.map(() => '---').join(' | ')} |`;
  const rows = ALERT_FAULTS.map((f) => `| ${f.fault} | ${ALERT_RULES.map((r) => f.cell(r)).join(' | ')} |`);
  return [header, rule, ...rows].join('\n');
}

it('docs/audit-alerts.md holds exactly the audit-alert fault matrix these tests check', () => {
  expect(pageWith('audit-alerts.md', renderAlertFaultMatrix())).toContain(renderAlertFaultMatrix());
});
