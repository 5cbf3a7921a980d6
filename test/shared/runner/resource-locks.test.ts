import { GetTrailCommand, GetTrailStatusCommand, StartLoggingCommand } from '@aws-sdk/client-cloudtrail';
import {
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
  type DescribeSecurityGroupsCommandInput,
  type RevokeSecurityGroupIngressCommandInput,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openSecurityGroup } from '../../../functions/open-security-group/rule.js';
import { trailLogging } from '../../../functions/trail-logging/rule.js';
import { resetAssumedRoleSessions } from '../../../shared/aws/sts.js';
import { AwsCallError } from '../../../shared/errors.js';
import { wrapRecord } from '../../../shared/events/schema.js';
import { violation, type AnyRule } from '../../../shared/rule.js';
import { LOCK_WORK_BUDGET_MS, run } from '../../../shared/runner/run.js';
import { memoryStateStore, type StateStore } from '../../../shared/state/store.js';
import { testAction } from '../../helpers/actions.js';
import { capturingDeps, loadSample, sampleConfig } from '../../helpers/samples.js';
import { cloudTrail, STOPPED, trailArnIn, trailDouble, trailIn, type TrailEvent } from '../../helpers/trail-double.js';

// Review of issue 22, findings 4 and 6: the per-resource lock is named by the resource's identity (rule, account,
// Region, and one id whatever form the event names it by), and a run waits for it as long as its own deadline
// allows, with the member role assumed before it. The runs below overlap (Promise.all) against stateful doubles.
const ec2 = mockClient(EC2Client);
const sts = mockClient(STSClient);

const NOW = Date.parse('2026-11-25T12:00:00Z'); // capturingDeps' clock
const ACCOUNT = '111122223333';
const MEMBER = '444455556666';
const TRAIL_LOCK = `trail-logging#${ACCOUNT}#us-east-1#example-audit-trail`;

type Envelope = TrailEvent;
/** The StopLogging sample with its own event id, naming the trail as `name` (a name or an ARN), in `account`. */
function stopLogging(id: string, name: string, account = ACCOUNT): Envelope {
  const detail = {
    ...STOPPED.detail,
    eventID: id,
    recipientAccountId: account,
    requestParameters: { ...(STOPPED.detail.requestParameters as object), name },
    userIdentity: { ...(STOPPED.detail.userIdentity as object), accountId: account, arn: `arn:aws:iam::${account}:user/alice` },
  };
  return { ...STOPPED, id, account, detail };
}

beforeEach(() => {
  resetAssumedRoleSessions();
  for (const client of [cloudTrail, ec2, sts]) {
    client.reset();
    client.rejects(new Error('unexpected AWS call'));
  }
});
afterEach(() => {
  for (const client of [cloudTrail, ec2, sts]) client.reset();
});

const liveDeps = (store: StateStore, waitMs?: number) => ({
  ...capturingDeps({ mode: 'live' }),
  store,
  // The wait for a held lock ends `waitMs` into the run: the rest of its time is its work budget.
  ...(waitMs === undefined ? {} : { deadline: NOW + LOCK_WORK_BUDGET_MS + waitMs }),
});

describe("the lock name is the resource's identity (finding 4)", () => {
  it('serialises StopLogging of one trail by name and by ARN: one StartLogging, one page, the other reads it logging', async () => {
    trailDouble({ account: ACCOUNT, readDelayMs: 50 }); // the first inspect is still in flight when the second event starts
    const store = memoryStateStore();
    const deps = liveDeps(store);

    const records = await Promise.all([
      run(trailLogging, stopLogging('by-name', 'example-audit-trail'), deps),
      run(trailLogging, stopLogging('by-arn', trailArnIn(ACCOUNT)), deps),
    ]);

    expect(records.map((r) => r.outcome).sort()).toEqual(['compliant', 'remediated']);
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(1);
    expect(deps.published).toHaveLength(1);
    expect(deps.published[0]?.attributes.severity).toBe('CRITICAL');
  });

  it("names a trail's lock by owner account, home Region and name, whichever form the event used", async () => {
    const context = (account: string) => ({ event: { account, region: 'us-east-1' }, record: { awsRegion: 'us-east-1' } }) as never;
    const byName = { type: 'AWS::CloudTrail::Trail', id: 'example-audit-trail', name: 'example-audit-trail', region: 'us-east-1' };
    const byArn = { ...byName, id: trailArnIn(ACCOUNT) };

    expect(trailLogging.lockKey(byName, context(ACCOUNT))).toBe(`${ACCOUNT}#us-east-1#example-audit-trail`);
    expect(trailLogging.lockKey(byArn, context(ACCOUNT))).toBe(`${ACCOUNT}#us-east-1#example-audit-trail`);
    expect(trailLogging.lockKey(byName, context(MEMBER))).toBe(`${MEMBER}#us-east-1#example-audit-trail`);
    expect(trailLogging.lockKey({ ...byName, region: 'eu-west-1' }, context(ACCOUNT))).toBe(`${ACCOUNT}#eu-west-1#example-audit-trail`);
  });

  it('does not make same-named resources of other accounts wait: each is decided at once, none ends ResourceLocked', async () => {
    const bucket = { type: 'AWS::S3::Bucket', id: 'example-reports' };
    const act = vi.fn(async () => undefined);
    const rule = {
      id: 'public-bucket',
      pattern: { source: ['aws.s3'] },
      permissions: { 'S3.PutPublicAccessBlock': 's3:PutBucketPublicAccessBlock' },
      settings: () => ({ enabled: true }),
      clients: () => ({}),
      parse: () => ({ resources: [bucket] }),
      inspect: async () => sleep(200), // slow reads: a shared lock would make the others wait past their 50 ms
      decide: () => violation('public', 'HIGH', [bucket], [{ api: 'S3.PutPublicAccessBlock', resource: bucket, params: {} }]),
      actions: [testAction('S3.PutPublicAccessBlock', { perform: act, verify: async () => ({ ok: true, detail: 'ok' }) })],
      message: () => ({ title: 'fixed', lines: [] }),
    } satisfies AnyRule;
    const accounts = ['111111111111', '222222222222', '333333333333', '444444444444'];
    const events = accounts.map((account) =>
      wrapRecord({
        eventTime: '2026-11-25T11:59:00Z',
        eventSource: 's3.amazonaws.com',
        eventName: 'PutBucketAcl',
        awsRegion: 'eu-west-1',
        eventID: `acl-${account}`,
        recipientAccountId: account,
        userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::${account}:user/alice` },
        requestParameters: { bucketName: 'example-reports' },
      }),
    );
    const store = memoryStateStore();
    const lockNames: string[] = [];
    const spied: StateStore = {
      ...store,
      lockResource: (name, ...rest) => {
        lockNames.push(name);
        return store.lockResource(name, ...rest);
      },
    };

    const records = await Promise.all(events.map((event) => run(rule, event, liveDeps(spied, 50))));

    expect(records.map((r) => `${r.account}:${r.outcome}`)).toEqual(accounts.map((account) => `${account}:remediated`));
    expect(act).toHaveBeenCalledTimes(4);
    expect(lockNames.sort()).toEqual(accounts.map((account) => `public-bucket#${account}#eu-west-1#example-reports`));
  });

  describe('a security group named by id or, in the default VPC, only by name', () => {
    const GROUP_ID = 'sg-0123456789abcdef0';
    const NAME_ONLY = loadSample('open-security-group', 'would-remediate.authorize-group-name-only-default-vpc') as Envelope;
    const BY_ID = {
      ...NAME_ONLY,
      id: 'by-id',
      detail: {
        ...NAME_ONLY.detail,
        eventID: 'by-id',
        requestParameters: { ...(NAME_ONLY.detail.requestParameters as object), groupName: undefined, groupId: GROUP_ID },
      },
    };
    const WORLD_SSH: SecurityGroupRule = {
      SecurityGroupRuleId: 'sgr-0123456789abcdef0',
      GroupId: GROUP_ID,
      IsEgress: false,
      IpProtocol: 'tcp',
      FromPort: 22,
      ToPort: 22,
      CidrIpv4: '0.0.0.0/0',
    };

    it('takes one lock for both forms: one revoke, one page, the other reads the group closed', async () => {
      let rules = [WORLD_SSH];
      ec2.on(DescribeSecurityGroupsCommand).callsFake(async (input: DescribeSecurityGroupsCommandInput) => {
        const named = input.GroupIds?.[0] === GROUP_ID || input.GroupNames?.[0] === 'launch-wizard-1';
        return { SecurityGroups: named ? [{ GroupId: GROUP_ID, GroupName: 'launch-wizard-1' }] : [] };
      });
      ec2.on(DescribeSecurityGroupRulesCommand).callsFake(async () => {
        const now = rules; // read at call time, answered later
        await sleep(50);
        return { SecurityGroupRules: now };
      });
      ec2.on(RevokeSecurityGroupIngressCommand).callsFake((input: RevokeSecurityGroupIngressCommandInput) => {
        rules = rules.filter((rule) => !input.SecurityGroupRuleIds?.includes(rule.SecurityGroupRuleId ?? ''));
        return { Return: true };
      });
      const deps = liveDeps(memoryStateStore());

      const records = await Promise.all([run(openSecurityGroup, NAME_ONLY, deps), run(openSecurityGroup, BY_ID, deps)]);

      expect(records.map((r) => r.outcome).sort()).toEqual(['compliant', 'remediated']);
      expect(ec2).toHaveReceivedCommandTimes(RevokeSecurityGroupIngressCommand, 1);
      expect(ec2).toHaveReceivedCommandWith(DescribeSecurityGroupsCommand, { GroupNames: ['launch-wizard-1'] }); // the name, read as its id
      expect(deps.published).toHaveLength(1);
    });

    it('names the lock by the group id without a read when the event has it', async () => {
      const context = { event: { account: ACCOUNT, region: 'eu-west-1' }, record: { awsRegion: 'eu-west-1' } } as never;

      const key = await openSecurityGroup.lockKey({ type: 'AWS::EC2::SecurityGroup', id: GROUP_ID }, context, { ec2: new EC2Client({ region: 'eu-west-1' }) });

      expect(key).toBe(`${ACCOUNT}#eu-west-1#${GROUP_ID}`);
      expect(ec2).not.toHaveReceivedCommand(DescribeSecurityGroupsCommand);
    });
  });
});

describe('a lock write whose outcome is unknown (finding 3)', () => {
  it('is freed when the run ends, so the retry is not blocked by the lock its own try took', async () => {
    trailDouble();
    const store = memoryStateStore();
    // The lock lands, then the call fails (its response lost, the SDK out of retries): the run cannot know it holds it.
    const flaky: StateStore = {
      ...store,
      lockResource: async (...args) => {
        await store.lockResource(...args);
        throw new AwsCallError('DynamoDB.PutItem', 'trailguard-test-state', 'transient', 'TimeoutError', 'the lock write timed out');
      },
    };

    const failed = await run(trailLogging, stopLogging('lost-lock', 'example-audit-trail'), { ...liveDeps(flaky) });
    const retried = await run(trailLogging, stopLogging('lost-lock', 'example-audit-trail'), liveDeps(store, 100));

    expect(failed).toMatchObject({ outcome: 'failed', error: { kind: 'transient' } });
    expect(retried).toMatchObject({ outcome: 'remediated', error: null });
    expect(store.items.has(`lock#${TRAIL_LOCK}`)).toBe(false);
  });
});

describe('waiting for a held lock (finding 6)', () => {
  it('waits for a holder that takes longer than a couple of seconds, then decides on the state it left', async () => {
    const trail = trailDouble();
    const store = memoryStateStore();
    const deps = liveDeps(store, 6_000);
    // Another invocation holds the trail's lock for 2.5 s, restarts the trail and frees it.
    await store.lockResource(TRAIL_LOCK, 'another-invocation', NOW, 90_000);
    const holder = sleep(2_500).then(async () => {
      trail.logging = true;
      await store.unlockResource(TRAIL_LOCK, 'another-invocation');
    });

    const record = await run(trailLogging, stopLogging('waits', 'example-audit-trail'), deps);
    await holder;

    expect(record).toMatchObject({ outcome: 'compliant', error: null, reason: expect.stringContaining('is logging again') });
    expect(cloudTrail.commandCalls(GetTrailStatusCommand)).toHaveLength(1); // read once it held the lock
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(0);
    expect(store.items.has(`lock#${TRAIL_LOCK}`)).toBe(false);
  }, 10_000);

  it("takes a dead holder's lock when it lapses, within the wait", async () => {
    trailDouble();
    const store = memoryStateStore();
    const started = Date.now();
    const deps = { ...liveDeps(store), now: () => NOW + Date.now() - started, deadline: NOW + LOCK_WORK_BUDGET_MS + 60_000 };
    // A holder that died: its lock lapses 2.5 s from now, never freed.
    await store.lockResource(TRAIL_LOCK, 'dead-invocation', NOW, 2_500);

    const record = await run(trailLogging, stopLogging('after-lapse', 'example-audit-trail'), deps);

    expect(Date.now() - started).toBeLessThan(4_000); // polled at the lapse, not 60 s later
    expect(record).toMatchObject({ outcome: 'remediated', error: null });
    expect(cloudTrail.commandCalls(StartLoggingCommand)).toHaveLength(1);
  }, 10_000);

  it('assumes the member role before taking the lock: AssumeRole never runs under it', async () => {
    trailDouble({ account: MEMBER });
    const store = memoryStateStore();
    const memberLock = `lock#trail-logging#${MEMBER}#us-east-1#example-audit-trail`;
    const lockedWhen: Record<string, boolean> = {};
    sts.on(AssumeRoleCommand).callsFake(() => {
      lockedWhen.assumeRole = store.items.has(memberLock);
      return {
        Credentials: {
          AccessKeyId: `ASIA${MEMBER}`,
          SecretAccessKey: 'example-secret',
          SessionToken: 'example-token',
          Expiration: new Date(Date.now() + 3_600_000),
        },
      };
    });
    cloudTrail.on(GetTrailCommand).callsFake(() => {
      lockedWhen.inspect = store.items.has(memberLock);
      return { Trail: trailIn(MEMBER) };
    });
    const config = sampleConfig({ region: 'eu-west-1', organization: { organizationId: 'o-exampleorg1', centralAccountId: ACCOUNT } });
    const deps = { ...capturingDeps({ mode: 'live', config }), store };

    const record = await run(trailLogging, stopLogging('member', 'example-audit-trail', MEMBER), deps);

    expect(record).toMatchObject({ outcome: 'remediated', account: MEMBER });
    expect(sts).toHaveReceivedCommandTimes(AssumeRoleCommand, 1);
    expect(lockedWhen).toEqual({ assumeRole: false, inspect: true });
  });
});
