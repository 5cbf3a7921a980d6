import { DeleteTagsCommand, DescribeTagsCommand, EC2Client, type DescribeTagsCommandInput } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, type AnyActionType, type Step } from '../../../shared/actions/action.js';
import { deleteTags } from '../../../shared/actions/ec2-delete-tags.js';
import type { TagParams, TagsPrevious } from '../../../shared/ec2/tag-actions.js';
import { AwsCallError } from '../../../shared/errors.js';

const ec2 = mockClient(EC2Client);
const clients = { ec2: new EC2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
const [ONE, TWO] = ['i-0123456789abcdef0', 'i-0fedcba9876543210'];
const RESOURCE = { type: 'AWS::EC2::Instance', id: ONE };
const OWNER = { Key: 'Owner', Value: 'arn:aws:iam::111122223333:user/alice' };
const asType: AnyActionType = deleteTags;

const stepFor = (params: unknown, region = 'eu-west-1') =>
  stepOf(deleteTags, { api: deleteTags.api, resource: RESOURCE, params, previous: { Tags: { Owner: OWNER.Value } } }, region) as Step<TagParams, TagsPrevious>;

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

describe('EC2.DeleteTags params', () => {
  it('refuses a tag without the value it removes: EC2 would delete whatever value the tag holds', () => {
    expect(v.safeParse(deleteTags.params, { Resources: [ONE], Tags: [{ Key: 'Owner' }] }).success).toBe(false);
    expect(() => stepFor({ Resources: [ONE], Tags: [{ Key: 'Owner' }] })).toThrow(expect.objectContaining({ kind: 'invalid', code: 'InvalidActionParams' }));
  });

  it.each(["i-0123456789abcdef0' '--dry-run", 'sg-*', ''])('refuses the resource id %j before any call', (id) => {
    expect(() => stepFor({ Resources: [id], Tags: [OWNER] })).toThrow(AwsCallError);
    expect(ec2.calls()).toHaveLength(0);
  });
});

describe('EC2.DeleteTags perform and verify', () => {
  it('deletes each tag with its value, on every resource', async () => {
    ec2.on(DeleteTagsCommand).resolves({});

    await deleteTags.perform(stepFor({ Resources: [ONE, TWO], Tags: [OWNER] }), clients);

    expect(ec2.commandCalls(DeleteTagsCommand).map((c) => c.args[0].input)).toEqual([{ Resources: [ONE, TWO], Tags: [OWNER] }]);
  });

  it('reads back as undone when the tag is gone or holds another value (a person set it since)', async () => {
    tagsAre({ [ONE]: { Name: 'web' }, [TWO]: { Owner: 'team-b' } });

    expect(await deleteTags.verify(stepFor({ Resources: [ONE, TWO], Tags: [OWNER] }), clients)).toEqual({
      ok: true,
      detail: `${ONE}, ${TWO} read back without Owner as trailguard wrote them`,
    });
  });

  it('does not read back as undone while a resource still holds the value trailguard wrote, and names it', async () => {
    tagsAre({ [ONE]: {}, [TWO]: { Owner: OWNER.Value } });

    expect(await deleteTags.verify(stepFor({ Resources: [ONE, TWO], Tags: [OWNER] }), clients)).toEqual({ ok: false, detail: `still tagged: ${TWO} Owner` });
  });
});

describe('EC2.DeleteTags reverse, command', () => {
  it("is not reversed (an operator's undo), and does not retrigger a rule", () => {
    expect(asType.reverse(stepFor({ Resources: [ONE], Tags: [OWNER] }))).toMatchObject({ kind: 'none', why: expect.stringContaining("an operator's undo") });
    expect(deleteTags).toMatchObject({ api: 'EC2.DeleteTags', iam: 'ec2:DeleteTags', clients: ['ec2'], retriggers: false });
    expect(deleteTags).not.toHaveProperty('signature');
  });

  it('gives one complete command: with --region, and with the value of each tag', () => {
    expect(deleteTags.command(stepFor({ Resources: [ONE, TWO], Tags: [OWNER] }, 'us-east-2'))).toBe(
      `aws ec2 delete-tags --region 'us-east-2' --resources '${ONE}' '${TWO}' --tags '[{"Key":"Owner","Value":"${OWNER.Value}"}]'`,
    );
  });

  it('quotes a hostile tag value and gives no command for a hostile id', () => {
    expect(deleteTags.command(stepFor({ Resources: [ONE], Tags: [{ Key: 'Owner', Value: "a'b" }] }))).toBe(
      `aws ec2 delete-tags --region 'eu-west-1' --resources '${ONE}' --tags '[{"Key":"Owner","Value":"a'\\''b"}]'`,
    );
    expect(
      deleteTags.command({
        api: deleteTags.api,
        resource: RESOURCE,
        params: { Resources: ['i-$(id)'], Tags: [OWNER] },
        previous: undefined,
        region: 'eu-west-1',
      }),
    ).toBe('no command: the EC2 resource id in the event is not a valid EC2 resource id');
  });

  it('says what it removes', () => {
    expect(deleteTags.describe(stepFor({ Resources: [ONE], Tags: [OWNER] }))).toBe(
      `remove the tag(s) it added to ${ONE}: Owner (only while they still hold the value it wrote)`,
    );
  });
});
