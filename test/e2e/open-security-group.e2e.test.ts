import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupRulesCommand,
  RevokeSecurityGroupIngressCommand,
  type IpPermission,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { openSecurityGroup } from '../../functions/open-security-group/rule.js';
import { revokeSecurityGroupIngress } from '../../shared/actions/ec2-revoke-security-group-ingress.js';
import { lambdaDeps } from '../../shared/runner/lambda.js';
import { run } from '../../shared/runner/run.js';
import { ACCOUNT, aws, REGION } from './helpers/emulator.js';
import { recordedPermission, recordedRule, sampleEvent } from './helpers/events.js';
import { freshStackPerTest } from './helpers/stack.js';
import { invokeHandler, replayCli, withLambdaEnv } from './helpers/invoke.js';

const stack = freshStackPerTest();
const env = stack.env;

/** Rules that may stay: https from the world (allowed by default) and SSH from a private range. */
const KEPT: IpPermission[] = [
  {
    IpProtocol: 'tcp',
    FromPort: 443,
    ToPort: 443,
    IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'https' }],
    Ipv6Ranges: [{ CidrIpv6: '::/0', Description: 'https v6' }],
  },
  { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '10.0.0.0/8', Description: 'ssh from the VPN' }] },
];
/** The violating call: SSH from the whole IPv4 and IPv6 internet. */
const WORLD_SSH: IpPermission[] = [
  {
    IpProtocol: 'tcp',
    FromPort: 22,
    ToPort: 22,
    IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'ssh' }],
    Ipv6Ranges: [{ CidrIpv6: '::/0', Description: 'ssh v6' }],
  },
];

interface Scene {
  readonly groupId: string;
  readonly keptIds: readonly string[];
  readonly worldIds: readonly string[];
  readonly created: readonly SecurityGroupRule[];
}

/** A group with the allowed rules, then the world-open SSH call whose record the event is. */
async function createOpenGroup(): Promise<Scene> {
  const groupId = (await aws.ec2.send(new CreateSecurityGroupCommand({ GroupName: 'example-e2e-web', Description: 'e2e web tier' }))).GroupId ?? '';
  const kept = await aws.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: KEPT }));
  const world = await aws.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: WORLD_SSH }));
  const ids = (rules: readonly SecurityGroupRule[] | undefined) => (rules ?? []).map((r) => r.SecurityGroupRuleId ?? '');
  return { groupId, keptIds: ids(kept.SecurityGroupRules), worldIds: ids(world.SecurityGroupRules), created: world.SecurityGroupRules ?? [] };
}

/** The AuthorizeSecurityGroupIngress record of the world-open call, with the rule ids EC2 answered (or without, as older records are). */
function authorizeEvent(scene: Scene, withRuleIds = true) {
  const name = withRuleIds ? 'would-remediate.authorize-several-permissions-mixed-allowed-and-not' : 'would-remediate.authorize-world-ssh-without-rule-ids';
  return sampleEvent('open-security-group', name, {
    requestParameters: { groupId: scene.groupId, ipPermissions: { items: WORLD_SSH.map(recordedPermission) } },
    responseElements: withRuleIds
      ? { requestId: 'e2e', _return: true, securityGroupRuleSet: { items: scene.created.map(recordedRule) } }
      : { requestId: 'e2e', _return: true },
  });
}

/** The group's rules as read now, by id (ingress and egress). */
async function rulesOf(groupId: string): Promise<Map<string, SecurityGroupRule>> {
  const answer = await aws.ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [groupId] }] }));
  return new Map((answer.SecurityGroupRules ?? []).map((rule) => [rule.SecurityGroupRuleId ?? '', rule]));
}

const attributesFor = (outcome: string) => ({ rule: 'open-security-group', severity: 'HIGH', outcome, account: ACCOUNT });

describe('open-security-group against the emulator: world-open IPv4 and IPv6 SSH next to an allowed 443 rule and a private-CIDR rule', () => {
  it('live handler: revokes both world-open rules by id, keeps 443, the private rule and egress, notifies once; a redelivery is a no-op', async () => {
    const scene = await createOpenGroup();
    const before = await rulesOf(scene.groupId);
    const event = authorizeEvent(scene);

    const { record } = await invokeHandler('open-security-group', event, env('live'));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'HIGH',
      resources: [{ id: scene.groupId, name: 'example-e2e-web' }],
      actions: [
        {
          api: 'EC2.RevokeSecurityGroupIngress',
          status: 'done',
          params: { GroupId: scene.groupId, SecurityGroupRuleIds: scene.worldIds },
          verification: { ok: true, detail: `${scene.worldIds.join(', ')} read back as gone from ${scene.groupId}` },
        },
      ],
      notification: { status: 'sent' },
    });
    const after = await rulesOf(scene.groupId);
    // Exactly the two world-open rules are gone; every other rule is still there, unchanged.
    expect([...after.keys()].sort()).toEqual([...before.keys()].filter((id) => !scene.worldIds.includes(id)).sort());
    for (const id of scene.keptIds) expect(after.get(id)).toEqual(before.get(id));
    expect([...after.values()].filter((r) => r.IsEgress)).toHaveLength(1);
    const subject = `[HIGH] World-open ingress revoked on ${scene.groupId} in ${ACCOUNT}/${REGION}`;
    const notifications = await stack.received();
    expect(notifications).toMatchObject([{ subject, attributes: attributesFor('remediated'), message: { subject, record: { outcome: 'remediated' } } }]);
    expect(notifications[0]?.message.record.actions[0]?.previous).toEqual({
      SecurityGroupRules: [
        expect.objectContaining({ SecurityGroupRuleId: scene.worldIds[0], CidrIpv4: '0.0.0.0/0', FromPort: 22 }),
        expect.objectContaining({ SecurityGroupRuleId: scene.worldIds[1], CidrIpv6: '::/0', FromPort: 22 }),
      ],
    });

    // The same world rules again (a person re-adds them), then a redelivery of the first event: not acted on twice.
    await aws.ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: scene.groupId, IpPermissions: WORLD_SSH }));
    const second = await invokeHandler('open-security-group', event, env('live'));

    expect(second.record).toMatchObject({ outcome: 'ignored', actions: [] });
    expect(second.record.reason).toMatch(/^duplicate delivery of event .*: already handled as remediated/);
    expect((await rulesOf(scene.groupId)).size).toBe(after.size + 2);
    expect(await stack.received()).toEqual([]);
  });

  it('live replay CLI, on a record without rule ids: finds the rules by content and revokes only those', async () => {
    const scene = await createOpenGroup();
    const before = await rulesOf(scene.groupId);

    const { exit, records } = await replayCli(authorizeEvent(scene, false), env('live'));

    expect(exit).toBe(0);
    expect(records).toMatchObject([
      {
        outcome: 'remediated',
        actions: [{ status: 'done', params: { GroupId: scene.groupId, SecurityGroupRuleIds: scene.worldIds }, verification: { ok: true } }],
        notification: { status: 'sent' },
      },
    ]);
    const after = await rulesOf(scene.groupId);
    expect([...after.keys()].sort()).toEqual([...before.keys()].filter((id) => !scene.worldIds.includes(id)).sort());
    expect(await stack.received()).toMatchObject([{ attributes: attributesFor('remediated') }]);
  });

  it.each(['handler', 'replay CLI'] as const)('dry-run (%s): plans the revoke by id, notifies, and leaves every rule in place', async (via) => {
    const scene = await createOpenGroup();
    const before = await rulesOf(scene.groupId);
    const event = authorizeEvent(scene);

    const record =
      via === 'handler' ? (await invokeHandler('open-security-group', event, env('dry-run'))).record : (await replayCli(event, env('dry-run'))).records[0];

    expect(record).toMatchObject({
      outcome: 'would-remediate',
      mode: 'dry-run',
      actions: [{ status: 'planned', params: { GroupId: scene.groupId, SecurityGroupRuleIds: scene.worldIds } }],
    });
    expect(await rulesOf(scene.groupId)).toEqual(before);
    expect(await stack.received()).toMatchObject([
      {
        subject: `[HIGH] Would revoke world-open ingress on ${scene.groupId} in ${ACCOUNT}/${REGION}`,
        attributes: attributesFor('would-remediate'),
      },
    ]);
  });
});

describe.each(['live', 'dry-run'] as const)('open-security-group against the emulator, other outcomes (%s)', (mode) => {
  it('compliant: the world rules of the event were already revoked by someone else', async () => {
    const scene = await createOpenGroup();
    await aws.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: scene.groupId, SecurityGroupRuleIds: [...scene.worldIds] }));
    const before = await rulesOf(scene.groupId);

    const { record } = await invokeHandler('open-security-group', authorizeEvent(scene), env(mode));

    expect(record).toMatchObject({ outcome: 'compliant', actions: [], reason: `no world-open rule from this event is on ${scene.groupId} now` });
    expect(await rulesOf(scene.groupId)).toEqual(before);
    expect(await stack.received()).toEqual([]);
  });

  it('exempt: the group is exempt by id, and keeps its world-open rules', async () => {
    const scene = await createOpenGroup();
    const before = await rulesOf(scene.groupId);

    const { record } = await invokeHandler(
      'open-security-group',
      authorizeEvent(scene),
      env(mode, {
        exemptions: [{ rule: 'open-security-group', resource: scene.groupId, reason: 'bastion, reviewed (ticket SEC-2)' }],
      }),
    );

    expect(record).toMatchObject({ outcome: 'exempt', actions: [], exemptions: [{ resource: scene.groupId }] });
    expect(await rulesOf(scene.groupId)).toEqual(before);
  });

  it('ignored: a call that failed (UnauthorizedOperation) changed nothing', async () => {
    const scene = await createOpenGroup();
    const before = await rulesOf(scene.groupId);
    const event = sampleEvent('open-security-group', 'ignored.authorize-world-ssh-unauthorized', {
      requestParameters: { groupId: scene.groupId, ipPermissions: { items: WORLD_SSH.map(recordedPermission) } },
    });

    const { record } = await invokeHandler('open-security-group', event, env(mode));

    expect(record).toMatchObject({ outcome: 'ignored', reason: 'the call failed (Client.UnauthorizedOperation): nothing changed' });
    expect(await rulesOf(scene.groupId)).toEqual(before);
  });

  it('ignored, not failed: the group was deleted before the event was handled', async () => {
    const scene = await createOpenGroup();
    await aws.ec2.send(new DeleteSecurityGroupCommand({ GroupId: scene.groupId }));

    const { record } = await invokeHandler('open-security-group', authorizeEvent(scene), env(mode));

    expect(record).toMatchObject({ outcome: 'ignored', error: { kind: 'gone', code: 'InvalidGroup.NotFound', api: 'EC2.DescribeSecurityGroups' } });
    expect(await stack.received()).toEqual([]);
  });
});

describe('open-security-group against the emulator: faults between the read and the revoke', () => {
  /** The deployed rule, with `race` run just before its write (in its action type's perform). */
  const racing = (race: () => Promise<unknown>): typeof openSecurityGroup => ({
    ...openSecurityGroup,
    actions: [
      {
        ...revokeSecurityGroupIngress,
        perform: async (step, clients) => {
          await race();
          return revokeSecurityGroupIngress.perform(step, clients);
        },
      },
    ],
  });

  it('ignored: both rules were revoked by someone else (InvalidSecurityGroupRuleId.NotFound is "already gone")', async () => {
    const scene = await createOpenGroup();
    const rule = racing(() => aws.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: scene.groupId, SecurityGroupRuleIds: [...scene.worldIds] })));

    const record = await withLambdaEnv(env('live'), () => run(rule, authorizeEvent(scene), lambdaDeps()));

    // moto answers InvalidSecurityGroupRuleId.NotFound here, as AWS documents for an unknown rule id; the
    // classifier treats it (and InvalidPermission.NotFound) as gone, so either answer ends the same way.
    expect(record).toMatchObject({
      outcome: 'ignored',
      actions: [{ status: 'done', verification: { ok: true, detail: 'already gone (InvalidSecurityGroupRuleId.NotFound)' } }],
    });
  });

  it('remediated: one of the two was revoked by someone else; the other is revoked on the retry with the ids still there', async () => {
    const scene = await createOpenGroup();
    const [ipv4, ipv6] = scene.worldIds;
    const rule = racing(() => aws.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: scene.groupId, SecurityGroupRuleIds: [ipv4 ?? ''] })));

    const record = await withLambdaEnv(env('live'), () => run(rule, authorizeEvent(scene), lambdaDeps()));

    expect(record).toMatchObject({ outcome: 'remediated', actions: [{ status: 'done', verification: { ok: true } }] });
    const after = await rulesOf(scene.groupId);
    expect(after.has(ipv6 ?? '')).toBe(false);
    expect(scene.keptIds.every((id) => after.has(id))).toBe(true);
  });

  it('ignored: the group is deleted between the read and the revoke', async () => {
    const scene = await createOpenGroup();
    const rule = racing(() => aws.ec2.send(new DeleteSecurityGroupCommand({ GroupId: scene.groupId })));

    const record = await withLambdaEnv(env('live'), () => run(rule, authorizeEvent(scene), lambdaDeps()));

    expect(record).toMatchObject({
      outcome: 'ignored',
      actions: [{ status: 'done', verification: { ok: true, detail: expect.stringMatching(/^already gone \(/) } }],
    });
  });
});
