import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { RULES } from '../../../functions/rules.js';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import { trailLogging } from '../../../functions/trail-logging/rule.js';
import { untaggedInstanceEnforce } from '../../../functions/untagged-instance/enforce.js';
import { isReadCommand } from '../../../shared/aws/client-options.js';
import { parseConfig, type Config } from '../../../shared/config.js';
import { parseEnvelope, wrapRecord } from '../../../shared/events/schema.js';
import { violation, type AnyRule } from '../../../shared/rule.js';
import { run } from '../../../shared/runner/run.js';
import { SELF_SIGNATURES } from '../../../shared/actions/signatures.js';
import { ENFORCE_ROLE_SUFFIX, OWN_WRITE_EVENT_NAMES, SELF_WRITE_EVENT_NAMES, selfCallOf } from '../../../shared/runner/self-calls.js';
import { testAction } from '../../helpers/actions.js';
import { capturingDeps, loadSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const ACCOUNT = '111122223333';
const ROOT = join(import.meta.dirname, '..', '..', '..');

/** An assumed-role session of `role` in the event's account, as CloudTrail records a Lambda function's calls. */
function session(role: string, sessionName = 'trailguard-prod-fn', account = ACCOUNT): Record<string, unknown> {
  return {
    type: 'AssumedRole',
    accountId: account,
    arn: `arn:aws:sts::${account}:assumed-role/${role}/${sessionName}`,
    sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${account}:role/${role}`, userName: role } },
  };
}

/** A CloudTrail record of `eventName` with these request parameters, by `identity`, validated as the runner reads it. */
function call(eventName: string, requestParameters: unknown, identity: Record<string, unknown>) {
  return parseEnvelope(
    wrapRecord({
      eventVersion: '1.09',
      eventTime: '2026-11-20T09:15:00Z',
      eventSource: 'ec2.amazonaws.com',
      eventName,
      awsRegion: 'eu-west-1',
      eventID: `e-${eventName}`,
      recipientAccountId: ACCOUNT,
      userIdentity: identity,
      requestParameters,
    }),
  );
}

const CONFIG = parseConfig({
  selfRoles: ['trailguard-prod-*'],
  rules: { 'untagged-instance': { requiredTags: ['Owner', 'CostCenter'] } },
});
const selfCall = (event: ReturnType<typeof call>, config: Config = CONFIG) => selfCallOf(event.detail, event.account, config);

const PUBLIC_BUCKET_ROLE = 'trailguard-prod-publicBucket-role';
const ENFORCE_ROLE = `trailguard-prod${ENFORCE_ROLE_SUFFIX}`;
const ALL_BLOCKED = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };

describe('the calls trailguard makes (shared/runner/self-calls.ts)', () => {
  it('list every write of every rule and check, so that its own fixes are recognised', () => {
    const writes = [...RULES, untaggedInstanceEnforce]
      .flatMap((rule) => Object.keys(rule.permissions))
      .filter((api) => !isReadCommand(`${api.split('.')[1]}Command`));
    expect(writes.length).toBeGreaterThan(4);
    for (const api of writes) expect(SELF_WRITE_EVENT_NAMES, api).toHaveProperty([api]);
  });

  it('takes each signature from the action type the rule performs with, so the guard and the write cannot drift apart', () => {
    const types = [...RULES, untaggedInstanceEnforce].flatMap((rule) => rule.actions);
    expect(types.length).toBeGreaterThan(4);
    for (const type of types) {
      expect(type.signature, type.api).toBeDefined();
      expect(SELF_SIGNATURES, type.api).toContain(type.signature);
      // The action's api is a literal (so bundles can drop the action and keep the signature): held equal here.
      expect(type.signature?.api, type.api).toBe(type.api);
    }
  });

  it('lists no read: a read by a look-alike role would never be ignored anyway, and patterns match writes', () => {
    for (const api of Object.keys(SELF_WRITE_EVENT_NAMES)) expect(isReadCommand(`${api.split('.')[1]}Command`), api).toBe(false);
  });

  it('judges the parameters of every write it lists, and of nothing else', () => {
    expect([...OWN_WRITE_EVENT_NAMES].sort()).toEqual(Object.values(SELF_WRITE_EVENT_NAMES).sort());
  });

  it("knows the enforcement function's role by the name serverless.yml gives it", () => {
    const functionYml = readFileSync(join(ROOT, 'functions', 'untagged-instance', 'function.yml'), 'utf8');
    // serverless.yml's TRAILGUARD_SELF_ROLES, as scripts/rule-files.cjs derives it from the function files.
    const selfRoles = (createRequire(import.meta.url)('../../../scripts/rule-files.cjs') as { selfRoles: () => string }).selfRoles().split(',');
    expect(functionYml).toContain(`iamRoleStatementsName: \${self:service}-\${sls:stage}${ENFORCE_ROLE_SUFFIX}\n`);
    expect(selfRoles).toContain(`\${self:service}-\${sls:stage}${ENFORCE_ROLE_SUFFIX}`);
  });
});

describe("selfCallOf: a call is trailguard's own only with the parameters trailguard writes", () => {
  const bucket = (config: unknown) => ({ bucketName: 'example-reports', PublicAccessBlockConfiguration: config });

  it('takes PutBucketPublicAccessBlock with all four flags true for its own, and nothing less', () => {
    const own = call('PutBucketPublicAccessBlock', bucket({ xmlns: 'http://s3.amazonaws.com/doc/2006-03-01/', ...ALL_BLOCKED }), session(PUBLIC_BUCKET_ROLE));
    expect(selfCall(own)).toBe(PUBLIC_BUCKET_ROLE);
    const notOurs = [
      bucket({ BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false }),
      bucket({ ...ALL_BLOCKED, RestrictPublicBuckets: false }),
      bucket({ ...ALL_BLOCKED, BlockPublicPolicy: 'true' }),
      bucket({ BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true }),
      bucket([ALL_BLOCKED]),
      bucket(null),
      { bucketName: 'example-reports' },
      null,
      'PublicAccessBlockConfiguration',
      [ALL_BLOCKED],
    ];
    for (const request of notOurs) {
      expect(selfCall(call('PutBucketPublicAccessBlock', request, session(PUBLIC_BUCKET_ROLE))), JSON.stringify(request)).toBeUndefined();
    }
  });

  it('takes an UpdateTrail for its own only when it turns settings on, naming nothing else', () => {
    const role = 'trailguard-prod-trailLogging-role';
    const trail = 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/example-audit-trail';
    expect(selfCall(call('UpdateTrail', { name: trail, enableLogFileValidation: true, isMultiRegionTrail: true }, session(role)))).toBe(role);
    expect(selfCall(call('UpdateTrail', { name: trail, includeGlobalServiceEvents: true }, session(role)))).toBe(role);
    const notOurs = [
      { name: trail, enableLogFileValidation: false },
      { name: trail, enableLogFileValidation: true, isMultiRegionTrail: false },
      { name: trail, enableLogFileValidation: 'true' },
      { name: trail, enableLogFileValidation: true, kmsKeyId: '' },
      { name: trail, enableLogFileValidation: true, s3BucketName: 'example-elsewhere' },
      { name: trail },
      { enableLogFileValidation: true },
      { name: 42, enableLogFileValidation: true },
      null,
      [],
    ];
    for (const request of notOurs) expect(selfCall(call('UpdateTrail', request, session(role))), JSON.stringify(request)).toBeUndefined();
  });

  it('takes CreateTags for its own only when it adds the required keys and trailguard:tagged-at', () => {
    const role = 'trailguard-prod-untaggedInstance-role';
    const tags = (...keys: unknown[]) => ({ resourcesSet: { items: [{ resourceId: 'i-0abc' }] }, tagSet: { items: keys.map((key) => ({ key, value: 'x' })) } });
    expect(selfCall(call('CreateTags', tags('Owner', 'CostCenter', 'trailguard:tagged-at'), session(role)))).toBe(role);
    expect(selfCall(call('CreateTags', tags('Owner', 'Environment'), session(role)))).toBeUndefined();
    expect(selfCall(call('CreateTags', tags('owner'), session(role)))).toBeUndefined();
    expect(selfCall(call('CreateTags', tags(), session(role)))).toBeUndefined();
    expect(selfCall(call('CreateTags', tags(42), session(role)))).toBeUndefined();
    expect(selfCall(call('CreateTags', { tagSet: { items: ['Owner'] } }, session(role)))).toBeUndefined();
    expect(selfCall(call('CreateTags', undefined, session(role)))).toBeUndefined();
    // The default configuration requires Owner only: CostCenter is then someone else's key.
    expect(selfCall(call('CreateTags', tags('Owner', 'CostCenter'), session(role)), parseConfig({ selfRoles: ['trailguard-prod-*'] }))).toBeUndefined();
  });

  it("takes StopInstances for its own only from the enforcement function's role", () => {
    const stop = { instancesSet: { items: [{ instanceId: 'i-0abc' }] }, force: false };
    expect(selfCall(call('StopInstances', stop, session(ENFORCE_ROLE)))).toBe(ENFORCE_ROLE);
    expect(selfCall(call('StopInstances', stop, session(PUBLIC_BUCKET_ROLE)))).toBeUndefined();
    expect(selfCall(call('StopInstances', stop, session('trailguard-prod-untaggedInstance-role')))).toBeUndefined();
  });

  it("in organisation mode, takes the member role's StopInstances for its own only in the enforcement's session", () => {
    const org = parseConfig({ organization: { organizationId: 'o-a1b2c3d4e5', centralAccountId: '999988887777' } });
    const stop = { instancesSet: { items: [{ instanceId: 'i-0abc' }] } };
    expect(selfCall(call('StopInstances', stop, session('trailguard-remediation', 'trailguard-untagged-instance')), org)).toBe('trailguard-remediation');
    expect(selfCall(call('StopInstances', stop, session('trailguard-remediation', 'trailguard-public-bucket')), org)).toBeUndefined();
  });

  it('takes a revoke and a restart of logging for its own whatever their parameters: both only tighten', () => {
    expect(selfCall(call('RevokeSecurityGroupIngress', { groupId: 'sg-0abc' }, session('trailguard-prod-openSecurityGroup-role')))).toBe(
      'trailguard-prod-openSecurityGroup-role',
    );
    expect(selfCall(call('StartLogging', { name: 'example-audit-trail' }, session('trailguard-prod-trailLogging-role')))).toBe(
      'trailguard-prod-trailLogging-role',
    );
  });

  it("never takes another role's, another account's or another call's record for its own", () => {
    const own = ['PutBucketPublicAccessBlock', bucket(ALL_BLOCKED)] as const;
    expect(selfCall(call(...own, session(PUBLIC_BUCKET_ROLE)))).toBe(PUBLIC_BUCKET_ROLE);
    expect(selfCall(call(...own, session('example-admin-role')))).toBeUndefined();
    expect(selfCall(call(...own, session(PUBLIC_BUCKET_ROLE, 's', '999988887777')))).toBeUndefined();
    expect(selfCall(call('PutBucketAcl', bucket(ALL_BLOCKED), session(PUBLIC_BUCKET_ROLE)))).toBeUndefined();
    expect(selfCall(call('constructor', {}, session(PUBLIC_BUCKET_ROLE)))).toBeUndefined();
    expect(selfCall(call('__proto__', {}, session(PUBLIC_BUCKET_ROLE)))).toBeUndefined();
  });
});

describe("the runner judges trailguard's role like any caller when the call is not what trailguard writes", () => {
  const config = () => sampleConfig({ selfRoles: ['trailguard-prod-*'] });

  it('judges a PutBucketPublicAccessBlock turning all four flags off by its own role as a violation', async () => {
    const allOff = withDetail(loadSample('public-bucket', 'ignored.remediator-own-call'), {
      userIdentity: session(PUBLIC_BUCKET_ROLE),
      requestParameters: {
        bucketName: 'example-reports',
        PublicAccessBlockConfiguration: { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false },
      },
    });
    const record = await run(publicBucket, allOff, capturingDeps({ config: config() }));
    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ api: 'S3.PutPublicAccessBlock', status: 'planned' }] });
    expect(record.reason).not.toContain('caused by trailguard itself');
  });

  it('still ignores its real fix: all four flags on, by its own role', async () => {
    const ownFix = withDetail(loadSample('public-bucket', 'ignored.remediator-own-call'), { userIdentity: session(PUBLIC_BUCKET_ROLE) });
    const record = await run(publicBucket, ownFix, capturingDeps({ config: config() }));
    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining(`caused by trailguard itself (role ${PUBLIC_BUCKET_ROLE})`) });
  });

  it('judges an UpdateTrail turning log file validation off by its own role as a violation, and ignores its restore', async () => {
    const sample = loadSample('trail-logging', 'ignored.update-trail-restore-by-remediator');
    const name = 'arn:aws:cloudtrail:us-east-1:111122223333:trail/example-audit-trail';
    const weakening = withDetail(sample, { requestParameters: { name, enableLogFileValidation: false } });
    const weakened = await run(trailLogging, weakening, capturingDeps({ config: config() }));
    const restored = await run(trailLogging, sample, capturingDeps({ config: config() }));
    expect(weakened).toMatchObject({ outcome: 'would-remediate', actions: [{ api: 'CloudTrail.UpdateTrail' }] });
    expect(restored).toMatchObject({
      outcome: 'ignored',
      reason: expect.stringContaining('caused by trailguard itself (role trailguard-prod-trailLogging-role)'),
    });
  });

  /** A rule watching `eventName` that always finds a violation: no shipped rule watches CreateTags or StopInstances. */
  function watching(eventName: string) {
    return {
      id: 'untagged-instance',
      pattern: { source: ['aws.ec2'], detail: { eventName: [eventName] } },
      permissions: {},
      settings: () => ({ enabled: true }),
      clients: () => ({}),
      parse: vi.fn(() => ({ resources: [{ type: 'AWS::EC2::Instance', id: 'i-0abc' }] })),
      inspect: async () => undefined,
      decide: () =>
        violation(
          'changed',
          'HIGH',
          [{ type: 'AWS::EC2::Instance', id: 'i-0abc' }],
          [{ api: 'EC2.CreateTags', resource: { type: 'AWS::EC2::Instance', id: 'i-0abc' }, params: {} }],
        ),
      actions: [testAction('EC2.CreateTags')],
      message: () => ({ title: 'title', lines: [] }),
    } satisfies AnyRule;
  }
  const ec2Call = (eventName: string, requestParameters: unknown, role: string) =>
    wrapRecord({
      eventVersion: '1.09',
      eventTime: '2026-11-20T09:15:00Z',
      eventSource: 'ec2.amazonaws.com',
      eventName,
      awsRegion: 'eu-west-1',
      eventID: `e-${eventName}-${role}`,
      recipientAccountId: ACCOUNT,
      userIdentity: session(role),
      requestParameters,
    });

  it('judges CreateTags of other keys by its own role, and ignores its own keys', async () => {
    const role = 'trailguard-prod-untaggedInstance-role';
    const tagSet = (key: string) => ({ resourcesSet: { items: [{ resourceId: 'i-0abc' }] }, tagSet: { items: [{ key, value: 'x' }] } });
    const other = await run(watching('CreateTags'), ec2Call('CreateTags', tagSet('Environment'), role), capturingDeps({ config: config() }));
    const own = await run(watching('CreateTags'), ec2Call('CreateTags', tagSet('trailguard:tagged-at'), role), capturingDeps({ config: config() }));
    expect(other).toMatchObject({ outcome: 'would-remediate' });
    expect(own).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining(`caused by trailguard itself (role ${role})`) });
  });

  it("judges StopInstances by the public-bucket role, and ignores the enforcement's", async () => {
    const stop = { instancesSet: { items: [{ instanceId: 'i-0abc' }] } };
    const byPublicBucket = await run(watching('StopInstances'), ec2Call('StopInstances', stop, PUBLIC_BUCKET_ROLE), capturingDeps({ config: config() }));
    const byEnforcement = await run(watching('StopInstances'), ec2Call('StopInstances', stop, ENFORCE_ROLE), capturingDeps({ config: config() }));
    expect(byPublicBucket).toMatchObject({ outcome: 'would-remediate' });
    expect(byPublicBucket.reason).not.toContain('caused by trailguard itself');
    expect(byEnforcement).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining(`caused by trailguard itself (role ${ENFORCE_ROLE})`) });
  });
});
