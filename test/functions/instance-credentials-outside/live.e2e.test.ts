import { AllocateAddressCommand, CreateNatGatewayCommand, DescribeSubnetsCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { ACCOUNT, aws } from '../../e2e/helpers/emulator.js';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';

const stack = freshStackPerTest();
const env = stack.env;
const RULE = 'instance-credentials-outside';

/**
 * An instance in the default VPC (moto gives it a public address there), and a NAT gateway in the same VPC. moto hands
 * out Elastic addresses from 127.0.0.0/8, which AWS never does: the NAT address is judged as a NAT address all the same.
 */
async function instanceWithNat(): Promise<{ instanceId: string; publicIp: string; natIp: string; vpcId: string }> {
  const subnet = (await aws.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }))).Subnets?.[0];
  if (!subnet?.SubnetId || !subnet.VpcId) throw new Error('the emulator has no default subnet');
  const run = await aws.ec2.send(
    new RunInstancesCommand({ ImageId: 'ami-12c6146b', MinCount: 1, MaxCount: 1, InstanceType: 't3.micro', SubnetId: subnet.SubnetId }),
  );
  const instance = run.Instances?.[0];
  const address = await aws.ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
  const nat = await aws.ec2.send(new CreateNatGatewayCommand({ SubnetId: subnet.SubnetId, AllocationId: address.AllocationId }));
  const natIp = nat.NatGateway?.NatGatewayAddresses?.[0]?.PublicIp ?? address.PublicIp;
  if (!instance?.InstanceId || !instance.PublicIpAddress || !natIp) throw new Error('the emulator gave no instance address or NAT address');
  return { instanceId: instance.InstanceId, publicIp: instance.PublicIpAddress, natIp, vpcId: subnet.VpcId };
}

/** The sample's call, made with the instance's credentials from `sourceIPAddress`. */
const callFrom = (instanceId: string, sourceIPAddress: string) => {
  const event = sampleEvent(RULE, 'alerted.list-buckets-from-outside-address', { sourceIPAddress });
  const identity = event.detail.userIdentity as { arn: string; principalId: string };
  identity.arn = `arn:aws:sts::${ACCOUNT}:assumed-role/example-web/${instanceId}`;
  identity.principalId = `AROAEXAMPLEWEBROLE01:${instanceId}`;
  return event;
};

describe('instance-credentials-outside against the emulator', () => {
  it("live: compliant from the instance's own public address and from its VPC's NAT gateway", async () => {
    const { instanceId, publicIp, natIp, vpcId } = await instanceWithNat();

    const own = await invokeHandler(RULE, callFrom(instanceId, publicIp), env('live'));
    const throughNat = await invokeHandler(RULE, callFrom(instanceId, natIp), env('live'));

    expect(own.record).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining("one of the instance's own addresses") });
    expect(throughNat.record).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining(`a NAT gateway of its VPC ${vpcId}`) });
    expect(await stack.received()).toEqual([]);
  });

  it('live: alerts HIGH from any other address, and sends the alert', async () => {
    const { instanceId } = await instanceWithNat();

    const { record } = await invokeHandler(RULE, callFrom(instanceId, '203.0.113.77'), env('live'));

    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'HIGH',
      finding: 'instance-credentials-outside',
      resources: [{ type: 'AWS::IAM::Role', id: `arn:aws:iam::${ACCOUNT}:role/example-web` }],
      actions: [],
      notification: { status: 'sent' },
    });
    expect(await stack.received()).toMatchObject([{ attributes: { rule: RULE, outcome: 'alerted', severity: 'HIGH', account: ACCOUNT } }]);
  });

  it('live: says it cannot tell, MEDIUM, for an instance the Region does not hold', async () => {
    const { record } = await invokeHandler(RULE, callFrom('i-0fedcba9876543210', '203.0.113.77'), env('live'));

    expect(record).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', finding: 'instance-not-found' });
  });
});
