import {
  CloudTrailClient,
  GetEventSelectorsCommand,
  GetTrailCommand,
  GetTrailStatusCommand,
  PutEventSelectorsCommand,
  StartLoggingCommand,
  UpdateTrailCommand,
} from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { trailLogging } from '../../../functions/trail-logging/rule.js';
import { lambdaRunner } from '../../../shared/runner/lambda.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const cloudTrail = mockClient(CloudTrailClient);

const ACCOUNT = '111122223333';
const ARN = `arn:aws:cloudtrail:us-east-1:${ACCOUNT}:trail/example-audit-trail`;
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const TRAIL = {
  Name: 'example-audit-trail',
  TrailARN: ARN,
  HomeRegion: 'us-east-1',
  S3BucketName: 'example-cloudtrail-logs',
  IsOrganizationTrail: false,
  IsMultiRegionTrail: true,
  IncludeGlobalServiceEvents: true,
  LogFileValidationEnabled: true,
  KmsKeyId: KEY,
};
const sdkError = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

/** The Region of the client each call of this command was sent through. */
async function regionsOf(command: typeof GetTrailCommand | typeof GetTrailStatusCommand | typeof StartLoggingCommand | typeof UpdateTrailCommand) {
  return Promise.all(cloudTrail.commandCalls(command).map((call) => (call.thisValue as CloudTrailClient).config.region()));
}
const inputsOf = (command: typeof StartLoggingCommand | typeof UpdateTrailCommand) => cloudTrail.commandCalls(command).map((call) => call.args[0].input);

beforeEach(() => {
  cloudTrail.reset();
  cloudTrail.rejects(new Error('unexpected CloudTrail call')); // unmocked calls fail loudly
});
afterEach(() => cloudTrail.reset());

describe('trail-logging live: StopLogging', () => {
  it('restarts a trail stopped by name and confirms it logs again', async () => {
    cloudTrail.on(GetTrailCommand).resolves({ Trail: TRAIL });
    cloudTrail.on(GetTrailStatusCommand).resolvesOnce({ IsLogging: false }).resolves({ IsLogging: true });
    cloudTrail.on(StartLoggingCommand).resolves({});

    const { record, deps } = await runSample(trailLogging, 'would-remediate.stop-logging-by-name', { mode: 'live' });

    expect(inputsOf(StartLoggingCommand)).toEqual([{ Name: ARN }]);
    expect(cloudTrail.commandCalls(GetTrailCommand)[0]?.args[0].input).toEqual({ Name: 'example-audit-trail' });
    expect(cloudTrail.commandCalls(GetTrailStatusCommand).map((c) => c.args[0].input)).toEqual([{ Name: ARN }, { Name: ARN }]); // inspect + verify
    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'CRITICAL',
      actions: [
        {
          api: 'CloudTrail.StartLogging',
          status: 'done',
          previous: { IsLogging: false },
          verification: { ok: true, detail: 'GetTrailStatus reads IsLogging: true' },
        },
      ],
      notification: { status: 'sent' },
    });
    expect(deps.published[0]?.subject).toBe(`[CRITICAL] Stopped trail example-audit-trail restarted in ${ACCOUNT}/us-east-1`);
    expect(deps.published[0]?.text).toContain('until it logs again, no other trailguard rule can see this account');
  });

  it("restarts a trail stopped by ARN through the client of the ARN's home Region, not the event's", async () => {
    cloudTrail.on(GetTrailCommand).resolves({ Trail: TRAIL });
    cloudTrail.on(GetTrailStatusCommand).resolvesOnce({ IsLogging: false }).resolves({ IsLogging: true });
    cloudTrail.on(StartLoggingCommand).resolves({});

    const { record } = await runSample(trailLogging, 'would-remediate.stop-logging-arn-home-region-differs', { mode: 'live' });

    expect(record).toMatchObject({ outcome: 'remediated', region: 'eu-west-1', resources: [{ id: ARN, region: 'us-east-1' }] });
    expect(inputsOf(StartLoggingCommand)).toEqual([{ Name: ARN }]);
    expect(await regionsOf(StartLoggingCommand)).toEqual(['us-east-1']);
    expect(await regionsOf(GetTrailCommand)).toEqual(['us-east-1']);
    expect(await regionsOf(GetTrailStatusCommand)).toEqual(['us-east-1', 'us-east-1']);
  });

  it('follows the HomeRegion GetTrail reports when the event named the trail without an ARN', async () => {
    const home = { ...TRAIL, HomeRegion: 'eu-central-1', TrailARN: ARN.replace('us-east-1', 'eu-central-1') };
    cloudTrail.on(GetTrailCommand).resolves({ Trail: home });
    cloudTrail.on(GetTrailStatusCommand).resolvesOnce({ IsLogging: false }).resolves({ IsLogging: true });
    cloudTrail.on(StartLoggingCommand).resolves({});

    const { record } = await runSample(trailLogging, 'would-remediate.stop-logging-by-name', { mode: 'live' });

    expect(record.outcome).toBe('remediated');
    expect(await regionsOf(GetTrailCommand)).toEqual(['us-east-1']); // asked where the call was made
    expect(inputsOf(StartLoggingCommand)).toEqual([{ Name: home.TrailARN }]);
    expect(await regionsOf(StartLoggingCommand)).toEqual(['eu-central-1']); // acted where the trail lives
  });

  it('alerts without any call when the trail ARN belongs to the management account', async () => {
    const { record, deps } = await runSample(trailLogging, 'alerted.stop-logging-organization-trail-of-management-account', { mode: 'live' });

    expect(cloudTrail.calls()).toHaveLength(0);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'CRITICAL', actions: [] });
    expect(record.reason).toContain('it is an organisation trail of account 444455556666: only that management account can change it (in us-east-1)');
    expect(deps.published[0]?.subject).toMatch(/^\[CRITICAL\] Trail tampering: StopLogging on example-org-trail/);
  });

  it("alerts, and neither reads the status nor restarts, when GetTrail shows another account's organisation trail", async () => {
    cloudTrail
      .on(GetTrailCommand)
      .resolves({ Trail: { ...TRAIL, IsOrganizationTrail: true, TrailARN: 'arn:aws:cloudtrail:us-east-1:444455556666:trail/example-audit-trail' } });

    const { record } = await runSample(trailLogging, 'would-remediate.stop-logging-by-name', { mode: 'live' });

    expect(cloudTrail.commandCalls(GetTrailCommand)).toHaveLength(1);
    expect(cloudTrail.commandCalls(GetTrailStatusCommand)).toHaveLength(0);
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(0);
    expect(record).toMatchObject({ outcome: 'alerted', reason: expect.stringContaining('only that management account can change it') });
  });

  it('restarts an organisation trail from its management account and says so', async () => {
    cloudTrail.on(GetTrailCommand).resolves({ Trail: { ...TRAIL, IsOrganizationTrail: true } });
    cloudTrail.on(GetTrailStatusCommand).resolvesOnce({ IsLogging: false }).resolves({ IsLogging: true });
    cloudTrail.on(StartLoggingCommand).resolves({});

    const { record } = await runSample(trailLogging, 'would-remediate.stop-logging-by-name', { mode: 'live' });

    expect(inputsOf(StartLoggingCommand)).toEqual([{ Name: ARN }]);
    expect(record).toMatchObject({ outcome: 'remediated', reason: expect.stringContaining('(the organisation trail; this is its management account)') });
  });

  it.each(['live', 'dry-run'] as const)(
    'alerts CRITICAL (%s) when the stopped trail no longer exists: deleted, perhaps unseen; starts nothing',
    async (mode) => {
      cloudTrail.on(GetTrailCommand).rejects(sdkError('TrailNotFoundException', 400));

      const { record, deps } = await runSample(trailLogging, 'would-remediate.stop-logging-by-arn', { mode });

      expect(cloudTrail.commandCalls(GetTrailCommand)).toHaveLength(1);
      expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(0);
      expect(record).toMatchObject({
        outcome: 'alerted',
        severity: 'CRITICAL',
        actions: [],
        error: null,
        notification: { status: 'sent' },
        reason: expect.stringContaining("was stopped and no longer exists: deleted? if it was this account's only trail, the account may be unrecorded"),
      });
      expect(deps.published[0]?.subject).toMatch(/^\[CRITICAL\] Trail example-audit-trail stopped, then gone \(deleted\?\)/);
      expect(deps.published[0]?.text).toContain(
        "aws cloudtrail lookup-events --lookup-attributes 'AttributeKey=EventName,AttributeValue=DeleteTrail' --region 'eu-west-1'",
      );
      expect(deps.published[0]?.text).toContain("aws cloudtrail create-trail --name 'example-audit-trail'");
    },
  );

  it('alerts CRITICAL when the trail is deleted between GetTrail and GetTrailStatus', async () => {
    cloudTrail.on(GetTrailCommand).resolves({ Trail: TRAIL });
    cloudTrail.on(GetTrailStatusCommand).rejects(sdkError('TrailNotFoundException', 400));

    const { record } = await runSample(trailLogging, 'would-remediate.stop-logging-by-name', { mode: 'live' });

    expect(cloudTrail.commandCalls(GetTrailStatusCommand)).toHaveLength(1);
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(0);
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'CRITICAL',
      reason: expect.stringContaining('(TrailNotFoundException from CloudTrail.GetTrailStatus)'),
    });
  });

  it('still fails, naming the permission, when GetTrail is denied: only a gone trail becomes an alert', async () => {
    cloudTrail.on(GetTrailCommand).rejects(sdkError('AccessDeniedException', 400));

    const { record } = await runSample(trailLogging, 'would-remediate.stop-logging-by-name', { mode: 'live' });

    expect(cloudTrail.commandCalls(GetTrailCommand)).toHaveLength(1);
    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'denied', permission: 'cloudtrail:GetTrail' } });
  });

  it('does nothing for a stale event whose trail is logging again', async () => {
    cloudTrail.on(GetTrailCommand).resolves({ Trail: TRAIL });
    cloudTrail.on(GetTrailStatusCommand).resolves({ IsLogging: true });

    const { record } = await runSample(trailLogging, 'would-remediate.stop-logging-by-name', { mode: 'live' });

    expect(cloudTrail.commandCalls(GetTrailStatusCommand)).toHaveLength(1);
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(0);
    expect(record).toMatchObject({ outcome: 'compliant', notification: { status: 'not-needed' } });
  });

  it('throws on throttling so EventBridge retries, and the retry restarts the trail', async () => {
    cloudTrail.on(GetTrailCommand).resolves({ Trail: TRAIL });
    cloudTrail.on(GetTrailStatusCommand).resolvesOnce({ IsLogging: false }).resolvesOnce({ IsLogging: false }).resolves({ IsLogging: true });
    cloudTrail.on(StartLoggingCommand).rejectsOnce(sdkError('ThrottlingException', 400)).resolves({});
    const deps = capturingDeps({ mode: 'live' });
    const handler = lambdaRunner(trailLogging, () => deps);
    const event = loadSample('trail-logging', 'would-remediate.stop-logging-by-name');

    await expect(handler(event)).rejects.toThrow(/ThrottlingException/);
    expect(deps.written[0]).toMatchObject({
      outcome: 'failed',
      error: { kind: 'transient', code: 'ThrottlingException' },
      notification: { status: 'deferred' },
    });
    expect(deps.published).toEqual([]);

    const retried = await handler(event); // what EventBridge's retry policy delivers again

    expect(retried).toMatchObject({ outcome: 'remediated', actions: [{ status: 'done', verification: { ok: true } }] });
    expect(inputsOf(StartLoggingCommand)).toEqual([{ Name: ARN }, { Name: ARN }]);
    expect(deps.written).toHaveLength(2);
    expect(deps.published).toHaveLength(1);
  });

  it('fails with the missing permission named when StartLogging is denied', async () => {
    cloudTrail.on(GetTrailCommand).resolves({ Trail: TRAIL });
    cloudTrail.on(GetTrailStatusCommand).resolves({ IsLogging: false });
    cloudTrail.on(StartLoggingCommand).rejects(sdkError('AccessDeniedException', 400));

    const { record, deps } = await runSample(trailLogging, 'would-remediate.stop-logging-by-name', { mode: 'live' });

    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'denied', permission: 'cloudtrail:StartLogging' }, actions: [{ status: 'failed' }] });
    expect(deps.published[0]?.subject).toMatch(/^\[CRITICAL\] FAILED to restart stopped trail example-audit-trail/);
    expect(deps.published[0]?.text).toContain(`Restart: aws cloudtrail start-logging --region 'us-east-1' --name '${ARN}'`);
  });

  it('reports a restart that does not read back as failed, never remediated', async () => {
    cloudTrail.on(GetTrailCommand).resolves({ Trail: TRAIL });
    cloudTrail.on(GetTrailStatusCommand).resolves({ IsLogging: false });
    cloudTrail.on(StartLoggingCommand).resolves({});

    const { record } = await runSample(trailLogging, 'would-remediate.stop-logging-by-name', { mode: 'live' });

    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(1);
    expect(record).toMatchObject({
      outcome: 'failed',
      actions: [{ status: 'done', verification: { ok: false, detail: 'GetTrailStatus still reads IsLogging: false' } }],
    });
  });
});

describe('trail-logging live: failed attempts, deletions and refusals', () => {
  it('alerts on a failed StopLogging without any CloudTrail call', async () => {
    const { record, deps } = await runSample(trailLogging, 'alerted.stop-logging-access-denied', { mode: 'live' });

    expect(cloudTrail.calls()).toHaveLength(0);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', actions: [] });
    expect(deps.published[0]?.attributes).toEqual({ rule: 'trail-logging', severity: 'HIGH', outcome: 'alerted', account: ACCOUNT });
  });

  it('alerts on DeleteTrail without reading the trail it deleted', async () => {
    const { record } = await runSample(trailLogging, 'alerted.delete-trail', { mode: 'live' });

    expect(cloudTrail.calls()).toHaveLength(0);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'CRITICAL' });
  });

  it('refuses a name that cannot be a trail before any call', async () => {
    const sample = withDetail(loadSample('trail-logging', 'would-remediate.stop-logging-by-name'), { requestParameters: { name: '192.168.5.4' } });
    const deps = capturingDeps({ mode: 'live' });

    const record = await lambdaRunner(trailLogging, () => deps)(sample);

    expect(cloudTrail.calls()).toHaveLength(0);
    expect(record).toMatchObject({
      outcome: 'failed',
      error: { kind: 'parse' },
      reason: expect.stringContaining('detail.requestParameters.name: expected a trail name'),
    });
  });
});

describe('trail-logging live: UpdateTrail', () => {
  it('restores log file validation with exactly that field, recording the previous value', async () => {
    cloudTrail
      .on(GetTrailCommand)
      .resolvesOnce({ Trail: { ...TRAIL, LogFileValidationEnabled: false } })
      .resolves({ Trail: TRAIL });
    cloudTrail.on(UpdateTrailCommand).resolves({});

    const { record, deps } = await runSample(trailLogging, 'would-remediate.update-trail-log-file-validation-off', { mode: 'live' });

    expect(inputsOf(UpdateTrailCommand)).toEqual([{ Name: ARN, EnableLogFileValidation: true }]);
    expect(await regionsOf(UpdateTrailCommand)).toEqual(['us-east-1']);
    expect(record).toMatchObject({
      outcome: 'remediated',
      actions: [
        {
          api: 'CloudTrail.UpdateTrail',
          status: 'done',
          previous: { EnableLogFileValidation: false },
          verification: { ok: true, detail: 'GetTrail reads LogFileValidationEnabled: true' },
        },
      ],
    });
    expect(deps.published[0]?.text).toContain(`To reverse: aws cloudtrail update-trail --region 'us-east-1' --name '${ARN}' --no-enable-log-file-validation`);
    expect(deps.published[0]?.text.split('\n').filter((line) => line.includes('aws cloudtrail update-trail'))).toHaveLength(1); // once: the action type's, not the message's too
  });

  it('restores multi-Region together with global service events when both are off, and says why in record and message', async () => {
    const weakened = { ...TRAIL, IsMultiRegionTrail: false, IncludeGlobalServiceEvents: false };
    cloudTrail.on(GetTrailCommand).resolvesOnce({ Trail: weakened }).resolves({ Trail: TRAIL });
    cloudTrail.on(UpdateTrailCommand).resolves({});

    const { record, deps } = await runSample(trailLogging, 'would-remediate.update-trail-multi-region-off-cli', { mode: 'live' });

    expect(inputsOf(UpdateTrailCommand)).toEqual([{ Name: ARN, IsMultiRegionTrail: true, IncludeGlobalServiceEvents: true }]);
    expect(record).toMatchObject({
      outcome: 'remediated',
      actions: [
        {
          previous: { IsMultiRegionTrail: false, IncludeGlobalServiceEvents: false },
          verification: { ok: true, detail: 'GetTrail reads IsMultiRegionTrail: true, IncludeGlobalServiceEvents: true' },
        },
      ],
    });
    const why =
      'CloudTrail refuses a multi-Region trail without global service events (InvalidParameterCombinationException), so they are turned on although restore.globalServiceEvents is off';
    expect(record.reason).toContain(why);
    expect(deps.published[0]?.text).toContain(why);
  });

  it('alerts (HIGH) and writes nothing when a console edit sends isMultiRegionTrail false for a single-Region trail', async () => {
    cloudTrail.on(GetTrailCommand).resolves({ Trail: { ...TRAIL, IsMultiRegionTrail: false } });

    const { record, deps } = await runSample(trailLogging, 'alerted.update-trail-multi-region-off-console', { mode: 'live' });

    expect(cloudTrail.commandCalls(GetTrailCommand)).toHaveLength(1);
    expect(cloudTrail.commandCalls(UpdateTrailCommand)).toHaveLength(0);
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'HIGH',
      actions: [],
      reason: expect.stringContaining('it does not show that this call turned it off'),
    });
    expect(deps.published).toHaveLength(1);
  });

  it('alerts CRITICAL when the weakened trail no longer exists', async () => {
    cloudTrail.on(GetTrailCommand).rejects(sdkError('TrailNotFoundException', 400));

    const { record, deps } = await runSample(trailLogging, 'would-remediate.update-trail-log-file-validation-off', { mode: 'live' });

    expect(cloudTrail.commandCalls(UpdateTrailCommand)).toHaveLength(0);
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'CRITICAL',
      reason: expect.stringContaining('was weakened (logFileValidation off) and no longer exists: deleted?'),
    });
    expect(deps.published[0]?.subject).toMatch(/^\[CRITICAL\] Trail example-audit-trail weakened, then gone \(deleted\?\)/);
  });

  it('makes no call for an update that turns nothing off (a console edit of a never-encrypted trail)', async () => {
    const { record } = await runSample(trailLogging, 'compliant.update-trail-console-never-encrypted', { mode: 'live' });

    expect(cloudTrail.calls()).toHaveLength(0);
    expect(record).toMatchObject({ outcome: 'compliant', notification: { status: 'not-needed' } });
  });

  it('does not write when a later change already restored the setting', async () => {
    cloudTrail.on(GetTrailCommand).resolves({ Trail: TRAIL });

    const { record } = await runSample(trailLogging, 'would-remediate.update-trail-multi-region-off-cli', { mode: 'live' });

    expect(cloudTrail.commandCalls(GetTrailCommand)).toHaveLength(1);
    expect(cloudTrail.commandCalls(UpdateTrailCommand)).toHaveLength(0);
    expect(record).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining('already restored') });
  });

  it('reports an UpdateTrail that did not stick as failed', async () => {
    cloudTrail.on(GetTrailCommand).resolves({ Trail: { ...TRAIL, LogFileValidationEnabled: false } });
    cloudTrail.on(UpdateTrailCommand).resolves({});

    const { record } = await runSample(trailLogging, 'would-remediate.update-trail-log-file-validation-off', { mode: 'live' });

    expect(cloudTrail.commandCalls(UpdateTrailCommand)).toHaveLength(1);
    expect(record).toMatchObject({
      outcome: 'failed',
      actions: [{ verification: { ok: false, detail: 'GetTrail still reads LogFileValidationEnabled off' } }],
    });
  });
});

describe('trail-logging dry-run and offline', () => {
  it('dry-run reads the trail in its home Region and reports, starting nothing', async () => {
    cloudTrail.on(GetTrailCommand).resolves({ Trail: TRAIL });
    cloudTrail.on(GetTrailStatusCommand).resolves({ IsLogging: false });

    const { record } = await runSample(trailLogging, 'would-remediate.stop-logging-arn-home-region-differs', { mode: 'dry-run' });

    expect(await regionsOf(GetTrailStatusCommand)).toEqual(['us-east-1']);
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(0);
    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned', params: { Name: ARN } }] });
  });

  it('builds read-only clients for every Region in dry-run', () => {
    const clients = trailLogging.clients({ region: 'eu-west-1', endpoint: undefined, readOnly: true });
    const home = clients.cloudTrailIn('us-east-1');
    expect(home.middlewareStack.identify()).toContainEqual(expect.stringContaining('trailguardReadOnlyGuard'));
    expect(
      trailLogging.clients({ region: 'eu-west-1', endpoint: undefined, readOnly: false }).cloudTrailIn('us-east-1').middlewareStack.identify(),
    ).not.toContainEqual(expect.stringContaining('trailguardReadOnlyGuard'));
  });

  it('offline makes no AWS call at all', async () => {
    const { record } = await runSample(trailLogging, 'would-remediate.stop-logging-by-arn', { mode: 'offline' });

    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned', params: { Name: ARN.replace('us-east-1', 'eu-west-1') } }] });
    expect(cloudTrail.calls()).toHaveLength(0);
  });
});

describe('trail-logging: management events selected away, restored when configured (restore.managementEvents)', () => {
  const SAMPLE = 'alerted.put-event-selectors-management-events-off';
  const NARROWED = [
    {
      ReadWriteType: 'ReadOnly' as const,
      IncludeManagementEvents: false,
      DataResources: [{ Type: 'AWS::S3::Object', Values: [] }],
      ExcludeManagementEventSources: [],
    },
  ];
  const ALL = { ReadWriteType: 'All' as const, IncludeManagementEvents: true, DataResources: [], ExcludeManagementEventSources: [] };
  const restoring = () => sampleConfig({ rules: { 'trail-logging': { restore: { managementEvents: true } } } });

  it('by default alerts CRITICAL and makes no call', async () => {
    const { record } = await runSample(trailLogging, SAMPLE, { mode: 'live' });
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'CRITICAL', actions: [] });
    expect(cloudTrail.calls()).toHaveLength(0);
  });

  it('live adds a selector of all management events to the selectors now, keeps the others, reads it back, and keeps the set replaced', async () => {
    cloudTrail
      .on(GetEventSelectorsCommand)
      .resolvesOnce({ TrailARN: ARN, EventSelectors: NARROWED })
      .resolves({ TrailARN: ARN, EventSelectors: [...NARROWED, ALL] });
    cloudTrail.on(PutEventSelectorsCommand).resolves({});

    const { record, deps } = await runSample(trailLogging, SAMPLE, { mode: 'live', config: restoring() });

    expect(cloudTrail.commandCalls(PutEventSelectorsCommand).map((c) => c.args[0].input)).toEqual([{ TrailName: ARN, EventSelectors: [...NARROWED, ALL] }]);
    expect(await Promise.all(cloudTrail.commandCalls(PutEventSelectorsCommand).map((c) => (c.thisValue as CloudTrailClient).config.region()))).toEqual([
      'us-east-1',
    ]);
    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'CRITICAL',
      actions: [{ status: 'done', previous: { EventSelectors: NARROWED }, verification: { ok: true } }],
    });
    expect(deps.published[0]?.text).toContain('aws cloudtrail put-event-selectors');
  });

  it('is compliant, writing nothing, when the selectors now record every management event (restored since)', async () => {
    cloudTrail.on(GetEventSelectorsCommand).resolves({ TrailARN: ARN, EventSelectors: [ALL] });
    const { record } = await runSample(trailLogging, SAMPLE, { mode: 'live', config: restoring() });
    expect(record).toMatchObject({ outcome: 'compliant', actions: [] });
    expect(cloudTrail.commandCalls(PutEventSelectorsCommand)).toHaveLength(0);
  });

  it('offline plans the restore from the request itself (the call replaced every selector)', async () => {
    const { record } = await runSample(trailLogging, SAMPLE, { mode: 'offline', config: restoring() });
    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned', params: { EventSelectors: [...NARROWED, ALL] } }] });
    expect(cloudTrail.calls()).toHaveLength(0);
  });

  it("alerts, reading nothing, for another account's organisation trail", async () => {
    const other = withDetail(loadSample(trailLogging.id, SAMPLE), {
      requestParameters: {
        trailName: 'arn:aws:cloudtrail:us-east-1:999988887777:trail/org-trail',
        eventSelectors: [{ readWriteType: 'All', includeManagementEvents: false }],
      },
      responseElements: null,
    });
    const record = await run(trailLogging, other, capturingDeps({ mode: 'live', config: restoring() }));
    expect(record).toMatchObject({ outcome: 'alerted', actions: [] });
    expect(cloudTrail.calls()).toHaveLength(0);
  });

  it("ends trailguard's own restore as ignored by the loop guard, and judges the same role's narrowing like anyone's", async () => {
    const config = sampleConfig({ selfRoles: ['trailguard-test-*'], rules: { 'trail-logging': { restore: { managementEvents: true } } } });
    const role = 'trailguard-test-trailLogging-role';
    const byRole = (eventSelectors: unknown[]) =>
      withDetail(loadSample(trailLogging.id, SAMPLE), {
        userIdentity: {
          type: 'AssumedRole',
          principalId: 'AROAEXAMPLEID:trailguard',
          arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/trailguard`,
          accountId: ACCOUNT,
          sessionContext: {
            sessionIssuer: { type: 'Role', principalId: 'AROAEXAMPLEID', arn: `arn:aws:iam::${ACCOUNT}:role/${role}`, accountId: ACCOUNT, userName: role },
          },
        },
        requestParameters: { trailName: ARN, eventSelectors },
      });
    const dataSelector = {
      readWriteType: 'ReadOnly',
      includeManagementEvents: false,
      dataResources: [{ type: 'AWS::S3::Object', values: [] }],
      excludeManagementEventSources: [],
    };
    const own = await run(
      trailLogging,
      byRole([dataSelector, { readWriteType: 'All', includeManagementEvents: true, dataResources: [], excludeManagementEventSources: [] }]),
      capturingDeps({ mode: 'live', config }),
    );
    expect(own.outcome).toBe('ignored');
    expect(own.reason).toContain('caused by trailguard itself');

    const narrowing = await run(trailLogging, byRole([dataSelector]), capturingDeps({ mode: 'offline', config }));
    expect(narrowing).toMatchObject({ outcome: 'would-remediate', severity: 'CRITICAL' });
    expect(cloudTrail.calls()).toHaveLength(0);
  });
});
