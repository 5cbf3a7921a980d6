import { GetPublicAccessBlockCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { ChangeMessageVisibilityBatchCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { breaker } from '../../cli/breaker.js';
import { plainTerminal } from '../../cli/output.js';
import { RULES } from '../../functions/rules.js';
import { eventOfMessage, redrive } from '../../cli/redrive.js';
import { parseConfig } from '../../shared/config.js';
import { wrapRecord } from '../../shared/events/schema.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { ALL_BLOCKED } from '../../shared/s3/public-access.js';
import { memoryStateStore, type StateStore } from '../../shared/state/store.js';
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

async function redriven(
  messages: { MessageId: string; ReceiptHandle: string; Body: string }[],
  mode: 'live' | 'dry-run' = 'live',
  config = parseConfig({}),
  notify = false,
) {
  sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: messages }).resolves({ Messages: [] });
  sqs.on(DeleteMessageCommand).resolves({});
  sqs.on(ChangeMessageVisibilityBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({ Successful: input.Entries.map((e) => ({ Id: e.Id })) }));
  let out = '';
  let err = '';
  const exit = await redrive({
    queueUrl: QUEUE,
    mode,
    format: 'jsonl',
    max: 100,
    config,
    notify,
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  });
  const records = out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as RemediationRecord);
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
    s3.on(GetPublicAccessBlockCommand)
      .rejectsOnce(Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' }))
      .resolves({ PublicAccessBlockConfiguration: ALL_BLOCKED });
    s3.on(PutPublicAccessBlockCommand).resolves({});
    const body = JSON.stringify({ version: '1.0', requestContext: { condition: 'RetriesExhausted' }, requestPayload: event() });

    const { exit, records, err } = await redriven([{ MessageId: 'm-1', ReceiptHandle: 'rh-1', Body: body }]);

    expect(exit).toBe(0);
    expect(records).toMatchObject([{ rule: 'public-bucket', outcome: 'remediated' }]);
    expect(sqs).toHaveReceivedCommandWith(DeleteMessageCommand, { QueueUrl: QUEUE, ReceiptHandle: 'rh-1' });
    expect(err).toContain('read 1 message, deleted 1, left 0 in the queue\n');
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
    const { exit, records, err } = await redriven(
      [
        { MessageId: 'm-3', ReceiptHandle: 'rh-3', Body: 'garbage' },
        { MessageId: 'm-4', ReceiptHandle: 'rh-4', Body: JSON.stringify(event()) },
      ],
      'dry-run',
    );

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

    expect(records).toMatchObject([
      { outcome: 'would-remediate', notification: { status: 'skipped', reason: 'a dry-run redrive publishes only with --notify' } },
    ]);
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

  it("a live redrive publishes unasked: the dead letter's alert was deferred to a retry that never came", async () => {
    s3.on(GetPublicAccessBlockCommand)
      .rejectsOnce(Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' }))
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
    ec2
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [{ InstanceId: input.instanceId, State: { Name: 'running' }, Tags: [{ Key: 'Owner', Value: 'alice' }] }] }] });
    const body = JSON.stringify({
      version: '1.0',
      requestContext: {
        condition: 'RetriesExhausted',
        functionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:trailguard-prod-untaggedInstanceEnforce:$LATEST',
      },
      requestPayload: input,
    });

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

/**
 * A dead-letter queue as SQS keeps it: a received message stays invisible for its visibility timeout (the clock
 * never advances here, so only a visibility change shows it again) and gets a new receipt handle each time.
 */
function fakeQueue(bodies: readonly string[]) {
  const messages = bodies.map((Body, i) => ({ MessageId: `m-${i + 1}`, Body, invisibleForMs: 0, handle: '' }));
  let receipts = 0;
  sqs.on(ReceiveMessageCommand).callsFake((input: { MaxNumberOfMessages?: number; VisibilityTimeout?: number }) => {
    const visible = messages.filter((m) => m.invisibleForMs === 0).slice(0, input.MaxNumberOfMessages ?? 1);
    for (const m of visible) {
      receipts += 1;
      m.invisibleForMs = (input.VisibilityTimeout ?? 30) * 1000;
      m.handle = `rh-${receipts}`;
    }
    return { Messages: visible.map((m) => ({ MessageId: m.MessageId, ReceiptHandle: m.handle, Body: m.Body })) };
  });
  sqs.on(ChangeMessageVisibilityBatchCommand).callsFake((input: { Entries: { Id: string; ReceiptHandle: string; VisibilityTimeout: number }[] }) => {
    for (const entry of input.Entries) {
      const m = messages.find((x) => x.handle === entry.ReceiptHandle);
      if (m) m.invisibleForMs = entry.VisibilityTimeout * 1000;
    }
    return { Successful: input.Entries.map((e) => ({ Id: e.Id })) };
  });
  sqs.on(DeleteMessageCommand).callsFake((input: { ReceiptHandle: string }) => {
    const at = messages.findIndex((m) => m.handle === input.ReceiptHandle);
    if (at >= 0) messages.splice(at, 1);
    return {};
  });
  return messages;
}

describe('a dry-run redrive leaves the queue as it found it', () => {
  const run = async (mode: 'live' | 'dry-run', max = 100) => {
    let out = '';
    let err = '';
    const exit = await redrive({
      queueUrl: QUEUE,
      mode,
      format: 'jsonl',
      max,
      config: parseConfig({}),
      out: (t) => {
        out += t;
      },
      err: (t) => {
        err += t;
      },
    });
    return {
      exit,
      err,
      records: out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as RemediationRecord),
    };
  };

  it('makes every message it read visible again at once, so a live redrive right after finds them', async () => {
    s3.on(GetPublicAccessBlockCommand).resolves({});
    s3.on(PutPublicAccessBlockCommand).resolves({});
    const queue = fakeQueue([JSON.stringify(event()), JSON.stringify({ ...event(), id: 'second-event' })]);

    const dry = await run('dry-run');

    expect(dry.records).toMatchObject([{ outcome: 'would-remediate' }, { outcome: 'would-remediate' }]);
    expect(sqs).toHaveReceivedCommandTimes(DeleteMessageCommand, 0);
    expect(sqs).toHaveReceivedCommandWith(ChangeMessageVisibilityBatchCommand, {
      QueueUrl: QUEUE,
      Entries: [
        { Id: '0', ReceiptHandle: 'rh-1', VisibilityTimeout: 0 },
        { Id: '1', ReceiptHandle: 'rh-2', VisibilityTimeout: 0 },
      ],
    });
    expect(dry.err).toContain('redrive read 2 messages, deleted 0, left 2 in the queue (visible again now)');
    expect(queue.map((m) => m.invisibleForMs)).toEqual([0, 0]);

    // The bucket as S3 keeps it: no block until the first live run puts one; the second event then finds it blocked.
    let blocked = false;
    s3.reset().rejects(new Error('unexpected S3 call'));
    s3.on(GetPublicAccessBlockCommand).callsFake(() =>
      blocked
        ? { PublicAccessBlockConfiguration: ALL_BLOCKED }
        : Promise.reject(Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' })),
    );
    s3.on(PutPublicAccessBlockCommand).callsFake(() => {
      blocked = true;
      return {};
    });
    const live = await run('live');

    expect(live.records).toMatchObject([{ outcome: 'remediated' }, { outcome: 'compliant' }]);
    expect(live.err).toContain('redrive read 2 messages, deleted 2, left 0 in the queue');
    expect(queue).toEqual([]);
  });

  it('claims nothing in the state table, so the live redrive after it does not take its events for duplicates', async () => {
    const db = mockClient(DynamoDBClient).rejects(new Error('unexpected DynamoDB call'));
    s3.on(GetPublicAccessBlockCommand).resolves({});
    fakeQueue([JSON.stringify(event())]);
    let out = '';

    const exit = await redrive({
      queueUrl: QUEUE,
      mode: 'dry-run',
      format: 'jsonl',
      max: 10,
      config: parseConfig({ stateTable: 'trailguard-state' }),
      out: (t) => {
        out += t;
      },
      err: () => undefined,
    });

    expect(exit).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ outcome: 'would-remediate', mode: 'dry-run' });
    expect(db.calls()).toEqual([]);
    db.restore();
  });

  it('releases what it read even when the run ends in an error', async () => {
    s3.on(GetPublicAccessBlockCommand).resolves({});
    const queue = fakeQueue([JSON.stringify(event()), JSON.stringify({ ...event(), id: 'second-event' })]);
    let receives = 0;
    sqs.on(ReceiveMessageCommand).callsFake((input: { MaxNumberOfMessages?: number; VisibilityTimeout?: number }) => {
      receives += 1;
      if (receives > 1) throw Object.assign(new Error('the queue went away'), { name: 'QueueDoesNotExist' });
      const first = queue[0]!;
      first.invisibleForMs = (input.VisibilityTimeout ?? 30) * 1000;
      first.handle = 'rh-only';
      return { Messages: [{ MessageId: first.MessageId, ReceiptHandle: first.handle, Body: first.Body }] };
    });

    await expect(run('dry-run')).rejects.toThrow('the queue went away');

    expect(sqs).toHaveReceivedCommandWith(ChangeMessageVisibilityBatchCommand, {
      QueueUrl: QUEUE,
      Entries: [{ Id: '0', ReceiptHandle: 'rh-only', VisibilityTimeout: 0 }],
    });
    expect(queue.map((m) => m.invisibleForMs)).toEqual([0, 0]);
  });

  it('goes on past a batch of messages it has already read: only an empty answer ends the run', async () => {
    s3.on(GetPublicAccessBlockCommand).resolves({});
    const queue = fakeQueue([JSON.stringify(event()), JSON.stringify({ ...event(), id: 'second-event' })]);
    // The first message comes back once (a long run outlasted its invisibility) before the second is read.
    const answers = [[queue[0]!], [queue[0]!], [queue[1]!], []];
    sqs.on(ReceiveMessageCommand).callsFake(() => {
      const batch = answers.shift() ?? [];
      return { Messages: batch.map((m, i) => ({ MessageId: m.MessageId, ReceiptHandle: `rh-${answers.length}-${i}`, Body: m.Body })) };
    });

    const dry = await run('dry-run');

    expect(dry.records.map((r) => r.eventId)).toHaveLength(2);
    expect(dry.err).toContain('redrive read 2 messages');
  });

  it('reads each message once in a run, and releases them ten to a call', async () => {
    s3.on(GetPublicAccessBlockCommand).resolves({});
    const withId = (i: number) => {
      const e = event() as { detail: object };
      return { ...e, detail: { ...e.detail, eventID: `0b5e4a2c-0000-4000-8000-0000000000${String(i).padStart(2, '0')}` } };
    };
    fakeQueue(Array.from({ length: 12 }, (_, i) => JSON.stringify(withId(i))));

    const dry = await run('dry-run');

    expect(dry.records).toHaveLength(12);
    expect(new Set(dry.records.map((r) => r.eventId)).size).toBe(12);
    expect(sqs).toHaveReceivedCommandTimes(ChangeMessageVisibilityBatchCommand, 2);
    expect(dry.err).toContain('redrive read 12 messages, deleted 0, left 12 in the queue (visible again now)');
  });

  it('says when a message could not be made visible again', async () => {
    s3.on(GetPublicAccessBlockCommand).resolves({});
    fakeQueue([JSON.stringify(event())]);
    sqs.on(ChangeMessageVisibilityBatchCommand).resolves({ Successful: [], Failed: [{ Id: '0', Code: 'ReceiptHandleIsInvalid', SenderFault: true }] });

    const dry = await run('dry-run');

    expect(dry.records).toHaveLength(1);
    expect(dry.err).toContain('could not make a message visible again (ReceiptHandleIsInvalid): it reappears after 2 minutes');
    expect(dry.err).toContain('left 1 in the queue (0 visible again now, the rest after 2 minutes)');
  });
});

describe('trailguard breaker', () => {
  const LIMITS = { maxWrites: 50, windowMinutes: 10 };
  const NOW = Date.parse('2026-11-25T10:04:00Z');
  const WINDOW = Date.parse('2026-11-25T10:00:00Z');
  const status = async (store: StateStore, rule?: string) => {
    let out = '';
    const exit = await breaker('status', rule, {
      store,
      limits: LIMITS,
      terminal: plainTerminal((t) => {
        out += t;
      }),
      now: () => NOW,
    });
    return { exit, out };
  };

  it('shows an open breaker and resets it', async () => {
    const store = memoryStateStore();
    await store.tripBreaker('open-security-group', Date.parse('2026-11-25T10:00:00Z'), '51 writes in 10 min exceed the limit of 50');
    const { out } = await status(store);
    expect(out).toMatch(
      /^open-security-group +OPEN +0 of 50\n {4}open since 2026-11-25T10:00:00.000Z \(51 writes in 10 min exceed the limit of 50\): the rule reports only/m,
    );
    expect(out).toMatch(/^public-bucket +closed +0 of 50$/m);
    expect(await breaker('reset', 'open-security-group', { store, limits: LIMITS, terminal: plainTerminal(() => undefined) })).toBe(0);
    expect(await store.breakerState('open-security-group')).toEqual({ open: false });
  });

  it('lists only the rules that write, and their sweeps, each with its writes in the current window and the limit', async () => {
    const store = memoryStateStore();
    await store.addToWindow('writes#public-bucket', WINDOW, 7, WINDOW + 1_200_000);
    await store.addToWindow('writes#public-bucket', WINDOW - 600_000, 40, WINDOW + 600_000); // the previous window: not counted
    await store.addToWindow('writes#untagged-instance:sweep', WINDOW, 2, WINDOW + 1_200_000);

    const { exit, out } = await status(store);

    expect(exit).toBe(0);
    const listed = out
      .split('\n')
      .filter((line) => /^[a-z-]+(:sweep)? +(closed|OPEN)/.test(line))
      .map((line) => line.split(' ')[0]);
    const writing = RULES.filter((rule) => rule.actions.length > 0).map((rule) => rule.id);
    expect(listed.filter((id) => !id?.endsWith(':sweep'))).toEqual(writing);
    expect(listed).toContain('public-bucket:sweep');
    expect(listed).not.toContain('root-activity');
    expect(out).toMatch(/^BREAKER +STATE +WRITES IN THIS 10-MIN WINDOW$/m);
    expect(out).toMatch(/^public-bucket +closed +7 of 50$/m);
    expect(out).toMatch(/^untagged-instance:sweep +closed +2 of 50$/m);
    expect(out).toMatch(/^open-security-group +closed +0 of 50$/m);
  });

  it('reads the write counter without adding to it', async () => {
    const store = memoryStateStore();
    await store.addToWindow('writes#public-bucket', WINDOW, 3, WINDOW + 1_200_000);
    await status(store, 'public-bucket');
    const { out } = await status(store, 'public-bucket');
    expect(out).toMatch(/^public-bucket +closed +3 of 50$/m);
    expect(out.match(/^public-bucket/gm)).toHaveLength(1);
  });

  it("shows and resets a sweep's own breaker, which only remediation rules have", async () => {
    const store = memoryStateStore();
    await store.tripBreaker('public-bucket:sweep', Date.parse('2026-11-25T10:00:00Z'), '51 writes in 10 min exceed the limit of 50');
    const { out } = await status(store);
    expect(out).toMatch(/^public-bucket:sweep +OPEN /m);
    expect(out).toContain('open since 2026-11-25T10:00:00.000Z');
    expect(out).toMatch(/^public-bucket +closed/m);
    expect(out).not.toContain('root-activity:sweep');
    const quiet = { store, limits: LIMITS, terminal: plainTerminal(() => undefined), err: () => undefined };
    expect(await breaker('reset', 'public-bucket:sweep', quiet)).toBe(0);
    expect(await store.breakerState('public-bucket:sweep')).toEqual({ open: false });
    expect(await breaker('reset', 'root-activity:sweep', quiet)).toBe(2);
  });

  it('refuses an unknown rule with a guess, and a notify-only rule saying it has no breaker', async () => {
    let err = '';
    const options = {
      store: memoryStateStore(),
      limits: LIMITS,
      terminal: plainTerminal(() => undefined),
      err: (t: string) => {
        err += t;
      },
    };
    expect(await breaker('reset', 'public-buckets', options)).toBe(2);
    expect(err).toContain('unknown rule "public-buckets" (did you mean public-bucket?)');
    expect(await breaker('status', 'root-activity', options)).toBe(2);
    expect(err).toContain('root-activity only notifies and writes nothing, so it has no circuit breaker');
  });
});
