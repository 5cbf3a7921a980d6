import { PublishCommand, SNSClient, type PublishCommandInput } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { untaggedInstance } from '../../functions/untagged-instance/rule.js';
import { fitNotification, lastResortNotification, SHORTENINGS, SNS_MESSAGE_LIMIT } from '../../shared/notification-size.js';
import { buildBurstNotification, buildNotification, snsNotifier, type Notification } from '../../shared/notifier.js';
import type { ActionRecord, RemediationRecord } from '../../shared/remediation-log.js';
import { run } from '../../shared/runner/run.js';
import { record as aRecord } from '../helpers/records.js';
import { capturingDeps, loadSample, sampleConfig } from '../helpers/samples.js';

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:trailguard-dev-alerts';
const sns = mockClient(SNSClient);

beforeEach(() => {
  sns.reset();
  sns.rejects(new Error('unexpected SNS call'));
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});
afterEach(() => sns.reset());

/** What SNS counts against its limit, computed here from the request as sent: the Message and every attribute. */
function sentBytes(input: PublishCommandInput | undefined): number {
  const attributes = Object.entries(input?.MessageAttributes ?? {}).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '') + Buffer.byteLength(value.StringValue ?? ''),
    0,
  );
  return Buffer.byteLength(input?.Message ?? '') + attributes;
}

const published = () => sns.commandCalls(PublishCommand).map((call) => call.args[0].input);
const protocols = (input: PublishCommandInput | undefined) => JSON.parse(input?.Message ?? '{}') as Record<string, string>;

/** The RunInstances sample with `count` untagged instances in one call. */
function launchOf(count: number): unknown {
  const event = structuredClone(loadSample('untagged-instance', 'would-remediate.two-instances-one-call')) as {
    detail: { responseElements: { instancesSet: { items: object[] } } };
  };
  const [item] = event.detail.responseElements.instancesSet.items;
  event.detail.responseElements.instancesSet.items = Array.from({ length: count }, (_, i) => ({
    ...item,
    instanceId: `i-0${(0x1000000000000000 + i).toString(16)}`,
  }));
  return event;
}

/** A remediated open-security-group record of `count` groups, each with its revoke, its previous rules and an exemption. */
function recordOf(count: number): RemediationRecord {
  const ids = Array.from({ length: count }, (_, i) => `sg-0${(0x1000000000000000 + i).toString(16)}`);
  const actions: ActionRecord[] = ids.map((id) => ({
    api: 'EC2.RevokeSecurityGroupIngress',
    status: 'done',
    resource: id,
    params: { GroupId: id, SecurityGroupRuleIds: ['sgr-0aaaaaaaaaaaaaaaa', 'sgr-0bbbbbbbbbbbbbbbb'] },
    previous: {
      SecurityGroupRules: [
        { SecurityGroupRuleId: 'sgr-0aaaaaaaaaaaaaaaa', IsEgress: false, IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0' },
      ],
    },
    verification: { ok: true, detail: `sgr-0aaaaaaaaaaaaaaaa, sgr-0bbbbbbbbbbbbbbbb read back as gone from ${id}` },
  }));
  return aRecord({
    rule: 'open-security-group',
    eventName: 'AuthorizeSecurityGroupIngress',
    eventSource: 'ec2.amazonaws.com',
    resources: ids.map((id) => ({ type: 'AWS::EC2::SecurityGroup', id, name: `example-${id}` })),
    actions,
    exemptions: ids.map((id) => ({ resource: `${id}-peer`, reason: 'partner SFTP, reviewed by security (ticket SEC-2345)', expires: '2099-12-31' })),
    reason: ids.map((id) => `${id} allows 0.0.0.0/0 on port 22`).join('; '),
  });
}

/**
 * The record with every string value `length` characters long, in a character that costs 7 bytes once JSON-escaped
 * twice (a lone surrogate: `\ud800` in the JSON form, `\\ud800` in the envelope) and survives the text's clean-up.
 */
function hostile(record: RemediationRecord, length: number): RemediationRecord {
  const costly = (value: unknown): unknown => {
    if (typeof value === 'string') return `${value.slice(0, 4)}${'\uD800'.repeat(length)}`;
    if (Array.isArray(value)) return value.map(costly);
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, costly(item)]));
    return value;
  };
  const values = costly({
    ...record,
    error: { kind: 'denied', code: 'AccessDenied', message: 'denied', permission: 'ec2:RevokeSecurityGroupIngress' },
  }) as RemediationRecord;
  return { ...values, rule: record.rule, outcome: record.outcome, mode: record.mode, trigger: record.trigger };
}

describe('every notification fits one SNS message (262,144 bytes with attributes)', () => {
  it('publishes a 400-instance launch shortened, naming outcome, rule, account and the count', async () => {
    const config = sampleConfig({
      enforceFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:trailguard-dev-untaggedInstanceEnforce',
      schedulerRoleArn: 'arn:aws:iam::111122223333:role/trailguard-dev-scheduler',
      rules: { 'untagged-instance': { enforcement: { enabled: true } } },
    });
    const deps = capturingDeps({ config, notify: snsNotifier(TOPIC, undefined) });

    const record = await run(untaggedInstance, launchOf(400), deps);

    // Unshortened, the five JSON copies alone would be far over the limit.
    expect(Buffer.byteLength(JSON.stringify({ record })) * 5).toBeGreaterThan(SNS_MESSAGE_LIMIT);
    expect(record).toMatchObject({ outcome: 'would-remediate', notification: { status: 'sent', messageId: 'm-1' } });
    const [input] = published();
    expect(published()).toHaveLength(1);
    expect(sentBytes(input)).toBeLessThanOrEqual(SNS_MESSAGE_LIMIT);
    const message = protocols(input);
    for (const text of [message.default, message.email]) {
      expect(text).toContain('Outcome: would-remediate (mode offline, rule untagged-instance)');
      expect(text).toContain('Account: 111122223333');
      expect(text).toMatch(/Shortened to fit one SNS message \(showing \d+ of 400 resources/);
      expect(text).toContain(`eventId = "${record.eventId}"`);
    }
    const json = JSON.parse(message.sqs ?? '{}');
    expect(message['email-json']).toBe(message.sqs);
    expect(json.record).toMatchObject({ outcome: 'would-remediate', rule: 'untagged-instance', account: '111122223333', eventId: record.eventId });
    expect(json.shortened).toMatchObject({
      eventId: record.eventId,
      resources: { total: 400 },
      actions: { total: record.actions.length },
      paramsOmitted: true,
    });
    expect(json.record.actions[0]).not.toHaveProperty('params');
    expect(json.record.actions[0]).toHaveProperty('api');
    expect(input?.MessageAttributes).toMatchObject({
      rule: { StringValue: 'untagged-instance' },
      outcome: { StringValue: 'would-remediate' },
      account: { StringValue: '111122223333' },
    });
  });

  it('publishes a 2,000-resource record shortened, with the count', async () => {
    const record = recordOf(2_000);
    const notification = buildNotification(record, {
      title: 'Revoked world-open rules on 2000 security groups',
      lines: record.resources.map((r) => `Restore ${r.id}: aws ec2 authorize-security-group-ingress ...`),
    });

    await snsNotifier(TOPIC, undefined)(notification);

    const [input] = published();
    expect(sentBytes(input)).toBeLessThanOrEqual(SNS_MESSAGE_LIMIT);
    const message = protocols(input);
    expect(message.default).toContain('Outcome: remediated (mode live, rule open-security-group)');
    expect(message.default).toContain('Account: 111122223333');
    expect(message.default).toMatch(/showing \d+ of 2000 resources, \d+ of 2000 actions, \d+ of 2000 exemptions/);
    expect(message.default).toMatch(/\.\.\. and \d+ more lines \(see the log record\)/);
    expect(JSON.parse(message.lambda ?? '{}').shortened).toMatchObject({ resources: { total: 2000 }, actions: { total: 2000 }, exemptions: { total: 2000 } });
  });

  it('keeps a notification that fits whole: the full record, no shortening note', async () => {
    const record = recordOf(3);

    await snsNotifier(TOPIC, undefined)(buildNotification(record, { title: 'Revoked', lines: ['one line'] }));

    const message = protocols(published()[0]);
    const json = JSON.parse(message.https ?? '{}');
    const { notification: _notification, durationMs: _durationMs, ...told } = record;
    expect(json.record).toEqual(JSON.parse(JSON.stringify(told)));
    expect(json.record).not.toHaveProperty('notification');
    expect(json).not.toHaveProperty('shortened');
    expect(message.default).not.toContain('Shortened');
    expect(message.default).toContain('  one line');
  });

  it('fits a record whose every value is long and costly to escape', async () => {
    const record = hostile(recordOf(50), 2_000);
    const notification = buildNotification(record, { title: 'Revoked', lines: record.resources.map((r) => r.id) });

    await snsNotifier(TOPIC, undefined)(notification);

    const [input] = published();
    expect(sentBytes(input)).toBeLessThanOrEqual(SNS_MESSAGE_LIMIT);
    expect(protocols(input).default).toContain('Outcome: remediated (mode live, rule open-security-group)');
    expect(JSON.parse(protocols(input).sqs ?? '{}').shortened).toMatchObject({ resources: { total: 50 }, actions: { total: 50 } });
  });

  it('has a last resort that fits whatever the values hold, with outcome, rule, account and counts', async () => {
    const record = { ...hostile(recordOf(50), 1_000_000), account: '111122223333' };

    await snsNotifier(TOPIC, undefined)(lastResortNotification(record, '[HIGH] Revoked in 111122223333/eu-west-1', 'HIGH'));

    const [input] = published();
    expect(sentBytes(input)).toBeLessThanOrEqual(SNS_MESSAGE_LIMIT);
    const message = protocols(input);
    expect(message.default).toContain('Outcome: remediated (mode live, rule open-security-group)');
    expect(message.default).toContain('Resources: 50, actions: 50, exemptions: 50');
    expect(message.default).toContain('Account: 111122223333, region: ');
    expect(JSON.parse(message.sqs ?? '{}')).toMatchObject({
      record: { outcome: 'remediated', account: '111122223333' },
      shortened: { resources: { shown: 0, total: 50 } },
    });
    expect(input?.MessageAttributes?.rule?.StringValue).toBe('open-security-group');
    expect(input?.MessageAttributes?.severity?.StringValue).toBe('HIGH');
  });

  it('tries the full form, then each shortening, then the last resort', () => {
    const tried: unknown[] = [];
    const small = buildNotification(recordOf(1), { title: 'Revoked', lines: [] });
    const tooLarge: Notification = { ...small, json: 'x'.repeat(SNS_MESSAGE_LIMIT) };

    const fitted = fitNotification(
      (detail) => {
        tried.push(detail);
        return tooLarge;
      },
      () => small,
    );

    expect(fitted).toBe(small);
    expect(tried).toEqual([undefined, ...SHORTENINGS]);
  });

  it("shortens the burst notice's JSON form too", async () => {
    const notification = buildBurstNotification(recordOf(2_000), { maxPerWindow: 20, windowMinutes: 5 }, '2026-11-20T09:20:00Z');

    await snsNotifier(TOPIC, undefined)(notification);

    const [input] = published();
    expect(sentBytes(input)).toBeLessThanOrEqual(SNS_MESSAGE_LIMIT);
    const json = JSON.parse(protocols(input).sqs ?? '{}');
    expect(json).toMatchObject({ burst: { rule: 'open-security-group', maxPerWindow: 20 }, shortened: { resources: { total: 2000 } } });
  });

  it('refuses a notification built elsewhere that does not fit, without calling SNS', async () => {
    const fits = buildNotification(recordOf(1), { title: 'Revoked', lines: [] });
    const tooLarge: Notification = { ...fits, text: 'x'.repeat(SNS_MESSAGE_LIMIT) };
    const notify = snsNotifier(TOPIC, undefined);

    await expect(notify(tooLarge)).rejects.toMatchObject({ name: 'AwsCallError', api: 'SNS.Publish', kind: 'invalid', code: 'MessageTooLong' });
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 0);
    await expect(notify(fits)).resolves.toBe('m-1');
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
  });
});
