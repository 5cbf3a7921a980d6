import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { publicBucket } from '../../functions/public-bucket/rule.js';
import { OutcomeUnknownError } from '../../shared/aws/sns.js';
import { buildBurstNotification, buildNotification, buildSubject, displayValue, notificationFailure, snsNotifier } from '../../shared/notifier.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { controlsOf } from '../../shared/controls.js';
import { lastResortNotification, snsAttributesOf } from '../../shared/notification-size.js';
import { conclude } from '../../shared/runner/conclusion.js';
import { eventOrigin } from '../../shared/runner/origin.js';
import { finish } from '../../shared/runner/record.js';
import { capturingDeps, runSample } from '../helpers/samples.js';

const record: RemediationRecord = {
  rule: 'public-bucket',
  outcome: 'remediated',
  severity: 'HIGH',
  mode: 'live',
  trigger: 'event',
  eventId: 'e-1',
  eventName: 'PutBucketAcl',
  eventSource: 's3.amazonaws.com',
  eventTime: '2026-11-20T09:15:00Z',
  errorCode: null,
  account: '111122223333',
  region: 'eu-west-1',
  actor: 'arn:aws:iam::111122223333:user/alice',
  actorType: 'IAMUser',
  sourceIp: '203.0.113.10',
  userAgent: 'aws-cli/2.15\n\u001b[31mFAKE: all clear',
  resources: [{ type: 'AWS::S3::Bucket', id: 'example-reports' }],
  actions: [{ api: 'S3.PutPublicAccessBlock', status: 'done', resource: 'example-reports', params: {}, verification: { ok: true, detail: 'all on' } }],
  reason: 'example-reports is public; remediated and verified',
  finding: null,
  exemptions: [],
  error: null,
  notification: { status: 'not-needed' },
  durationMs: 12,
  exposureMs: null,
};

describe('notifications', () => {
  it('builds a triage subject under 100 ASCII characters with severity and location', () => {
    const subject = buildSubject('HIGH', 'Public access blocked on S3 bucket example-reports', '111122223333', 'eu-west-1');
    expect(subject).toBe('[HIGH] Public access blocked on S3 bucket example-reports in 111122223333/eu-west-1');
  });

  it('shortens a long title but keeps the tag and the location', () => {
    const subject = buildSubject('CRITICAL', `Trail stopped: ${'x'.repeat(200)}`, '111122223333', 'ap-southeast-2');
    expect(subject.length).toBeLessThan(100);
    expect(subject).toMatch(/^\[CRITICAL\] Trail stopped: x+\.\.\. in 111122223333\/ap-southeast-2$/);
  });

  it('keeps event values from forging lines or escapes in the text', () => {
    const { text } = buildNotification(record, { title: 'Public access blocked on S3 bucket example-reports', lines: ['done'] });
    expect(text).toContain('User agent: aws-cli/2.15 [31mFAKE: all clear');
    expect(text).not.toContain('\u001b');
    expect(text.split('\n').filter((line) => line.startsWith('FAKE'))).toEqual([]);
    expect(displayValue('a\u2028b')).toBe('a b');
  });

  it('answers who, what, when and where, and what was done', () => {
    const { text } = buildNotification(record, { title: 'Public access blocked', lines: ['Block Public Access before: none set'] });
    for (const expected of [
      'arn:aws:iam::111122223333:user/alice',
      '203.0.113.10',
      's3.amazonaws.com PutBucketAcl at 2026-11-20T09:15:00Z',
      'Account: 111122223333, region: eu-west-1',
      'S3.PutPublicAccessBlock on example-reports: done, verified',
      'Block Public Access before: none set',
    ]) {
      expect(text).toContain(expected);
    }
  });

  it('leaves out the findings heading when the rule has nothing to add to the reason', () => {
    const { text } = buildNotification(record, { title: 't', lines: [] });
    expect(text).not.toContain('What was found and done:');
    expect(text).toContain('Reason: example-reports is public; remediated and verified');
  });

  it('carries filterable attributes and the record as JSON for machines', () => {
    const notification = buildNotification(record, { title: 't', lines: [] });
    expect(notification.attributes).toEqual({ rule: 'public-bucket', severity: 'HIGH', outcome: 'remediated', account: '111122223333' });
    expect(JSON.parse(notification.json)).toMatchObject({ record: { eventId: 'e-1' } });
  });
});

describe('the dedup key PagerDuty and Opsgenie fold copies by', () => {
  const keyOf = (overrides: Partial<RemediationRecord>) => buildNotification({ ...record, ...overrides }, { title: 't', lines: [] }).dedupKey;

  it('is the same for every try of one event that ends the same way, and carried in the JSON form', () => {
    const firstTry = buildNotification({ ...record, durationMs: 12, reason: 'first try' }, { title: 't', lines: [] });
    const retry = buildNotification(
      { ...record, durationMs: 3_400, reason: 'the retry', notification: { status: 'deferred', reason: 'r' } },
      { title: 'other', lines: ['x'] },
    );

    expect(retry.dedupKey).toBe(firstTry.dedupKey);
    expect(firstTry.dedupKey).toMatch(/^trailguard:public-bucket:remediated:[0-9a-f]{64}$/);
    expect(JSON.parse(retry.json)).toMatchObject({ dedupKey: firstTry.dedupKey, record: { eventId: 'e-1' } });
  });

  it('differs for another event, another outcome or another account, and hides attacker-chosen event ids', () => {
    const key = keyOf({});

    expect(keyOf({ eventId: 'e-2' })).not.toBe(key);
    expect(keyOf({ outcome: 'failed' })).toMatch(/^trailguard:public-bucket:failed:/);
    expect(keyOf({ account: '444455556666' })).not.toBe(key);
    expect(keyOf({ eventId: 'x\n\u001b[31m:'.repeat(500) })).toMatch(/^trailguard:public-bucket:remediated:[0-9a-f]{64}$/);
  });

  it('is the same for a redelivered event run twice through the runner', async () => {
    const first = await runSample(publicBucket, 'would-remediate.put-bucket-acl-canned-public-read');
    const again = await runSample(publicBucket, 'would-remediate.put-bucket-acl-canned-public-read');

    expect(first.deps.published).toHaveLength(1);
    expect(again.deps.published[0]?.dedupKey).toBe(first.deps.published[0]?.dedupKey);
    expect(first.deps.published[0]?.dedupKey).toMatch(/^trailguard:public-bucket:would-remediate:/);
  });

  it("survives shortening: the last-resort form carries the record's key", () => {
    const lastResort = lastResortNotification(record, '[HIGH] t', 'HIGH');

    expect(lastResort.dedupKey).toBe(keyOf({}));
    expect(JSON.parse(lastResort.json)).toMatchObject({ dedupKey: keyOf({}) });
  });

  it('gives a burst notice one key per rule, account and window, whichever event crossed the limit', () => {
    const digest = { maxPerWindow: 20, windowMinutes: 10 };
    const burst = buildBurstNotification(record, digest, '2026-11-20T09:20:00.000Z');

    expect(buildBurstNotification({ ...record, eventId: 'e-9' }, digest, '2026-11-20T09:20:00.000Z').dedupKey).toBe(burst.dedupKey);
    expect(buildBurstNotification(record, digest, '2026-11-20T09:30:00.000Z').dedupKey).not.toBe(burst.dedupKey);
    expect(burst.dedupKey).toMatch(/^trailguard:public-bucket:burst:[0-9a-f]{64}$/);
    expect(JSON.parse(burst.json)).toMatchObject({ dedupKey: burst.dedupKey, burst: { rule: 'public-bucket' } });
  });
});

describe('notificationFailure', () => {
  it('records a Publish that may have gone out as ambiguous, and any other failure by kind and code', () => {
    const maybeSent = new OutcomeUnknownError('SNS.Publish', 'ETIMEDOUT', { cause: new Error('timeout') });
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: { httpStatusCode: 400 } });

    expect(notificationFailure(maybeSent, 'topic')).toEqual({ status: 'failed', error: 'ambiguous: ETIMEDOUT' });
    expect(notificationFailure(throttled, 'topic')).toEqual({ status: 'failed', error: 'transient: Throttling' });
  });
});

describe('snsNotifier', () => {
  const sns = mockClient(SNSClient);
  afterEach(() => sns.reset());

  it('publishes text for people and JSON for machine protocols, with string attributes', async () => {
    sns.rejects(new Error('unexpected SNS call'));
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const notification = buildNotification(record, { title: 'Public access blocked', lines: [] });

    const id = await snsNotifier('arn:aws:sns:eu-west-1:111122223333:trailguard-dev-alerts', undefined)(notification);

    expect(id).toBe('m-1');
    const input = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      TopicArn: 'arn:aws:sns:eu-west-1:111122223333:trailguard-dev-alerts',
      Subject: notification.subject,
      MessageStructure: 'json',
      MessageAttributes: {
        rule: { DataType: 'String', StringValue: 'public-bucket' },
        outcome: { DataType: 'String', StringValue: 'remediated' },
        dedupKey: { DataType: 'String', StringValue: notification.dedupKey },
      },
    });
    const message = JSON.parse(input?.Message ?? '{}');
    expect(message.default).toBe(notification.text);
    expect(message.sqs).toBe(notification.json);
  });
});

describe('what a notification adds to the record: controls, console links, no placeholders', () => {
  const s3Eight = controlsOf({ other: ['S3.8'] }, null);
  const eventRecord: RemediationRecord = { ...record, eventId: '0b5e4a2c-0000-4000-8000-000000000009' };

  it('names the Security Hub controls in the text, the JSON form and a String.Array attribute', async () => {
    const sns = mockClient(SNSClient).rejects(new Error('unexpected SNS call'));
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const notification = buildNotification(eventRecord, { title: 't', lines: [] }, { controls: s3Eight });

    await snsNotifier('arn:aws:sns:eu-west-1:111122223333:trailguard-dev-alerts', undefined)(notification);

    expect(notification.text).toContain('Security Hub controls:\n  S3.8 S3 general purpose buckets should block public access (CIS v5.0.0 2.1.4)');
    expect(JSON.parse(notification.json).controls).toEqual([
      { id: 'S3.8', title: 'S3 general purpose buckets should block public access', cis: 'v5.0.0 2.1.4' },
    ]);
    expect(sns.commandCalls(PublishCommand)[0]?.args[0].input.MessageAttributes?.controls).toEqual({ DataType: 'String.Array', StringValue: '["S3.8"]' });
    sns.restore();
  });

  it('names no control and sends no controls attribute when the finding matches none', () => {
    const notification = buildNotification(eventRecord, { title: 't', lines: [] }, { controls: [] });

    expect(notification.text).not.toContain('Security Hub controls');
    expect(notification).not.toHaveProperty('controls');
    expect(snsAttributesOf(notification)).not.toHaveProperty('controls');
    expect(snsAttributesOf(notification)).toHaveProperty('dedupKey');
  });

  it('links the event and the bucket, and says which account to sign in to in organisation mode', () => {
    const single = buildNotification(eventRecord, { title: 't', lines: [] });
    const member = buildNotification({ ...eventRecord, account: '444455556666' }, { title: 't', lines: [] }, { centralAccount: '111122223333' });
    const central = buildNotification(eventRecord, { title: 't', lines: [] }, { centralAccount: '111122223333' });

    expect(single.text).toContain(
      [
        'In the AWS console:',
        '  CloudTrail event: https://eu-west-1.console.aws.amazon.com/cloudtrailv2/home?region=eu-west-1#/events/0b5e4a2c-0000-4000-8000-000000000009',
        '  S3 bucket example-reports: https://s3.console.aws.amazon.com/s3/buckets/example-reports?region=eu-west-1',
      ].join('\n'),
    );
    expect(member.text).toContain('In the AWS console, in account 444455556666 (a member account: sign in to it first):');
    expect(central.text).toContain('In the AWS console:\n');
    expect(JSON.parse(single.json).consoleLinks).toHaveLength(2);
  });

  it('carries no placeholder for what is settled after sending: notification status and duration', () => {
    const json = JSON.parse(buildNotification(record, { title: 't', lines: [] }).json);

    expect(json.record).not.toHaveProperty('notification');
    expect(json.record).not.toHaveProperty('durationMs');
    expect(json.record).toMatchObject({ eventId: 'e-1', outcome: 'remediated', exposureMs: null });
  });

  it("carries a live fix's exposure window, known before it is sent", async () => {
    const deps = capturingDeps({ mode: 'live' });
    const conclusion = conclude('remediated', 'example-reports is public; remediated and verified', { severity: 'HIGH', resources: record.resources });
    const origin = { ...eventOrigin(undefined, undefined), eventId: 'e-1', eventTime: '2026-11-25T11:59:51Z', account: '111122223333', region: 'eu-west-1' };

    const written = await finish(publicBucket, origin, conclusion, deps, deps.now());

    expect(written.exposureMs).toBe(9_000);
    expect(JSON.parse(deps.published[0]?.json ?? '{}').record).toMatchObject({ exposureMs: 9_000 });
    expect(JSON.parse(deps.published[0]?.json ?? '{}').record).not.toHaveProperty('durationMs');
  });
});
