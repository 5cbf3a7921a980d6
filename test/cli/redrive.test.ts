import { GetPublicAccessBlockCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { breaker } from '../../cli/breaker.js';
import { eventOfMessage, redrive } from '../../cli/redrive.js';
import { parseConfig } from '../../shared/config.js';
import { wrapRecord } from '../../shared/events/schema.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { ALL_BLOCKED } from '../../shared/s3/public-access.js';
import { memoryStateStore } from '../../shared/state/store.js';
import { loadSample } from '../helpers/samples.js';

const sqs = mockClient(SQSClient);
const s3 = mockClient(S3Client);
const ec2 = mockClient(EC2Client);
const sns = mockClient(SNSClient);
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/111122223333/trailguard-prod-dlq';
// Dead letters are always EventBridge envelopes: wrap the bare sample record the way EventBridge does.
const event = () => wrapRecord(loadSample('public-bucket', 'would-remediate.delete-public-access-block') as Record<string, unknown>);

beforeEach(() => {
  sqs.reset();
  s3.reset();
  sns.reset();
  sqs.rejects(new Error('unexpected SQS call'));
  s3.rejects(new Error('unexpected S3 call'));
  sns.rejects(new Error('unexpected SNS call'));
});
afterEach(() => {
  sqs.reset();
  s3.reset();
  sns.reset();
});

async function redriven(messages: { MessageId: string; ReceiptHandle: string; Body: string }[], mode: 'live' | 'dry-run' = 'live', config = parseConfig({}), notify = false) {
  sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: messages }).resolves({ Messages: [] });
  sqs.on(DeleteMessageCommand).resolves({});
  let out = '';
  let err = '';
  const exit = await redrive({
    queueUrl: QUEUE, mode, format: 'jsonl', max: 100, config, notify,
    out: (t) => { out += t; }, err: (t) => { err += t; },
  });
  const records = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as RemediationRecord);
  return { exit, records, err };
}

describe('eventOfMessage', () => {
  it('reads EventBridge dead letters and Lambda invocation records alike', () => {
    const e = event();
    expect(eventOfMessage(JSON.stringify(e))).toEqual({ event: e });
    expect(eventOfMessage(JSON.stringify({ version: '1.0', requestContext: { condition: 'RetriesExhausted' }, requestPayload: e }))).toEqual({ event: e });
    expect(eventOfMessage('{"x":1}')).toEqual({ problem: 'neither an EventBridge event nor a Lambda invocation record' });
    expect(eventOfMessage('nope')).toEqual({ problem: 'the body is not JSON' });
  });
});

describe('trailguard redrive', () => {
  it('remediates each dead-lettered event and deletes its message once final', async () => {
    s3.on(GetPublicAccessBlockCommand).rejectsOnce(Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' }))
      .resolves({ PublicAccessBlockConfiguration: ALL_BLOCKED });
    s3.on(PutPublicAccessBlockCommand).resolves({});
    const body = JSON.stringify({ version: '1.0', requestContext: { condition: 'RetriesExhausted' }, requestPayload: event() });

    const { exit, records, err } = await redriven([{ MessageId: 'm-1', ReceiptHandle: 'rh-1', Body: body }]);

    expect(exit).toBe(0);
    expect(records).toMatchObject([{ rule: 'public-bucket', outcome: 'remediated' }]);
    expect(sqs).toHaveReceivedCommandWith(DeleteMessageCommand, { QueueUrl: QUEUE, ReceiptHandle: 'rh-1' });
    expect(err).toContain('read 1 messages, deleted 1, left 0');
  });

  it('leaves a message whose event failed transiently, for the next redrive', async () => {
    s3.on(GetPublicAccessBlockCommand).rejects(Object.assign(new Error('slow'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }));

    const { exit, records } = await redriven([{ MessageId: 'm-2', ReceiptHandle: 'rh-2', Body: JSON.stringify(event()) }]);

    expect(exit).toBe(1);
    expect(records).toMatchObject([{ outcome: 'failed', error: { kind: 'transient' } }]);
    expect(sqs).toHaveReceivedCommandTimes(DeleteMessageCommand, 0);
    expect(sqs).toHaveReceivedCommandTimes(ReceiveMessageCommand, 2);
  });

  it('leaves unreadable messages and says so, and dry-run deletes nothing', async () => {
    s3.on(GetPublicAccessBlockCommand).rejects(Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' }));
    s3.on(PutPublicAccessBlockCommand).rejects(new Error('dry-run must not write'));
    const { exit, records, err } = await redriven([
      { MessageId: 'm-3', ReceiptHandle: 'rh-3', Body: 'garbage' },
      { MessageId: 'm-4', ReceiptHandle: 'rh-4', Body: JSON.stringify(event()) },
    ], 'dry-run');

    expect(exit).toBe(2);
    expect(err).toContain('message m-3: the body is not JSON; left in the queue');
    expect(records).toMatchObject([{ outcome: 'would-remediate' }]);
    expect(sqs).toHaveReceivedCommandTimes(DeleteMessageCommand, 0);
  });
});

describe('trailguard redrive: who is told', () => {
  const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:trailguard-alerts';
  const withTopic = parseConfig({ topicArn: TOPIC });

  it('a dry-run redrive publishes nothing without --notify, and says why in the record', async () => {
    s3.on(GetPublicAccessBlockCommand).rejects(Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' }));

    const { records } = await redriven([{ MessageId: 'm-7', ReceiptHandle: 'rh-7', Body: JSON.stringify(event()) }], 'dry-run', withTopic);

    expect(records).toMatchObject([{ outcome: 'would-remediate', notification: { status: 'skipped', reason: 'a dry-run redrive publishes only with --notify' } }]);
    expect(s3).toHaveReceivedCommand(GetPublicAccessBlockCommand);
    expect(sns.calls()).toEqual([]);
  });

  it('a dry-run redrive with --notify publishes', async () => {
    s3.on(GetPublicAccessBlockCommand).rejects(Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' }));
    sns.on(PublishCommand).resolves({ MessageId: 'msg-7' });

    const { records } = await redriven([{ MessageId: 'm-8', ReceiptHandle: 'rh-8', Body: JSON.stringify(event()) }], 'dry-run', withTopic, true);

    expect(records).toMatchObject([{ outcome: 'would-remediate', notification: { status: 'sent', messageId: 'msg-7' } }]);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, { TopicArn: TOPIC });
  });

  it('a live redrive publishes unasked: the dead letter\'s alert was deferred to a retry that never came', async () => {
    s3.on(GetPublicAccessBlockCommand).rejectsOnce(Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' }))
      .resolves({ PublicAccessBlockConfiguration: ALL_BLOCKED });
    s3.on(PutPublicAccessBlockCommand).resolves({});
    sns.on(PublishCommand).resolves({ MessageId: 'msg-9' });

    const { records } = await redriven([{ MessageId: 'm-9', ReceiptHandle: 'rh-9', Body: JSON.stringify(event()) }], 'live', withTopic);

    expect(records).toMatchObject([{ outcome: 'remediated', notification: { status: 'sent', messageId: 'msg-9' } }]);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, { TopicArn: TOPIC });
  });
});

describe('trailguard redrive: what only a person may drop', () => {
  afterEach(() => ec2.reset());

  it('takes a dead-lettered enforcement check back through the check, not the rules, and deletes it once final', async () => {
    const input = { instanceId: 'i-0123456789abcdef0', region: 'eu-west-1', account: '111122223333', requiredTags: ['Owner'], sourceEventId: 'e-launch-1' };
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: input.instanceId, State: { Name: 'running' }, Tags: [{ Key: 'Owner', Value: 'alice' }] }] }] });
    const body = JSON.stringify({ version: '1.0', requestContext: { condition: 'RetriesExhausted', functionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:trailguard-prod-untaggedInstanceEnforce:$LATEST' }, requestPayload: input });

    const config = parseConfig({ rules: { 'untagged-instance': { enforcement: { enabled: true } } } });
    const { records } = await redriven([{ MessageId: 'm-5', ReceiptHandle: 'rh-5', Body: body }], 'live', config);

    expect(records).toMatchObject([{ rule: 'untagged-instance', trigger: 'schedule', outcome: 'compliant' }]);
    expect(ec2).toHaveReceivedCommandTimes(DescribeInstancesCommand, 1);
    expect(sqs).toHaveReceivedCommandWith(DeleteMessageCommand, { ReceiptHandle: 'rh-5' });
  });

  it('never deletes a dead letter whose event no rule can read: it is the last copy', async () => {
    const broken = { ...event(), detail: { ...(event() as { detail: object }).detail, requestParameters: null } };
    const { records, err } = await redriven([{ MessageId: 'm-6', ReceiptHandle: 'rh-6', Body: JSON.stringify(broken) }]);

    expect(records).toMatchObject([{ rule: 'public-bucket', outcome: 'failed', error: { kind: 'parse' } }]);
    expect(err).toContain('message m-6: no rule could read its event; left in the queue');
    expect(sqs).toHaveReceivedCommandTimes(DeleteMessageCommand, 0);
  });
});

describe('trailguard breaker', () => {
  it('shows an open breaker and resets it', async () => {
    const store = memoryStateStore();
    await store.tripBreaker('open-security-group', Date.parse('2026-11-25T10:00:00Z'), '51 writes in 10 min exceed the limit of 50');
    let out = '';
    await breaker('status', undefined, store, (t) => { out += t; });
    expect(out).toContain('open-security-group: OPEN since 2026-11-25T10:00:00.000Z (51 writes in 10 min exceed the limit of 50)');
    expect(out).toContain('public-bucket: closed');
    expect(await breaker('reset', 'open-security-group', store, () => undefined)).toBe(0);
    expect(await store.breakerState('open-security-group')).toEqual({ open: false });
  });

  it('shows and resets a sweep\'s own breaker, which only remediation rules have', async () => {
    const store = memoryStateStore();
    await store.tripBreaker('public-bucket:sweep', Date.parse('2026-11-25T10:00:00Z'), '51 writes in 10 min exceed the limit of 50');
    let out = '';
    await breaker('status', undefined, store, (t) => { out += t; });
    expect(out).toContain('public-bucket:sweep: OPEN since 2026-11-25T10:00:00.000Z');
    expect(out).toContain('public-bucket: closed');
    expect(out).not.toContain('root-activity:sweep');
    expect(await breaker('reset', 'public-bucket:sweep', store, () => undefined)).toBe(0);
    expect(await store.breakerState('public-bucket:sweep')).toEqual({ open: false });
    expect(await breaker('reset', 'root-activity:sweep', store, () => undefined)).toBe(2);
  });

  it('refuses an unknown rule', async () => {
    expect(await breaker('reset', 'public-buckets', memoryStateStore(), () => undefined)).toBe(2);
  });
});
