import { describe, expect, it } from 'vitest';
import { FINDINGS, networkLogsDeleted } from '../../../functions/network-logs-deleted/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const RULE = 'network-logs-deleted';
const FLOW_LOG = loadSample(RULE, 'alerted.delete-flow-log');
const DISASSOCIATE = loadSample(RULE, 'alerted.disassociate-resolver-query-log-config');
/** Any event string: a quote, a command substitution, a control character (an ANSI escape). */
const HOSTILE = "fl-0e17aa62a21d4bbfe';$(id)\u001b[2J";

const tagged = (ids: readonly string[]) => ids.map((content, index) => ({ content, tag: index + 1 }));
const flowLogs = (ids: readonly string[], unsuccessful: unknown = '') =>
  withDetail(FLOW_LOG, {
    requestParameters: { DeleteFlowLogsRequest: { FlowLogId: ids.length === 1 ? tagged(ids)[0] : tagged(ids) } },
    responseElements: { DeleteFlowLogsResponse: { xmlns: 'http://ec2.amazonaws.com/doc/2016-11-15/', requestId: 'r-1', unsuccessful } },
  });
const notFound = (id: string) => ({ error: { code: 'InvalidFlowLogId.NotFound', message: `not found: ${id}` }, resourceId: id });

async function runEvent(event: unknown, config = sampleConfig()) {
  const deps = capturingDeps({ config });
  return { record: await run(networkLogsDeleted, event, deps), deps };
}

describe('network-logs-deleted findings', () => {
  const KINDS = [
    ['flow-logs-deleted', 'alerted.delete-flow-log'],
    ['flow-logs-deleted', 'alerted.delete-flow-logs-one-not-found'],
    ['dns-query-logging-deleted', 'alerted.delete-resolver-query-log-config'],
    ['dns-query-logging-disassociated', 'alerted.disassociate-resolver-query-log-config'],
  ] as const;

  it('has a sample for every finding code', () => {
    expect(new Set(KINDS.map(([finding]) => finding))).toEqual(new Set(FINDINGS));
  });

  it.each(KINDS)('sets %s, HIGH, on the record of %s', async (finding, name) => {
    const { record } = await runSample(networkLogsDeleted, name);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding, actions: [] });
  });
});

describe('DeleteFlowLogs', () => {
  it('alerts on the deleted ids only: one the response lists unsuccessful is named as not deleted, and is no resource', async () => {
    const { record } = await runSample(networkLogsDeleted, 'alerted.delete-flow-logs-one-not-found');
    expect(record.resources).toEqual([{ type: 'AWS::EC2::FlowLog', id: 'fl-0a1b2c3d4e5f60718' }]);
    expect(record.reason).toContain('not deleted: fl-0123456789abcdef0 (InvalidFlowLogId.NotFound)');
  });

  it('reads several unsuccessful items (an array), and is compliant when none was deleted', async () => {
    const ids = ['fl-0a1b2c3d4e5f60718', 'fl-0123456789abcdef0', 'fl-0fedcba9876543210'];
    const some = await runEvent(flowLogs(ids, { item: [notFound(ids[1] ?? ''), notFound(ids[2] ?? '')] }));
    expect(some.record).toMatchObject({ outcome: 'alerted', resources: [{ id: ids[0] }] });
    const none = await runEvent(flowLogs(ids, { item: ids.map(notFound) }));
    expect(none.record).toMatchObject({ outcome: 'compliant', severity: null, finding: null });
    expect(none.record.reason).toContain('no flow log was deleted');
    expect(none.deps.published).toEqual([]);
  });

  it('counts every named id as deleted when the response is missing, and says it could not tell', async () => {
    const { record } = await runEvent(withDetail(flowLogs(['fl-0a1b2c3d4e5f60718', 'fl-0123456789abcdef0']), { responseElements: null }));
    expect(record.outcome).toBe('alerted');
    expect(record.resources).toHaveLength(2);
    expect(record.reason).toContain('the response did not say which were deleted');
  });

  it('names at most ten ids in the reason and keeps them all as resources', async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `fl-${i.toString(16).padStart(17, '0')}`);
    const { record, deps } = await runEvent(flowLogs(ids));
    expect(record.resources).toHaveLength(25);
    expect(record.reason).toContain('25 VPC flow logs');
    expect(record.reason).toContain('and 15 more');
    expect(deps.published[0]?.subject).toContain('and 24 more');
  });

  it('says how far the CreateFlowLogs lookup reaches: 90 days, the first id only; older history from the trail or AWS Config', async () => {
    const one = (await runEvent(FLOW_LOG)).deps.published[0]?.text ?? '';
    expect(one).toContain(
      "aws cloudtrail lookup-events --lookup-attributes 'AttributeKey=ResourceName,AttributeValue=fl-0e17aa62a21d4bbfe' --region 'eu-west-1': Event history keeps the last 90 days only;",
    );
    expect(one).toContain("trail's S3 logs, queried with Athena");
    expect(one).toContain("aws configservice get-resource-config-history --resource-type 'AWS::EC2::FlowLog' --resource-id 'fl-0e17aa62a21d4bbfe'");
    expect(one).not.toContain('first id only');
    const three = (await runEvent(flowLogs(['fl-0a1b2c3d4e5f60718', 'fl-0123456789abcdef0', 'fl-0fedcba9876543210']))).deps.published[0]?.text ?? '';
    expect(three).toContain('it looks up the first id only, so repeat it for the 2 others');
  });

  it('names Security Hub EC2.6 for deleted flow logs, and no control for DNS query logging', async () => {
    const flow = await runEvent(FLOW_LOG);
    expect(flow.record.controls).toEqual(['EC2.6']);
    expect(flow.deps.published[0]?.text).toContain('EC2.6 VPC flow logging should be enabled in all VPCs');
    const dns = await runEvent(DISASSOCIATE);
    expect(dns.record).toMatchObject({ outcome: 'alerted', finding: 'dns-query-logging-disassociated' });
    expect(dns.record.controls).toBeUndefined();
    expect(dns.deps.published[0]?.text).not.toContain('EC2.6');
  });

  it('refuses an id that is no flow log id in its commands, and escapes it in the text a person reads', async () => {
    const { record, deps } = await runEvent(flowLogs([HOSTILE]));
    expect(record.outcome).toBe('alerted');
    const text = deps.published[0]?.text ?? '';
    expect(text).not.toContain('\u001b');
    expect(text).toContain('no command: the flow log id in the event is not a valid flow log id');
    expect(text).not.toContain('AttributeValue=fl-0e17aa62a21d4bbfe');
  });

  it('ends failed, naming the field, when the request holds no flow log id (an unreadable event is told, never dropped)', async () => {
    const { record } = await runEvent(withDetail(FLOW_LOG, { requestParameters: { DeleteFlowLogsRequest: {} } }));
    expect(record.outcome).toBe('failed');
    expect(record.reason).toContain('detail.requestParameters.DeleteFlowLogsRequest.FlowLogId');
  });

  it('ignores a failed call (a dry run, a denial): nothing was deleted', async () => {
    const { record } = await runSample(networkLogsDeleted, 'ignored.delete-flow-logs-dry-run');
    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('Client.DryRunOperation') });
  });

  it('is exempt for an exempted flow log', async () => {
    const config = sampleConfig({
      exemptions: [{ rule: RULE, resource: 'fl-0e17aa62a21d4bbfe', reason: 'lab VPC teardown (ticket OPS-1)', expires: '2099-12-31' }],
    });
    const { record, deps } = await runEvent(FLOW_LOG, config);
    expect(record.outcome).toBe('exempt');
    expect(deps.published).toEqual([]);
  });
});

describe('Route 53 Resolver query logging', () => {
  it('names the deleted configuration, its name and its destination', async () => {
    const { record } = await runSample(networkLogsDeleted, 'alerted.delete-resolver-query-log-config');
    expect(record.resources).toEqual([{ type: 'AWS::Route53Resolver::ResolverQueryLoggingConfig', id: 'rqlc-ba781297ce9c4009', name: 'vpc-dns-queries' }]);
    expect(record.reason).toContain('arn:aws:logs:eu-west-1:111122223333:log-group:/dns/queries');
  });

  it('gives the quoted command that re-associates the VPC, and none for a VPC id that is not one', async () => {
    const good = await runSample(networkLogsDeleted, 'alerted.disassociate-resolver-query-log-config');
    expect(good.deps.published[0]?.text).toContain(
      "aws route53resolver associate-resolver-query-log-config --resolver-query-log-config-id 'rqlc-ba781297ce9c4009' --resource-id 'vpc-0a1b2c3d4e5f60718' --region 'eu-west-1'",
    );
    const bad = await runEvent(
      withDetail(DISASSOCIATE, { requestParameters: { resolverQueryLogConfigId: 'rqlc-ba781297ce9c4009', resourceId: "vpc-1;$(id)'" } }),
    );
    expect(bad.record.outcome).toBe('alerted');
    expect(bad.deps.published[0]?.text).toContain('no command: the VPC id in the event is not a valid VPC id');
    expect(bad.deps.published[0]?.text).not.toContain('associate-resolver-query-log-config --');
  });

  it('ends failed when a disassociation names no VPC', async () => {
    const { record } = await runEvent(withDetail(DISASSOCIATE, { requestParameters: { resolverQueryLogConfigId: 'rqlc-ba781297ce9c4009' } }));
    expect(record).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('detail.requestParameters.resourceId') });
  });

  it('ignores a denied deletion', async () => {
    const { record } = await runSample(networkLogsDeleted, 'ignored.delete-resolver-query-log-config-denied');
    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('AccessDenied') });
  });
});
