import { DescribeImageAttributeCommand, EC2Client, ModifyImageAttributeCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, stepOfReverse, type Step } from '../../../shared/actions/action.js';
import {
  modifyImageAttribute,
  modifyImageAttributeSignature,
  type ImageSharingPrevious,
  type ModifyImageAttributeParams,
} from '../../../shared/actions/ec2-modify-image-attribute.js';

const ec2 = mockClient(EC2Client);
const clients = { ec2: new EC2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
const IMAGE = 'ami-0123456789abcdef0';
const OTHER_ORG = 'arn:aws:organizations::555566667777:organization/o-zz9yy8xx7w';
const PERMISSIONS = [{ UserId: '444455556666' }, { Group: 'all' }, { OrganizationArn: OTHER_ORG }];
const REMOVE = { ImageId: IMAGE, LaunchPermission: { Remove: PERMISSIONS } };

const stepFor = (params: unknown, previous: unknown = { LaunchPermissions: PERMISSIONS }) =>
  stepOf(modifyImageAttribute, { api: modifyImageAttribute.api, resource: { type: 'AWS::EC2::Image', id: IMAGE }, params, previous }, 'eu-west-1') as Step<
    ModifyImageAttributeParams,
    ImageSharingPrevious
  >;

beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call'));
});
afterEach(() => ec2.reset());

describe('EC2.ModifyImageAttribute', () => {
  it.each([
    { ImageId: "ami-0123' ; rm -rf /", LaunchPermission: { Remove: PERMISSIONS } },
    { ImageId: IMAGE, LaunchPermission: { Remove: [] } },
    { ImageId: IMAGE, LaunchPermission: { Remove: [{ OrganizationArn: "arn:aws:iam::1'" }] } },
    { ImageId: IMAGE, LaunchPermission: { Remove: [{ UserId: '1234' }] } },
    { ImageId: IMAGE, LaunchPermission: { Remove: PERMISSIONS, Add: PERMISSIONS } },
  ])('refuses %j before any call', (params) => {
    expect(() => stepFor(params)).toThrow(expect.objectContaining({ kind: 'invalid', code: 'InvalidActionParams' }));
  });

  it('removes exactly the named permissions and reads them back as gone', async () => {
    ec2.on(ModifyImageAttributeCommand).resolves({});
    ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [{ UserId: '999988887777' }] });

    await modifyImageAttribute.perform(stepFor(REMOVE), clients);

    expect(ec2.commandCalls(ModifyImageAttributeCommand).map((c) => c.args[0].input)).toEqual([REMOVE]);
    expect(await modifyImageAttribute.verify(stepFor(REMOVE), clients)).toEqual({
      ok: true,
      detail: `${IMAGE} reads back without 444455556666, all, ${OTHER_ORG}`,
    });
  });

  it('reverses by adding back exactly what it removed, as a quoted command', () => {
    const reversal = modifyImageAttribute.reverse(stepFor(REMOVE));
    if (reversal.kind !== 'steps') throw new Error(`expected steps, got ${reversal.kind}`);
    const [step] = reversal.steps;
    if (!step) throw new Error('no step');
    expect(step.action.params).toEqual({ ImageId: IMAGE, LaunchPermission: { Add: PERMISSIONS } });
    expect(step.type.command(stepOfReverse(step))).toBe(
      `aws ec2 modify-image-attribute --region 'eu-west-1' --image-id '${IMAGE}' --launch-permission '${JSON.stringify({ Add: PERMISSIONS })}'`,
    );
    expect(modifyImageAttribute.reverse(stepFor({ ImageId: IMAGE, LaunchPermission: { Add: PERMISSIONS } })).kind).toBe('none');
  });

  it("knows a remove as trailguard's own write, never an add", () => {
    expect(modifyImageAttributeSignature.isOwnWrite({ imageId: IMAGE, launchPermission: { remove: { items: [{ group: 'all' }] } } })).toBe(true);
    expect(modifyImageAttributeSignature.isOwnWrite({ imageId: IMAGE, launchPermission: { add: { items: [{ group: 'all' }] } } })).toBe(false);
    expect(modifyImageAttributeSignature.isOwnWrite({ imageId: IMAGE, description: { value: 'x' } })).toBe(false);
    // The flat form adds with a top-level list, in any case, even beside a remove.
    expect(
      modifyImageAttributeSignature.isOwnWrite({ imageId: IMAGE, operationType: 'Add', userId: ['444455556666'], launchPermission: { remove: { items: [] } } }),
    ).toBe(false);
  });

  it('reads back every grantee of a described item naming several at once', async () => {
    ec2.on(DescribeImageAttributeCommand).resolves({ LaunchPermissions: [{ UserId: '999988887777', OrganizationArn: OTHER_ORG }] });

    expect(await modifyImageAttribute.verify(stepFor(REMOVE), clients)).toEqual({ ok: false, detail: `${IMAGE} is still shared with ${OTHER_ORG}` });
  });
});
