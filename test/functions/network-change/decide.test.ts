import { describe, expect, it } from 'vitest';
import { FINDINGS, networkChange } from '../../../functions/network-change/rule.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { run } from '../../../shared/runner/run.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, loadSample, runSample, withDetail } from '../../helpers/samples.js';

const ROUTE = loadSample('network-change', 'alerted.create-route-to-nat-gateway');

describe('network-change', () => {
  it('folds a Terraform apply changing 40 routes into 20 messages and one burst notice; all 40 stay in the log', async () => {
    const deps = { ...capturingDeps({ mode: 'live' }), store: memoryStateStore() };
    const records: RemediationRecord[] = [];
    for (let i = 0; i < 40; i += 1) {
      const event = withDetail(ROUTE, {
        eventID: `route-${i}`,
        requestParameters: {
          routeTableId: `rtb-0a1b2c3d4e5f6${String(i).padStart(4, '0')}`,
          destinationCidrBlock: '10.0.0.0/8',
          natGatewayId: 'nat-0a1b2c3d4e5f60004',
        },
      });
      records.push(await run(networkChange, event, deps));
    }
    expect(records.every((r) => r.outcome === 'alerted' && r.severity === 'MEDIUM')).toBe(true);
    expect(deps.written).toHaveLength(40);
    expect(deps.published).toHaveLength(21);
    expect(deps.published[20]?.subject).toContain('Burst: over 20 network-change notifications in 5 min');
    expect(records.slice(21).every((r) => r.notification.status === 'suppressed')).toBe(true);
  });

  it('rates a default route to an internet gateway HIGH and a route to a NAT gateway MEDIUM', async () => {
    const { record: igw } = await runSample(networkChange, 'alerted.create-route-default-to-internet-gateway');
    const { record: nat } = await runSample(networkChange, 'alerted.create-route-to-nat-gateway');
    expect(igw).toMatchObject({
      severity: 'HIGH',
      resources: [{ type: 'AWS::EC2::RouteTable', id: 'rtb-0a1b2c3d4e5f60001' }],
      reason: expect.stringContaining('subnets are now public'),
    });
    expect(nat).toMatchObject({ severity: 'MEDIUM', resources: [{ type: 'AWS::EC2::RouteTable', id: 'rtb-0a1b2c3d4e5f60003' }] });
  });

  it('names the created resource, not its parent, and leaves a new unassociated route table compliant', async () => {
    const { record: vpc } = await runSample(networkChange, 'alerted.create-vpc');
    const { record: table } = await runSample(networkChange, 'compliant.create-route-table');
    expect(vpc.resources).toEqual([{ type: 'AWS::EC2::VPC', id: 'vpc-0a1b2c3d4e5f60007' }]);
    expect(table).toMatchObject({ outcome: 'compliant', resources: [{ type: 'AWS::EC2::RouteTable', id: 'rtb-0a1b2c3d4e5f6000d' }] });
  });

  it('ignores AWS service-linked roles unless configured otherwise', async () => {
    const linked = withDetail(ROUTE, {
      userIdentity: {
        type: 'AssumedRole',
        arn: 'arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForVPCTransitGateway/session',
        sessionContext: {
          sessionIssuer: {
            type: 'Role',
            arn: 'arn:aws:iam::111122223333:role/aws-service-role/transitgateway.amazonaws.com/AWSServiceRoleForVPCTransitGateway',
            userName: 'AWSServiceRoleForVPCTransitGateway',
          },
        },
      },
    });
    const quiet = await run(networkChange, linked, capturingDeps());
    const config = capturingDeps().config;
    const loud = await run(
      networkChange,
      linked,
      capturingDeps({ config: { ...config, rules: { ...config.rules, 'network-change': { enabled: true, ignoreServiceLinkedRoles: false } } } }),
    );
    expect(quiet).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('service-linked role AWSServiceRoleForVPCTransitGateway') });
    expect(loud.outcome).toBe('alerted');
  });

  it('is off when disabled', async () => {
    const config = capturingDeps().config;
    const { record } = await runSample(networkChange, 'alerted.create-vpc', {
      config: { ...config, rules: { ...config.rules, 'network-change': { enabled: false, ignoreServiceLinkedRoles: true } } },
    });
    expect(record).toMatchObject({ outcome: 'ignored', reason: 'rule network-change is disabled in configuration' });
  });
});

describe('network-change findings', () => {
  const KINDS = [
    ['public-route', 'alerted.create-route-default-to-internet-gateway'],
    ['nacl-allows-all-inbound', 'alerted.create-network-acl-entry-allow-all-inbound'],
    ['cross-account-peering', 'alerted.accept-vpc-peering-from-other-account'],
    ['network-change', 'alerted.create-route-to-nat-gateway'],
    ['network-change', 'alerted.create-vpc'],
  ] as const;

  it('has a sample for every finding code', () => {
    expect(new Set(KINDS.map(([finding]) => finding))).toEqual(new Set(FINDINGS));
  });

  it.each(KINDS)('sets %s on the record of %s, HIGH for every widening of exposure', async (finding, name) => {
    const { record } = await runSample(networkChange, name);
    expect(record).toMatchObject({ outcome: 'alerted', finding, severity: finding === 'network-change' ? 'MEDIUM' : 'HIGH' });
  });
});
