import { CloudTrailClient, DescribeTrailsCommand, GetTrailCommand, GetTrailStatusCommand, StartLoggingCommand } from '@aws-sdk/client-cloudtrail';
import {
  CreateTagsCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  DescribeTagsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
  type Instance,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { GetPublicAccessBlockCommand, ListBucketsCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSecurityGroupSweep } from '../../../functions/open-security-group/sweep.js';
import { publicBucketSweep } from '../../../functions/public-bucket/sweep.js';
import { trailLoggingSweep } from '../../../functions/trail-logging/sweep.js';
import { untaggedInstanceSweep } from '../../../functions/untagged-instance/sweep.js';
import { logger } from '../../../shared/log.js';
import { sweepHandler, windowOf } from '../../../shared/runner/sweep-lambda.js';
import { runSweep, type SweepRun } from '../../../shared/runner/sweep.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, sampleConfig } from '../../helpers/samples.js';

const s3 = mockClient(S3Client);
const ec2 = mockClient(EC2Client);
const cloudTrail = mockClient(CloudTrailClient);
const scheduler = mockClient(SchedulerClient);
const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const WINDOW = '2026-11-25T12:00:00.000Z';
const RUN: SweepRun = { region: REGION, account: ACCOUNT, window: WINDOW, deadline: Number.POSITIVE_INFINITY };

const ALL_ON = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
const awsError = (name: string, status = 400) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
// The SDK paginators reuse one input object and set the next token on it: copy each input when it is sent.
const pagesByToken =
  <T>(seen: object[], tokenName: string, pages: Record<string, T>) =>
  (input: Record<string, unknown>) => {
    seen.push({ ...input });
    return pages[String(input[tokenName] ?? 'first')];
  };

beforeEach(() => {
  for (const mock of [s3, ec2, cloudTrail, scheduler]) {
    mock.reset();
    mock.rejects(new Error('unexpected AWS call')); // unmocked calls fail loudly
  }
});
afterEach(() => {
  for (const mock of [s3, ec2, cloudTrail, scheduler]) mock.reset();
});

describe('public-bucket sweep', () => {
  let listed: object[] = [];
  const listBoth = () => {
    listed = [];
    s3.on(ListBucketsCommand).callsFake(
      pagesByToken(listed, 'ContinuationToken', {
        first: { Buckets: [{ Name: 'example-private' }], ContinuationToken: 'page-2' },
        'page-2': { Buckets: [{ Name: 'example-open' }] },
      }),
    );
  };

  it('pages through ListBuckets in this region, passing the token along, and blocks only the bucket without full Block Public Access', async () => {
    listBoth();
    s3.on(GetPublicAccessBlockCommand, { Bucket: 'example-private' }).resolves({ PublicAccessBlockConfiguration: ALL_ON });
    s3.on(GetPublicAccessBlockCommand, { Bucket: 'example-open' })
      .rejectsOnce(awsError('NoSuchPublicAccessBlockConfiguration', 404)) // the scan
      .rejectsOnce(awsError('NoSuchPublicAccessBlockConfiguration', 404)) // the rule's inspect
      .resolves({ PublicAccessBlockConfiguration: ALL_ON }); // verify
    s3.on(PutPublicAccessBlockCommand).resolves({});
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(publicBucketSweep, deps, RUN);

    expect(listed).toEqual([
      { BucketRegion: REGION, MaxBuckets: 1000 },
      { BucketRegion: REGION, MaxBuckets: 1000, ContinuationToken: 'page-2' },
    ]);
    expect(s3).toHaveReceivedCommandWith(PutPublicAccessBlockCommand, {
      Bucket: 'example-open',
      PublicAccessBlockConfiguration: ALL_ON,
      ExpectedBucketOwner: ACCOUNT,
    });
    expect(s3).toHaveReceivedCommandTimes(PutPublicAccessBlockCommand, 1);
    expect(deps.written).toHaveLength(1); // the compliant bucket has no record
    expect(deps.written[0]).toMatchObject({
      trigger: 'sweep',
      outcome: 'remediated',
      rule: 'public-bucket',
      eventId: `sweep:public-bucket:example-open:${WINDOW}`,
      resources: [{ id: 'example-open' }],
      account: ACCOUNT,
      region: REGION,
      // A finding is no CloudTrail call: no call, caller or call time is invented, so no violator and no exposure figure.
      eventName: null,
      eventSource: null,
      eventTime: null,
      errorCode: null,
      actor: null,
      actorType: null,
      sourceIp: null,
      userAgent: null,
      exposureMs: null,
    });
    expect(summary).toEqual(
      expect.objectContaining({ rule: 'public-bucket', region: REGION, scanned: 2, findings: 1, outcomes: { remediated: 1 }, complete: true, error: null }),
    );
  });

  it('writes nothing in dry-run and reports what it would do', async () => {
    listBoth();
    s3.on(GetPublicAccessBlockCommand, { Bucket: 'example-private' }).resolves({ PublicAccessBlockConfiguration: ALL_ON });
    s3.on(GetPublicAccessBlockCommand, { Bucket: 'example-open' }).resolves({ PublicAccessBlockConfiguration: { ...ALL_ON, RestrictPublicBuckets: false } });
    const deps = capturingDeps({ mode: 'dry-run' });

    const summary = await runSweep(publicBucketSweep, deps, RUN);

    expect(s3).toHaveReceivedCommandTimes(GetPublicAccessBlockCommand, 3); // two scanned, one re-read by the rule
    expect(s3).not.toHaveReceivedCommand(PutPublicAccessBlockCommand);
    expect(deps.written.map((r) => [r.resources[0]?.id, r.outcome, r.trigger])).toEqual([['example-open', 'would-remediate', 'sweep']]);
    expect(summary.outcomes).toEqual({ 'would-remediate': 1 });
  });

  it('leaves an exempt bucket alone, with an exempt record', async () => {
    s3.on(ListBucketsCommand).resolves({ Buckets: [{ Name: 'example-public-website' }] });
    s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: { ...ALL_ON, BlockPublicPolicy: false, RestrictPublicBuckets: false } });
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(publicBucketSweep, deps, RUN);

    expect(s3).toHaveReceivedCommandTimes(GetPublicAccessBlockCommand, 1);
    expect(s3).not.toHaveReceivedCommand(PutPublicAccessBlockCommand);
    expect(deps.written).toEqual([
      expect.objectContaining({ outcome: 'exempt', trigger: 'sweep', exemptions: [expect.objectContaining({ resource: 'example-public-website' })] }),
    ]);
    expect(summary.outcomes).toEqual({ exempt: 1 });
  });

  it('stops when the time budget is spent, acts on nothing after it, and says the sweep is incomplete and where it stopped', async () => {
    listBoth();
    s3.on(GetPublicAccessBlockCommand, { Bucket: 'example-private' }).resolves({ PublicAccessBlockConfiguration: ALL_ON });
    s3.on(GetPublicAccessBlockCommand, { Bucket: 'example-open' }).rejects(awsError('NoSuchPublicAccessBlockConfiguration', 404));
    let clock = Date.parse(WINDOW);
    const deps = { ...capturingDeps({ mode: 'live' }), now: () => (clock += 1000) };

    const summary = await runSweep(publicBucketSweep, deps, { ...RUN, deadline: Date.parse(WINDOW) + 2500 });

    // The second page was read (the budget is checked between steps), but its finding is never run.
    expect(s3).toHaveReceivedCommandWith(GetPublicAccessBlockCommand, { Bucket: 'example-open' });
    expect(s3).not.toHaveReceivedCommand(PutPublicAccessBlockCommand);
    expect(deps.written).toEqual([]);
    expect(summary).toMatchObject({ complete: false, scanned: 1, findings: 0 });
    expect(summary.stoppedAt).toContain('ListBuckets page token page-2');
  });

  it('ends a throttled ListBuckets as an incomplete sweep with a transient error, not a crash', async () => {
    s3.on(ListBucketsCommand).rejects(awsError('SlowDown', 503));
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(publicBucketSweep, deps, RUN);

    expect(s3).toHaveReceivedCommand(ListBucketsCommand);
    expect(deps.written).toEqual([]);
    expect(summary).toMatchObject({ complete: false, error: { kind: 'transient', code: 'SlowDown', api: 'S3.ListBuckets' } });
  });
});

describe('open-security-group sweep', () => {
  const SG = 'sg-0123456789abcdef0';
  const rule = (id: string, fields: Partial<SecurityGroupRule>): SecurityGroupRule => ({
    SecurityGroupRuleId: id,
    GroupId: SG,
    IsEgress: false,
    IpProtocol: 'tcp',
    ...fields,
  });
  const SSH = rule('sgr-00000000000000001', { FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0' });
  const HTTPS = rule('sgr-00000000000000002', { FromPort: 443, ToPort: 443, CidrIpv4: '0.0.0.0/0' });
  const OFFICE = rule('sgr-00000000000000003', { FromPort: 3389, ToPort: 3389, CidrIpv4: '198.51.100.0/24' });
  const EGRESS = rule('sgr-00000000000000004', { IsEgress: true, IpProtocol: '-1', CidrIpv4: '0.0.0.0/0' });
  const PG = rule('sgr-00000000000000005', { FromPort: 5432, ToPort: 5432, CidrIpv6: '::/0' });

  it('pages through every rule of the region and revokes exactly the world-open rules on ports not allowed, by id', async () => {
    const scans: object[] = [];
    ec2.on(DescribeSecurityGroupRulesCommand).callsFake(
      pagesByToken(scans, 'NextToken', {
        first: { SecurityGroupRules: [SSH, HTTPS, EGRESS], NextToken: 'next' },
        next: { SecurityGroupRules: [OFFICE, PG] },
      }),
    );
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: SG, GroupName: 'web' }] });
    ec2
      .on(DescribeSecurityGroupRulesCommand, { Filters: [{ Name: 'group-id', Values: [SG] }] })
      .resolvesOnce({ SecurityGroupRules: [SSH, HTTPS, EGRESS, OFFICE, PG] })
      .resolves({ SecurityGroupRules: [HTTPS, EGRESS, OFFICE] });
    ec2.on(RevokeSecurityGroupIngressCommand).resolves({ Return: true });
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(openSecurityGroupSweep, deps, RUN);

    expect(scans).toEqual([{ MaxResults: 1000 }, { MaxResults: 1000, NextToken: 'next' }]);
    expect(ec2.commandCalls(RevokeSecurityGroupIngressCommand).map((c) => c.args[0].input)).toEqual([
      { GroupId: SG, SecurityGroupRuleIds: ['sgr-00000000000000001', 'sgr-00000000000000005'] },
    ]);
    expect(deps.written).toEqual([expect.objectContaining({ trigger: 'sweep', outcome: 'remediated', eventId: `sweep:open-security-group:${SG}:${WINDOW}` })]);
    expect(summary).toMatchObject({ scanned: 5, findings: 1, complete: true });
  });

  it('produces no record for a region whose world-open rules are all allowed', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [HTTPS, OFFICE, EGRESS] });
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(openSecurityGroupSweep, deps, RUN);

    expect(ec2).toHaveReceivedCommandTimes(DescribeSecurityGroupRulesCommand, 1);
    expect(ec2).not.toHaveReceivedCommand(RevokeSecurityGroupIngressCommand);
    expect(deps.written).toEqual([]);
    expect(summary).toMatchObject({ scanned: 3, findings: 0, complete: true });
  });

  it('leaves an exempt group alone, without reading it again', async () => {
    const exempt = 'sg-0a1b2c3d4e5f60718';
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({ SecurityGroupRules: [{ ...SSH, GroupId: exempt }] });
    const deps = capturingDeps({ mode: 'live' });

    await runSweep(openSecurityGroupSweep, deps, RUN);

    expect(ec2).toHaveReceivedCommandTimes(DescribeSecurityGroupRulesCommand, 1);
    expect(ec2).not.toHaveReceivedCommand(RevokeSecurityGroupIngressCommand);
    expect(deps.written).toEqual([expect.objectContaining({ outcome: 'exempt', trigger: 'sweep', resources: [expect.objectContaining({ id: exempt })] })]);
  });

  it('deduplicates a finding re-run in the same window through the state store', async () => {
    ec2.on(DescribeSecurityGroupRulesCommand, { Filters: undefined }).resolves({ SecurityGroupRules: [SSH] });
    ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: SG, GroupName: 'web' }] });
    ec2.on(DescribeSecurityGroupRulesCommand, { Filters: [{ Name: 'group-id', Values: [SG] }] }).resolves({ SecurityGroupRules: [SSH] });
    const deps = { ...capturingDeps({ mode: 'dry-run' }), store: memoryStateStore() };

    await runSweep(openSecurityGroupSweep, deps, RUN);
    await runSweep(openSecurityGroupSweep, deps, RUN);

    expect(deps.written.map((r) => r.outcome)).toEqual(['would-remediate', 'ignored']);
    expect(deps.written[1]?.reason).toContain('duplicate');
    expect(ec2).not.toHaveReceivedCommand(RevokeSecurityGroupIngressCommand);
  });
});

describe('trail-logging sweep', () => {
  const arn = (name: string, account = ACCOUNT, region = REGION) => `arn:aws:cloudtrail:${region}:${account}:trail/${name}`;
  const trail = (name: string, account = ACCOUNT, region = REGION) => ({ Name: name, TrailARN: arn(name, account, region), HomeRegion: region });

  it("restarts a home-Region trail that is not logging, and leaves shadow, logging and other accounts' trails alone", async () => {
    cloudTrail.on(DescribeTrailsCommand).resolves({
      trailList: [trail('example-main'), trail('example-stopped'), trail('example-shadow', ACCOUNT, 'us-east-1'), trail('example-org', '999988887777')],
    });
    cloudTrail.on(GetTrailStatusCommand, { Name: arn('example-main') }).resolves({ IsLogging: true });
    cloudTrail
      .on(GetTrailStatusCommand, { Name: arn('example-stopped') })
      .resolvesOnce({ IsLogging: false })
      .resolvesOnce({ IsLogging: false })
      .resolves({ IsLogging: true });
    cloudTrail.on(GetTrailCommand).resolves({ Trail: { ...trail('example-stopped'), IsMultiRegionTrail: true } });
    cloudTrail.on(StartLoggingCommand).resolves({});
    const deps = capturingDeps({ mode: 'live' });

    const summary = await runSweep(trailLoggingSweep, deps, RUN);

    expect(cloudTrail).toHaveReceivedCommandWith(DescribeTrailsCommand, { includeShadowTrails: true });
    expect(cloudTrail.commandCalls(StartLoggingCommand).map((c) => c.args[0].input)).toEqual([{ Name: arn('example-stopped') }]);
    expect(cloudTrail.commandCalls(GetTrailStatusCommand).map((c) => c.args[0].input.Name)).not.toContain(arn('example-org', '999988887777'));
    expect(deps.written).toEqual([expect.objectContaining({ trigger: 'sweep', outcome: 'remediated', severity: 'CRITICAL' })]);
    expect(summary).toMatchObject({ scanned: 2, findings: 1, complete: true });
  });

  it('leaves an exempt trail stopped, with an exempt record', async () => {
    cloudTrail.on(DescribeTrailsCommand).resolves({ trailList: [trail('example-sandbox-trail')] });
    cloudTrail.on(GetTrailStatusCommand).resolves({ IsLogging: false });
    const deps = capturingDeps({ mode: 'live' });

    await runSweep(trailLoggingSweep, deps, RUN);

    expect(cloudTrail).toHaveReceivedCommandTimes(GetTrailStatusCommand, 1);
    expect(cloudTrail).not.toHaveReceivedCommand(StartLoggingCommand);
    expect(deps.written).toEqual([expect.objectContaining({ outcome: 'exempt', trigger: 'sweep' })]);
  });
});

describe('untagged-instance sweep', () => {
  const instance = (id: string, tags: Record<string, string>, launched = '2026-11-01T00:00:00Z'): Instance => ({
    InstanceId: id,
    State: { Name: 'running' },
    LaunchTime: new Date(launched),
    Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
  });
  const TAGGED = instance('i-0aaaaaaaaaaaaaaa1', { Owner: 'arn:aws:iam::111122223333:user/alice', CostCenter: 'cc-42' });
  const UNTAGGED_ID = 'i-0bbbbbbbbbbbbbbb2';
  const UNTAGGED = instance(UNTAGGED_ID, { Name: 'web' });
  const JUST_LAUNCHED = instance('i-0ccccccccccccccc3', {}, '2026-11-25T11:58:00Z');
  const enforcing = sampleConfig({
    rules: { 'untagged-instance': { requiredTags: ['Owner', 'CostCenter'], defaultTagValues: { CostCenter: 'unassigned' }, enforcement: { enabled: true } } },
  });

  it('pages through pending, running and stopped instances, never invents an Owner, tags known defaults, and never schedules a stop', async () => {
    const scans: object[] = [];
    const scanPages = pagesByToken(scans, 'NextToken', {
      first: { Reservations: [{ Instances: [TAGGED, JUST_LAUNCHED] }], NextToken: 'more' },
      more: { Reservations: [{ Instances: [UNTAGGED] }] },
    });
    // The rule's inspect reads the one instance by id; the scan lists by state.
    ec2
      .on(DescribeInstancesCommand)
      .callsFake((input) => (input.Filters?.[0]?.Name === 'instance-id' ? { Reservations: [{ Instances: [UNTAGGED] }] } : scanPages(input)));
    ec2
      .on(DescribeTagsCommand)
      .resolvesOnce({ Tags: [] })
      .resolves({
        Tags: [
          { ResourceId: UNTAGGED.InstanceId, Key: 'CostCenter', Value: 'unassigned' },
          { ResourceId: UNTAGGED.InstanceId, Key: 'trailguard:tagged-at', Value: WINDOW },
        ],
      });
    ec2.on(CreateTagsCommand).resolves({});
    const deps = {
      ...capturingDeps({
        mode: 'live',
        config: {
          ...enforcing,
          enforceFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:enforce',
          schedulerRoleArn: 'arn:aws:iam::111122223333:role/scheduler',
        },
      }),
    };

    const summary = await runSweep(untaggedInstanceSweep, deps, { ...RUN, window: WINDOW });

    expect(scans).toEqual([
      { Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopped'] }], MaxResults: 1000 },
      { Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopped'] }], MaxResults: 1000, NextToken: 'more' },
    ]);
    expect(ec2.commandCalls(CreateTagsCommand).map((c) => c.args[0].input)).toEqual([
      {
        Resources: [UNTAGGED.InstanceId],
        Tags: [
          { Key: 'CostCenter', Value: 'unassigned' },
          { Key: 'trailguard:tagged-at', Value: WINDOW },
        ],
      },
    ]);
    expect(scheduler.calls()).toEqual([]);
    expect(deps.written).toHaveLength(1); // the tagged one and the one launched two minutes ago have no record
    expect(deps.written[0]).toMatchObject({
      trigger: 'sweep',
      outcome: 'remediated',
      resources: [{ id: UNTAGGED.InstanceId }],
      reason: expect.stringContaining('no value known for Owner'),
    });
    expect(summary).toMatchObject({ scanned: 3, findings: 1, complete: true });
  });

  it('alerts, and writes nothing, when Owner is the only missing key (the creator is unknown)', async () => {
    ec2
      .on(DescribeInstancesCommand, { Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopped'] }] })
      .resolves({ Reservations: [{ Instances: [UNTAGGED] }] });
    ec2.on(DescribeInstancesCommand, { Filters: [{ Name: 'instance-id', Values: [UNTAGGED_ID] }] }).resolves({ Reservations: [{ Instances: [UNTAGGED] }] });
    const deps = capturingDeps({ mode: 'live' });

    await runSweep(untaggedInstanceSweep, deps, RUN);

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 2);
    expect(ec2).not.toHaveReceivedCommand(CreateTagsCommand);
    expect(deps.written).toEqual([expect.objectContaining({ trigger: 'sweep', outcome: 'alerted', actions: [] })]);
    expect(deps.published).toHaveLength(1);
  });

  it('leaves an exempt instance alone, with an exempt record', async () => {
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [instance('i-0decafc0ffee00001', {})] }] });
    const deps = capturingDeps({ mode: 'live' });

    await runSweep(untaggedInstanceSweep, deps, RUN);

    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(deps.written).toEqual([expect.objectContaining({ outcome: 'exempt', trigger: 'sweep' })]);
  });
});

describe('the sweep Lambda handler', () => {
  const context = (remainingMs: number) => ({
    getRemainingTimeInMillis: () => remainingMs,
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:trailguard-test-publicBucketSweep`,
  });
  const scheduled = { id: 'e1', 'detail-type': 'Scheduled Event', source: 'aws.events', time: '2026-11-25T12:00:00Z', detail: {} };

  it("logs one summary line and names findings by the schedule's window and the function's account", async () => {
    const lines: string[] = [];
    logger.setSink((line) => lines.push(line));
    s3.on(ListBucketsCommand).resolves({ Buckets: [{ Name: 'example-open' }] });
    s3.on(GetPublicAccessBlockCommand).rejects(awsError('NoSuchPublicAccessBlockConfiguration', 404));
    const deps = capturingDeps({ mode: 'dry-run', config: sampleConfig({ region: REGION }) });

    const summary = await sweepHandler(publicBucketSweep, () => deps)(scheduled, context(300_000));
    logger.setSink(() => undefined);

    expect(deps.written).toEqual([
      expect.objectContaining({ eventId: `sweep:public-bucket:example-open:${WINDOW}`, account: ACCOUNT, outcome: 'would-remediate' }),
    ]);
    const summaries = lines.map((l) => JSON.parse(l)).filter((l) => l.message === 'trailguard sweep');
    expect(summaries).toEqual([expect.objectContaining({ level: 'INFO', rule: 'public-bucket', findings: 1, complete: true })]);
    expect(summary.window).toBe(WINDOW);
  });

  it('runs in sweepMode when it is set, so sweeps can stay report-only while events act', async () => {
    s3.on(ListBucketsCommand).resolves({ Buckets: [{ Name: 'example-open' }] });
    s3.on(GetPublicAccessBlockCommand).rejects(awsError('NoSuchPublicAccessBlockConfiguration', 404));
    const deps = capturingDeps({ mode: 'live', config: sampleConfig({ region: REGION, mode: 'live', sweepMode: 'dry-run' }) });

    const summary = await sweepHandler(publicBucketSweep, () => deps)(scheduled, context(300_000));

    expect(summary.mode).toBe('dry-run');
    expect(deps.written).toEqual([expect.objectContaining({ mode: 'dry-run', outcome: 'would-remediate', trigger: 'sweep' })]);
    expect(s3).toHaveReceivedCommandTimes(PutPublicAccessBlockCommand, 0);
    expect(s3).toHaveReceivedCommandTimes(GetPublicAccessBlockCommand, 2); // the scan, then the rule's own re-check
  });

  it('returns (does not throw) on a throttled list call, and throws on a denied one so the Errors alarm fires', async () => {
    s3.on(ListBucketsCommand).rejectsOnce(awsError('SlowDown', 503)).rejects(awsError('AccessDenied', 403));
    const handler = sweepHandler(publicBucketSweep, () => capturingDeps({ mode: 'live', config: sampleConfig({ region: REGION }) }));

    await expect(handler(scheduled, context(300_000))).resolves.toMatchObject({ complete: false, error: { kind: 'transient' } });
    await expect(handler(scheduled, context(300_000))).rejects.toThrow(/AccessDenied/);
  });

  it('names the window by the schedule time, else the current hour', () => {
    expect(windowOf(scheduled, 0)).toBe(WINDOW);
    expect(windowOf({}, Date.parse('2026-11-25T12:34:56Z'))).toBe(WINDOW);
  });
});
