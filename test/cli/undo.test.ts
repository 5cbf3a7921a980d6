import { CloudTrailClient, GetTrailCommand, UpdateTrailCommand } from '@aws-sdk/client-cloudtrail';
import {
  AuthorizeSecurityGroupIngressCommand,
  DeleteTagsCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeTagsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { DeletePublicAccessBlockCommand, GetPublicAccessBlockCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { undo, type UndoOptions } from '../../cli/undo.js';
import { main } from '../../cli/main.js';
import { parseConfig } from '../../shared/config.js';
import type { Notification } from '../../shared/notifier.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { DONE_ACTIONS, liveRecords, record, TRAIL } from '../helpers/records.js';

const s3 = mockClient(S3Client);
const ec2 = mockClient(EC2Client);
const cloudtrail = mockClient(CloudTrailClient);
const NOW = Date.parse('2026-11-21T08:00:00Z');
const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:trailguard-alerts';
const OPERATOR = 'arn:aws:sts::111122223333:assumed-role/SecurityOps/alice';
/** The exemptions an operator deploys before an undo: every resource the log's records name. */
const EXEMPT = ['example-reports', 'sg-0123456789abcdef0', 'i-0123456789abcdef0', TRAIL.id].map((resource) => ({
  resource,
  reason: 'CHG-1234: approved exception',
}));
let dir: string;
let log: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trailguard-undo-'));
  const live = liveRecords();
  log = join(dir, 'remediation.jsonl');
  writeFileSync(
    log,
    [
      ...Object.values(live).map((r) => JSON.stringify({ level: 'INFO', message: 'trailguard remediation', timestamp: '2026-11-20T09:15:04.000Z', ...r })),
      JSON.stringify(
        record({ rule: 'trail-logging', eventId: 'evt-start', eventName: 'StopLogging', resources: [TRAIL], actions: [DONE_ACTIONS.startLogging] }),
      ),
      JSON.stringify(
        record({ eventId: 'evt-dry', outcome: 'would-remediate', mode: 'dry-run', actions: [{ ...DONE_ACTIONS.bucketHadNone, status: 'planned' }] }),
      ),
      JSON.stringify(record({ eventId: 'evt-some', actions: [DONE_ACTIONS.bucketHadSome] })),
      JSON.stringify(record({ rule: 'root-activity', eventId: 'evt-alert', outcome: 'alerted', actions: [] })),
    ].join('\n'),
  );
});
beforeEach(() => {
  for (const mock of [s3, ec2, cloudtrail]) {
    mock.reset();
    mock.rejects(new Error(`unexpected ${mock === s3 ? 'S3' : mock === ec2 ? 'EC2' : 'CloudTrail'} call`));
  }
});
afterEach(() => {
  s3.reset();
  ec2.reset();
  cloudtrail.reset();
});

async function undone(eventId: string, options: Partial<UndoOptions> = {}) {
  let out = '';
  let err = '';
  const sent: Notification[] = [];
  const exit = await undo({
    eventId,
    sources: [log],
    apply: false,
    mode: 'offline',
    config: parseConfig({ topicArn: TOPIC, exemptions: EXEMPT }),
    region: 'eu-west-1',
    since: undefined,
    now: () => NOW,
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    progress: { isTTY: false, write: () => true },
    notify: async (n) => {
      sent.push(n);
      return 'msg-1';
    },
    identity: async () => ({ arn: OPERATOR, account: '111122223333' }),
    yes: true,
    ...options,
  });
  const recordLine = out
    .split('\n')
    .map((line) => line.trim())
    .find((line) => line.startsWith('{"level":"INFO","message":"trailguard remediation"'));
  const logged = recordLine ? (JSON.parse(recordLine) as RemediationRecord & { message: string }) : undefined;
  return { exit, out, err, sent, logged };
}

const noSuchBlock = () => Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' });

describe('trailguard undo: the plan (no --apply)', () => {
  it("prints each rule's exact command and the exemption, and calls nothing", async () => {
    const bucket = await undone('evt-bucket');
    expect(bucket.exit).toBe(0);
    expect(bucket.out).toContain(
      "$ aws s3api delete-public-access-block --region 'eu-west-1' --bucket 'example-reports' --expected-bucket-owner '111122223333'",
    );
    expect(bucket.out).toContain('S3.DeletePublicAccessBlock (needs s3:PutBucketPublicAccessBlock)');
    expect(bucket.out).toContain('Nothing was changed');
    expect(bucket.sent).toHaveLength(0);

    const some = await undone('evt-some');
    expect(some.out).toContain(
      `$ aws s3api put-public-access-block --region 'eu-west-1' --bucket 'example-reports' --expected-bucket-owner '111122223333' --public-access-block-configuration '{"BlockPublicAcls":true,"IgnorePublicAcls":true,"BlockPublicPolicy":false,"RestrictPublicBuckets":false}'`,
    );

    const group = await undone('evt-sg');
    expect(group.out).toContain(
      `$ aws ec2 authorize-security-group-ingress --region 'eu-west-1' --group-id 'sg-0123456789abcdef0' --ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0","Description":"ops'\\'' ssh"}]},{"IpProtocol":"-1","Ipv6Ranges":[{"CidrIpv6":"::/0"}]}]'`,
    );

    const instance = await undone('evt-i');
    expect(instance.out).toContain(
      `$ aws ec2 delete-tags --region 'eu-west-1' --resources 'i-0123456789abcdef0' --tags '[{"Key":"Owner","Value":"arn:aws:iam::111122223333:user/alice"},{"Key":"trailguard:tagged-at","Value":"2026-11-20T09:15:00Z"}]'`,
    );
    expect(instance.out).not.toContain('add the exemption before --apply, or the rule remediates');

    const trail = await undone('evt-trail', { config: parseConfig({ topicArn: TOPIC }) });
    expect(trail.out).toContain(
      "$ aws cloudtrail update-trail --region 'eu-west-1' --name 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail' --no-enable-log-file-validation --no-is-multi-region-trail",
    );
    expect(trail.out).toContain('add the exemption before --apply, or the rule remediates the undo within seconds');
    const exemption = JSON.parse(/\[\n[\s\S]*\n\]/.exec(trail.out)?.[0] ?? '[]');
    expect(exemption).toEqual([
      {
        rule: 'trail-logging',
        resource: TRAIL.id,
        expires: '2026-12-21',
        reason: 'remediation undone by an operator on 2026-11-21 (trailguard undo of evt-trail): replace with the ticket that approves it',
      },
    ]);
  });

  it('says StartLogging is never undone, and that a dry-run record wrote nothing', async () => {
    const start = await undone('evt-start');
    expect(start.out).toContain('StartLogging is never undone');
    expect(start.out).toContain('nothing trailguard undo can perform');
    const dry = await undone('evt-dry');
    expect(dry.out).toContain('no write was performed, nothing to undo');
  });

  it('says an audit alert changed nothing, so there is nothing to undo, and acts on nothing', async () => {
    const alert = await undone('evt-alert', { apply: true, mode: 'live' });
    expect(alert.exit).toBe(0);
    expect(alert.out).toContain('root-activity alerted (mode live): an alert only notifies and changes nothing in the account, so there is nothing to undo');
    expect(alert.sent).toEqual([]);
  });

  it('exits 2 when the event is not in the log', async () => {
    const missing = await undone('evt-none');
    expect(missing.exit).toBe(2);
    expect(missing.err).toContain('no remediation-log record of event evt-none');
  });

  it('--mode dry-run reads what the resource holds now, read-only', async () => {
    s3.on(GetPublicAccessBlockCommand).resolves({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
    });
    const { out } = await undone('evt-bucket', { mode: 'dry-run' });
    expect(out).toContain('now: example-reports has {"BlockPublicAcls":true,"IgnorePublicAcls":true,"BlockPublicPolicy":true,"RestrictPublicBuckets":true}');
    expect(s3).not.toHaveReceivedCommand(DeletePublicAccessBlockCommand);
  });
});

describe('trailguard undo --apply', () => {
  const apply = { apply: true, mode: 'live' } as const;

  function expectUndoRecord(logged: RemediationRecord | undefined, eventId: string, rule: string) {
    // Its own outcome, and by whom: the operator's AWS identity (STS), never a local user name.
    expect(logged).toMatchObject({
      message: 'trailguard remediation',
      rule,
      outcome: 'reverted',
      mode: 'live',
      trigger: 'undo',
      eventId,
      exposureMs: null,
      actor: OPERATOR,
      actorType: 'AssumedRole',
      notification: { status: 'sent', messageId: 'msg-1' },
    });
    expect(logged?.reason).toMatch(new RegExp(`^undo of ${eventId}: .*; done and verified$`));
  }

  it('public-bucket: deletes the block it added (there was none), reads back, logs and notifies', async () => {
    s3.on(DeletePublicAccessBlockCommand).resolves({});
    s3.on(GetPublicAccessBlockCommand).rejects(noSuchBlock());
    const { exit, logged, sent, out } = await undone('evt-bucket', apply);
    expect(exit).toBe(0);
    expect(s3).toHaveReceivedCommandWith(DeletePublicAccessBlockCommand, { Bucket: 'example-reports', ExpectedBucketOwner: '111122223333' });
    expectUndoRecord(logged, 'evt-bucket', 'public-bucket');
    expect(logged?.actions).toEqual([
      expect.objectContaining({
        api: 'S3.DeletePublicAccessBlock',
        status: 'done',
        verification: { ok: true, detail: 'example-reports reads back with no Block Public Access configuration' },
        previous: { PublicAccessBlockConfiguration: DONE_ACTIONS.bucketHadNone.params.PublicAccessBlockConfiguration },
      }),
    ]);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.subject).toContain('Remediation undone on example-reports');
    expect(sent[0]?.text).toContain(`Undone by ${OPERATOR}`);
    expect(sent[0]?.attributes).toMatchObject({ outcome: 'reverted' });
    // The configuration exempts the bucket already: no exemption to add.
    expect(out).not.toContain('Now add this exemption');
  });

  it('public-bucket: puts the earlier configuration back', async () => {
    const before = DONE_ACTIONS.bucketHadSome.previous.PublicAccessBlockConfiguration;
    s3.on(PutPublicAccessBlockCommand).resolves({});
    s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: before });
    const { exit, logged } = await undone('evt-some', apply);
    expect(exit).toBe(0);
    expect(s3).toHaveReceivedCommandWith(PutPublicAccessBlockCommand, {
      Bucket: 'example-reports',
      ExpectedBucketOwner: '111122223333',
      PublicAccessBlockConfiguration: before,
    });
    expectUndoRecord(logged, 'evt-some', 'public-bucket');
  });

  it('open-security-group: re-authorizes the revoked rules and finds them again', async () => {
    ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({ Return: true });
    ec2.on(DescribeSecurityGroupRulesCommand).resolves({
      SecurityGroupRules: [
        {
          SecurityGroupRuleId: 'sgr-0new1',
          GroupId: 'sg-0123456789abcdef0',
          IsEgress: false,
          IpProtocol: 'tcp',
          FromPort: 22,
          ToPort: 22,
          CidrIpv4: '0.0.0.0/0',
        },
        { SecurityGroupRuleId: 'sgr-0new2', GroupId: 'sg-0123456789abcdef0', IsEgress: false, IpProtocol: '-1', FromPort: -1, ToPort: -1, CidrIpv6: '::/0' },
      ],
    });
    const { exit, logged } = await undone('evt-sg', apply);
    expect(exit).toBe(0);
    expect(ec2).toHaveReceivedCommandWith(AuthorizeSecurityGroupIngressCommand, {
      GroupId: 'sg-0123456789abcdef0',
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: "ops' ssh" }] },
        { IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '::/0' }] },
      ],
    });
    expectUndoRecord(logged, 'evt-sg', 'open-security-group');
  });

  it('untagged-instance: deletes only the keys it added, with their values', async () => {
    ec2.on(DeleteTagsCommand).resolves({});
    ec2.on(DescribeTagsCommand).resolves({
      Tags: [
        { ResourceId: 'i-0123456789abcdef0', Key: 'Name', Value: 'web' },
        { ResourceId: 'i-0123456789abcdef0', Key: 'CostCenter', Value: 'cc-42' },
      ],
    });
    const { exit, logged } = await undone('evt-i', apply);
    expect(exit).toBe(0);
    expect(ec2).toHaveReceivedCommandTimes(DeleteTagsCommand, 1);
    expect(ec2).toHaveReceivedCommandWith(DeleteTagsCommand, {
      Resources: ['i-0123456789abcdef0'],
      Tags: [
        { Key: 'Owner', Value: 'arn:aws:iam::111122223333:user/alice' },
        { Key: 'trailguard:tagged-at', Value: '2026-11-20T09:15:00Z' },
      ],
    });
    expectUndoRecord(logged, 'evt-i', 'untagged-instance');
  });

  it("trail-logging: UpdateTrail back to the previous settings in the trail's home region", async () => {
    cloudtrail.on(UpdateTrailCommand).resolves({});
    cloudtrail.on(GetTrailCommand).resolves({ Trail: { LogFileValidationEnabled: false, IsMultiRegionTrail: false } });
    const { exit, logged } = await undone('evt-trail', apply);
    expect(exit).toBe(0);
    expect(cloudtrail).toHaveReceivedCommandWith(UpdateTrailCommand, { Name: TRAIL.id, EnableLogFileValidation: false, IsMultiRegionTrail: false });
    expectUndoRecord(logged, 'evt-trail', 'trail-logging');
    expect(logged?.actions[0]?.previous).toEqual({ EnableLogFileValidation: true, IsMultiRegionTrail: true });
  });

  it('a denied undo is a failed record naming the IAM action, and exits 1', async () => {
    ec2.on(DeleteTagsCommand).rejects(Object.assign(new Error('not allowed'), { name: 'UnauthorizedOperation' }));
    const { exit, logged, sent } = await undone('evt-i', apply);
    expect(exit).toBe(1);
    expect(logged).toMatchObject({ outcome: 'failed', trigger: 'undo', error: { kind: 'denied', permission: 'ec2:DeleteTags' } });
    expect(sent[0]?.subject).toContain('FAILED to undo');
  });

  it('a write that does not read back is not verified', async () => {
    s3.on(DeletePublicAccessBlockCommand).resolves({});
    s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: DONE_ACTIONS.bucketHadNone.params.PublicAccessBlockConfiguration });
    const { exit, logged } = await undone('evt-bucket', apply);
    expect(exit).toBe(1);
    expect(logged?.outcome).toBe('failed');
    expect(logged?.actions[0]?.verification?.ok).toBe(false);
  });
});

describe('trailguard undo --apply: guards', () => {
  const apply = { apply: true, mode: 'live' } as const;

  it('refuses without an exemption for the resource, and calls nothing, unless --force', async () => {
    const refused = await undone('evt-bucket', { ...apply, config: parseConfig({ topicArn: TOPIC }) });
    expect(refused.exit).toBe(2);
    expect(refused.err).toContain('refused: the loaded configuration does not exempt public-bucket example-reports');
    expect(refused.out).toContain('Before --apply, add this exemption');
    expect(s3).not.toHaveReceivedCommand(DeletePublicAccessBlockCommand);
    expect(refused.sent).toEqual([]);

    s3.on(DeletePublicAccessBlockCommand).resolves({});
    s3.on(GetPublicAccessBlockCommand).rejects(noSuchBlock());
    const forced = await undone('evt-bucket', { ...apply, config: parseConfig({ topicArn: TOPIC }), force: true });
    expect(forced.exit).toBe(0);
    expect(s3).toHaveReceivedCommandTimes(DeletePublicAccessBlockCommand, 1);
    expect(forced.logged?.outcome).toBe('reverted');
    expect(forced.out).toContain('Now add this exemption');
  });

  it('asks for confirmation without --yes, and changes nothing when not confirmed', async () => {
    const questions: string[] = [];
    const declined = await undone('evt-bucket', {
      ...apply,
      yes: false,
      confirm: async (q) => {
        questions.push(q);
        return false;
      },
    });
    expect(declined.exit).toBe(2);
    expect(questions).toEqual([`Undo 1 write(s) of event evt-bucket in 111122223333/eu-west-1 as ${OPERATOR}?`]);
    expect(declined.err).toContain('not confirmed: nothing was changed');
    expect(s3).not.toHaveReceivedCommand(DeletePublicAccessBlockCommand);

    s3.on(DeletePublicAccessBlockCommand).resolves({});
    s3.on(GetPublicAccessBlockCommand).rejects(noSuchBlock());
    const confirmed = await undone('evt-bucket', { ...apply, yes: false, confirm: async () => true });
    expect(confirmed.exit).toBe(0);
    expect(s3).toHaveReceivedCommandTimes(DeletePublicAccessBlockCommand, 1);
  });

  it("refuses credentials of another account than the remediation's, unless --force", async () => {
    const other = { ...apply, identity: async () => ({ arn: 'arn:aws:sts::444455556666:assumed-role/SecurityOps/alice', account: '444455556666' }) };
    const refused = await undone('evt-bucket', other);
    expect(refused.exit).toBe(2);
    expect(refused.err).toContain('refused: your credentials are of account 444455556666, the remediation was in 111122223333');
    expect(s3).not.toHaveReceivedCommand(DeletePublicAccessBlockCommand);
    s3.on(DeletePublicAccessBlockCommand).resolves({});
    s3.on(GetPublicAccessBlockCommand).rejects(noSuchBlock());
    expect((await undone('evt-bucket', { ...other, force: true })).exit).toBe(0);
    expect(s3).toHaveReceivedCommandTimes(DeletePublicAccessBlockCommand, 1);
  });

  it('a write that landed but could not be read back (throttled) is failed, told now and not left to a retry that never comes', async () => {
    s3.on(DeletePublicAccessBlockCommand).resolves({});
    s3.on(GetPublicAccessBlockCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } }));
    const { exit, logged, sent } = await undone('evt-bucket', apply);
    expect(exit).toBe(1);
    expect(logged).toMatchObject({ outcome: 'failed', trigger: 'undo', notification: { status: 'sent' } });
    expect(logged?.reason).toContain('an undo is not retried');
    expect(logged?.reason).not.toContain('Lambda/EventBridge');
    expect(sent).toHaveLength(1);
  });

  it('refuses when STS cannot say who the operator is: an undo is never recorded without an identity', async () => {
    const nobody = await undone('evt-bucket', {
      ...apply,
      identity: async () => {
        throw Object.assign(new Error('expired'), { name: 'ExpiredToken' });
      },
    });
    expect(nobody.exit).toBe(2);
    expect(nobody.err).toContain('cannot tell who is undoing (sts:GetCallerIdentity failed: ExpiredToken)');
    expect(s3).not.toHaveReceivedCommand(DeletePublicAccessBlockCommand);
  });
});

describe('trailguard undo arguments', () => {
  it('needs one EVENT_ID and --log, and refuses --apply with another mode', async () => {
    expect(await main(['undo', '--log', log], {})).toBe(2);
    expect(await main(['undo', 'evt-i'], {})).toBe(2);
    expect(await main(['undo', 'evt-i', '--log', log, '--apply', '--mode', 'dry-run'], {})).toBe(2);
  });
});
