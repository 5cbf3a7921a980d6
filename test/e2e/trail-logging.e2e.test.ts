import {
  CreateTrailCommand,
  DeleteTrailCommand,
  GetEventSelectorsCommand,
  GetTrailCommand,
  GetTrailStatusCommand,
  PutEventSelectorsCommand,
  StartLoggingCommand,
  StopLoggingCommand,
  UpdateTrailCommand,
} from '@aws-sdk/client-cloudtrail';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { ACCOUNT, aws, OTHER_REGION, REGION } from './helpers/emulator.js';
import { sampleEvent } from './helpers/events.js';
import { freshStackPerTest } from './helpers/stack.js';
import { invokeHandler, replayCli } from './helpers/invoke.js';

const TRAIL = 'example-e2e-audit-trail';

const stack = freshStackPerTest();
const env = stack.env;

/** A multi-Region trail with log file validation, logging (its S3 bucket must exist first). Returns its ARN. */
async function createLoggingTrail(home = REGION): Promise<string> {
  const bucket = `example-e2e-trail-logs-${home}`;
  await aws.s3.send(
    new CreateBucketCommand({ Bucket: bucket, ...(home === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: home as never } }) }),
  );
  const cloudTrail = aws.cloudTrail(home);
  const trail = await cloudTrail.send(new CreateTrailCommand({ Name: TRAIL, S3BucketName: bucket, IsMultiRegionTrail: true, EnableLogFileValidation: true }));
  await cloudTrail.send(new StartLoggingCommand({ Name: TRAIL }));
  return trail.TrailARN ?? '';
}

const isLogging = async (home = REGION) => (await aws.cloudTrail(home).send(new GetTrailStatusCommand({ Name: TRAIL }))).IsLogging;
const settingsOf = async (home = REGION) => (await aws.cloudTrail(home).send(new GetTrailCommand({ Name: TRAIL }))).Trail;

const stopEvent = (name = TRAIL) => sampleEvent('trail-logging', 'would-remediate.stop-logging-by-name', { requestParameters: { name } });
const attributesFor = (outcome: string, severity = 'CRITICAL') => ({ rule: 'trail-logging', severity, outcome, account: ACCOUNT });

describe('trail-logging against the emulator: a logging trail, then stopped', () => {
  it('live handler: starts logging again in the home Region, reads IsLogging back, changes no setting; a redelivery is a no-op', async () => {
    const arn = await createLoggingTrail();
    await aws.cloudTrail().send(new StopLoggingCommand({ Name: TRAIL }));
    const before = await settingsOf();
    const event = stopEvent();

    const { record } = await invokeHandler('trail-logging', event, env('live'));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'CRITICAL',
      actions: [
        {
          api: 'CloudTrail.StartLogging',
          status: 'done',
          resource: arn,
          params: { Name: arn },
          previous: { IsLogging: false },
          verification: { ok: true, detail: 'GetTrailStatus reads IsLogging: true' },
        },
      ],
      notification: { status: 'sent' },
    });
    expect(await isLogging()).toBe(true);
    expect(await settingsOf()).toEqual(before);
    const subject = (await stack.received()).map((n) => [n.subject, n.attributes]);
    expect(subject).toEqual([
      [
        expect.stringMatching(new RegExp(`^\\[CRITICAL\\] .*${TRAIL}.* in ${ACCOUNT}/${REGION}$`)),
        {
          ...attributesFor('remediated'),
          controls: JSON.stringify(['CloudTrail.1', 'CloudWatch.5']),
          dedupKey: expect.stringMatching(/^trailguard:trail-logging:remediated:[0-9a-f]{64}$/),
        },
      ],
    ]);

    await aws.cloudTrail().send(new StopLoggingCommand({ Name: TRAIL }));
    const second = await invokeHandler('trail-logging', event, env('live'));

    expect(second.record).toMatchObject({ outcome: 'ignored', actions: [] });
    expect(second.record.reason).toMatch(/^duplicate delivery of event .*: already handled as remediated/);
    expect(await isLogging()).toBe(false);
    expect(await stack.received()).toEqual([]);
  });

  it("live replay CLI, StopLogging by ARN from another Region: acts in the trail's home Region", async () => {
    const arn = await createLoggingTrail(OTHER_REGION);
    await aws.cloudTrail(OTHER_REGION).send(new StopLoggingCommand({ Name: TRAIL }));
    // The call was made from REGION naming the ARN. The rule reads and acts in the ARN's home Region, so it
    // never meets the shadow-trail error: AWS answers InvalidHomeRegionException there, moto TrailNotFoundException.
    const event = sampleEvent('trail-logging', 'would-remediate.stop-logging-arn-home-region-differs', { requestParameters: { name: arn } });

    const { exit, records } = await replayCli(event, env('live'));

    expect(exit).toBe(0);
    expect(records).toMatchObject([
      {
        outcome: 'remediated',
        region: REGION,
        actions: [{ api: 'CloudTrail.StartLogging', status: 'done', params: { Name: arn }, verification: { ok: true } }],
        resources: [{ id: arn, region: OTHER_REGION }],
        notification: { status: 'sent' },
      },
    ]);
    expect(await isLogging(OTHER_REGION)).toBe(true);
    expect(await stack.received()).toMatchObject([{ attributes: attributesFor('remediated') }]);
  });

  it.each(['handler', 'replay CLI'] as const)('dry-run (%s): plans StartLogging, notifies, and the trail stays stopped', async (via) => {
    const arn = await createLoggingTrail();
    await aws.cloudTrail().send(new StopLoggingCommand({ Name: TRAIL }));
    const before = await settingsOf();
    const event = stopEvent();

    const record =
      via === 'handler' ? (await invokeHandler('trail-logging', event, env('dry-run'))).record : (await replayCli(event, env('dry-run'))).records[0];

    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ api: 'CloudTrail.StartLogging', status: 'planned', params: { Name: arn } }] });
    expect(await isLogging()).toBe(false);
    expect(await settingsOf()).toEqual(before);
    expect(await stack.received()).toMatchObject([{ attributes: attributesFor('would-remediate') }]);
  });

  it('live: an UpdateTrail that turned log file validation off is restored, and only that setting changes', async () => {
    await createLoggingTrail();
    const update = await aws.cloudTrail().send(new UpdateTrailCommand({ Name: TRAIL, EnableLogFileValidation: false }));
    const before = await settingsOf();
    expect(before?.LogFileValidationEnabled).toBe(false);
    const event = sampleEvent('trail-logging', 'would-remediate.update-trail-log-file-validation-off', {
      requestParameters: { name: TRAIL, enableLogFileValidation: false },
      responseElements: {
        name: update.Name,
        s3BucketName: update.S3BucketName,
        includeGlobalServiceEvents: update.IncludeGlobalServiceEvents,
        isMultiRegionTrail: update.IsMultiRegionTrail,
        trailARN: update.TrailARN,
        logFileValidationEnabled: update.LogFileValidationEnabled,
        isOrganizationTrail: update.IsOrganizationTrail,
      },
    });

    const { record } = await invokeHandler('trail-logging', event, env('live'));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'HIGH',
      actions: [
        {
          api: 'CloudTrail.UpdateTrail',
          params: { Name: update.TrailARN, EnableLogFileValidation: true },
          previous: { EnableLogFileValidation: false },
          verification: { ok: true, detail: 'GetTrail reads LogFileValidationEnabled: true' },
        },
      ],
    });
    expect(await settingsOf()).toEqual({ ...before, LogFileValidationEnabled: true });
    expect(await isLogging()).toBe(true);
  });
});

describe('trail-logging against the emulator: a CLI update that made the trail single-Region', () => {
  it('live: restores multi-Region (with global service events, which CloudTrail requires for it) and reads both back', async () => {
    await createLoggingTrail();
    await aws.cloudTrail().send(new UpdateTrailCommand({ Name: TRAIL, IsMultiRegionTrail: false, IncludeGlobalServiceEvents: false }));
    const before = await settingsOf();
    // A targeted request (names only what it turns off): a console one sends every setting and is alerted instead.
    const event = sampleEvent('trail-logging', 'would-remediate.update-trail-multi-region-off-cli', {
      requestParameters: { name: TRAIL, isMultiRegionTrail: false, includeGlobalServiceEvents: false },
      responseElements: {
        name: TRAIL,
        trailARN: before?.TrailARN,
        isMultiRegionTrail: false,
        includeGlobalServiceEvents: false,
        logFileValidationEnabled: true,
      },
    });

    const { record } = await invokeHandler('trail-logging', event, env('live', { rules: { 'trail-logging': { restore: { multiRegion: true } } } }));

    expect(record).toMatchObject({
      outcome: 'remediated',
      actions: [
        {
          api: 'CloudTrail.UpdateTrail',
          params: { Name: before?.TrailARN, IsMultiRegionTrail: true, IncludeGlobalServiceEvents: true },
          verification: { ok: true },
        },
      ],
    });
    expect(await settingsOf()).toEqual({ ...before, IsMultiRegionTrail: true, IncludeGlobalServiceEvents: true });
  });
});

describe.each(['live', 'dry-run'] as const)('trail-logging against the emulator, other outcomes (%s)', (mode) => {
  it('compliant: the trail was started again before the event was handled', async () => {
    await createLoggingTrail();
    await aws.cloudTrail().send(new StopLoggingCommand({ Name: TRAIL }));
    await aws.cloudTrail().send(new StartLoggingCommand({ Name: TRAIL }));

    const { record } = await invokeHandler('trail-logging', stopEvent(), env(mode));

    expect(record).toMatchObject({ outcome: 'compliant', actions: [], reason: `trail ${TRAIL} is logging again (GetTrailStatus IsLogging true)` });
    expect(await stack.received()).toEqual([]);
  });

  it('exempt: a trail exempt by name stays stopped', async () => {
    await createLoggingTrail();
    await aws.cloudTrail().send(new StopLoggingCommand({ Name: TRAIL }));

    const { record } = await invokeHandler(
      'trail-logging',
      stopEvent(),
      env(mode, {
        exemptions: [{ rule: 'trail-logging', resource: TRAIL, reason: 'sandbox trail, stopped nightly (ticket SEC-3)' }],
      }),
    );

    expect(record).toMatchObject({ outcome: 'exempt', actions: [] });
    expect(await isLogging()).toBe(false);
  });

  it("ignored: the remediator's own UpdateTrail is not re-evaluated", async () => {
    const arn = await createLoggingTrail();
    const event = sampleEvent('trail-logging', 'ignored.update-trail-restore-by-remediator', {
      requestParameters: { name: arn, enableLogFileValidation: true, isMultiRegionTrail: true },
    });

    const { record } = await invokeHandler('trail-logging', event, env(mode));

    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/^caused by trailguard itself \(role trailguard-/) });
  });

  it('alerted CRITICAL, not ignored: a StopLogging whose trail no longer exists (stopped, then deleted: perhaps unseen)', async () => {
    await createLoggingTrail();
    await aws.cloudTrail().send(new StopLoggingCommand({ Name: TRAIL }));
    await aws.cloudTrail().send(new DeleteTrailCommand({ Name: TRAIL }));

    const { record } = await invokeHandler('trail-logging', stopEvent(), env(mode));

    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'CRITICAL',
      actions: [],
      error: null,
      notification: { status: 'sent' },
      reason: expect.stringContaining('no longer exists: deleted?'),
    });
  });

  it('alerted: the trail was deleted (nothing to restore automatically); a person is told', async () => {
    await createLoggingTrail();
    await aws.cloudTrail().send(new DeleteTrailCommand({ Name: TRAIL }));
    const event = sampleEvent('trail-logging', 'alerted.delete-trail', { requestParameters: { name: TRAIL } });

    const { record } = await invokeHandler('trail-logging', event, env(mode));

    expect(record).toMatchObject({ outcome: 'alerted', severity: 'CRITICAL', actions: [], notification: { status: 'sent' } });
    expect(await stack.received()).toMatchObject([{ attributes: attributesFor('alerted') }]);
  });

  it('alerted: a failed StopLogging on a name CloudTrail refused is a tamper attempt, alerted at MEDIUM', async () => {
    await createLoggingTrail();
    const event = sampleEvent('trail-logging', 'alerted.stop-logging-invalid-trail-name');

    const { record } = await invokeHandler('trail-logging', event, env(mode));

    expect(record).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', reason: expect.stringContaining('(InvalidTrailNameException)') });
    expect(await isLogging()).toBe(true);
    expect(await stack.received()).toMatchObject([{ attributes: attributesFor('alerted', 'MEDIUM') }]);
  });
});

describe('trail-logging against the emulator: management events selected away (restore.managementEvents)', () => {
  it('live: adds a selector of all management events, keeps the data selector, reads it back; undo params put the narrowed set back', async () => {
    const arn = await createLoggingTrail();
    const narrowed = [
      {
        ReadWriteType: 'ReadOnly' as const,
        IncludeManagementEvents: false,
        DataResources: [{ Type: 'AWS::S3::Object', Values: ['arn:aws:s3:::example-e2e-data/'] }],
      },
    ];
    await aws.cloudTrail().send(new PutEventSelectorsCommand({ TrailName: TRAIL, EventSelectors: narrowed }));
    const event = sampleEvent('trail-logging', 'alerted.put-event-selectors-management-events-off', {
      requestParameters: {
        trailName: TRAIL,
        eventSelectors: [
          {
            readWriteType: 'ReadOnly',
            includeManagementEvents: false,
            dataResources: [{ type: 'AWS::S3::Object', values: ['arn:aws:s3:::example-e2e-data/'] }],
          },
        ],
      },
      responseElements: { trailARN: arn },
    });

    const { record } = await invokeHandler('trail-logging', event, env('live', { rules: { 'trail-logging': { restore: { managementEvents: true } } } }));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'CRITICAL',
      actions: [{ api: 'CloudTrail.PutEventSelectors', status: 'done', verification: { ok: true } }],
    });
    const now = await aws.cloudTrail().send(new GetEventSelectorsCommand({ TrailName: TRAIL }));
    expect(now.EventSelectors).toEqual([
      expect.objectContaining({ ReadWriteType: 'ReadOnly', IncludeManagementEvents: false, DataResources: narrowed[0]?.DataResources }),
      expect.objectContaining({ ReadWriteType: 'All', IncludeManagementEvents: true }),
    ]);
    expect(record.actions[0]?.previous).toEqual({ EventSelectors: [expect.objectContaining({ ReadWriteType: 'ReadOnly', IncludeManagementEvents: false })] });

    // A redelivery is the same event: deduplicated, and the trail keeps exactly two selectors.
    const again = await invokeHandler('trail-logging', event, env('live', { rules: { 'trail-logging': { restore: { managementEvents: true } } } }));
    expect(again.record).toMatchObject({ outcome: 'ignored', actions: [] });
    expect((await aws.cloudTrail().send(new GetEventSelectorsCommand({ TrailName: TRAIL }))).EventSelectors).toHaveLength(2);
  });
});
