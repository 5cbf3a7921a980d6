import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { buildNotification, buildSubject, displayValue, snsNotifier } from '../../shared/notifier.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';

const record: RemediationRecord = {
  rule: 'public-bucket', outcome: 'remediated', severity: 'HIGH', mode: 'live', trigger: 'event',
  eventId: 'e-1', eventName: 'PutBucketAcl', eventSource: 's3.amazonaws.com', eventTime: '2026-11-20T09:15:00Z', errorCode: null,
  account: '111122223333', region: 'eu-west-1', actor: 'arn:aws:iam::111122223333:user/alice', actorType: 'IAMUser',
  sourceIp: '203.0.113.10', userAgent: 'aws-cli/2.15\n\u001b[31mFAKE: all clear', resources: [{ type: 'AWS::S3::Bucket', id: 'example-reports' }],
  actions: [{ api: 'S3.PutPublicAccessBlock', status: 'done', resource: 'example-reports', params: {}, verification: { ok: true, detail: 'all on' } }],
  reason: 'example-reports is public; remediated and verified', exemptions: [], error: null,
  notification: { status: 'not-needed' }, durationMs: 12, exposureMs: null,
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
    for (const expected of ['arn:aws:iam::111122223333:user/alice', '203.0.113.10', 's3.amazonaws.com PutBucketAcl at 2026-11-20T09:15:00Z',
      'Account: 111122223333, region: eu-west-1', 'S3.PutPublicAccessBlock on example-reports: done, verified', 'Block Public Access before: none set']) {
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
      MessageAttributes: { rule: { DataType: 'String', StringValue: 'public-bucket' }, outcome: { DataType: 'String', StringValue: 'remediated' } },
    });
    const message = JSON.parse(input?.Message ?? '{}');
    expect(message.default).toBe(notification.text);
    expect(message.sqs).toBe(notification.json);
  });
});
