import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { GetObjectCommand, GetPublicAccessBlockCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { logFileInWindow, lookupEvents, parseS3Url, ruleEventSources, ruleLookupPlan, ruleLookupUsernames, s3LogEvents } from '../../cli/backtest.js';
import type { InputItem } from '../../cli/inputs.js';
import { main } from '../../cli/main.js';
import { replay } from '../../cli/replay.js';
import { InputProblem } from '../../cli/usage.js';
import { consoleOut } from '../../shared/log.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { loadSample } from '../helpers/samples.js';

const cloudtrail = mockClient(CloudTrailClient);
const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);
const bare = () => (loadSample('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read') as { detail: Record<string, unknown> }).detail;

beforeEach(() => {
  cloudtrail.reset();
  s3.reset();
  sns.reset();
  cloudtrail.rejects(new Error('unexpected CloudTrail call'));
  s3.rejects(new Error('unexpected S3 call'));
  sns.rejects(new Error('unexpected SNS call'));
});
afterEach(() => {
  vi.restoreAllMocks();
  cloudtrail.reset();
  s3.reset();
  sns.reset();
});

async function collect(items: AsyncIterable<InputItem>): Promise<InputItem[]> {
  const all: InputItem[] = [];
  for await (const item of items) all.push(item);
  return all;
}

const lookupItem = (id: string, event: object | string) => ({ EventId: id, CloudTrailEvent: typeof event === 'string' ? event : JSON.stringify(event) });

describe('LookupEvents backtest', () => {
  const window = { startTime: new Date('2026-11-13T00:00:00Z'), endTime: new Date('2026-11-20T00:00:00Z') };

  it('filters by each rule event source and follows NextToken (the pacing: backtest-retries.test.ts)', async () => {
    cloudtrail.on(LookupEventsCommand).callsFake((input: { LookupAttributes?: { AttributeValue?: string }[]; NextToken?: string }) => {
      const source = input.LookupAttributes?.[0]?.AttributeValue;
      if (source === 's3.amazonaws.com' && !input.NextToken) return { Events: [lookupItem('a', bare())], NextToken: 't2' };
      if (source === 's3.amazonaws.com') return { Events: [lookupItem('b', { ...bare(), eventID: 'b' })] };
      return { Events: [] };
    });
    const items = await collect(lookupEvents({ client: new CloudTrailClient({ region: 'eu-west-1' }), ...window, eventSources: ruleEventSources() }));
    expect(ruleEventSources()).toEqual([
      'bedrock.amazonaws.com',
      'cloudtrail.amazonaws.com',
      'config.amazonaws.com',
      'ec2-instance-connect.amazonaws.com',
      'ec2.amazonaws.com',
      'iam.amazonaws.com',
      'kms.amazonaws.com',
      'lambda.amazonaws.com',
      'organizations.amazonaws.com',
      'rds.amazonaws.com',
      'rolesanywhere.amazonaws.com',
      'route53resolver.amazonaws.com',
      's3.amazonaws.com',
      'sagemaker.amazonaws.com',
      'secretsmanager.amazonaws.com',
      'ses.amazonaws.com',
      'signin.amazonaws.com',
      'ssm.amazonaws.com',
      'sts.amazonaws.com',
    ]);
    expect(items.map((i) => i.kind === 'event' && i.source)).toEqual(['lookup:s3.amazonaws.com#a', 'lookup:s3.amazonaws.com#b']);
    const calls = cloudtrail.commandCalls(LookupEventsCommand).map((c) => c.args[0].input);
    // One call per source, in order, plus the s3 page that follows its NextToken.
    const s3 = ruleEventSources().indexOf('s3.amazonaws.com');
    expect(calls).toHaveLength(ruleEventSources().length + 1);
    expect(calls[s3]).toEqual({
      ...{ StartTime: window.startTime, EndTime: window.endTime },
      MaxResults: 50,
      LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: 's3.amazonaws.com' }],
    });
    expect(calls[s3 + 1]).toMatchObject({ NextToken: 't2' });
  });

  it("plans one pass per event name the rules select, so a busy account's Decrypt and Describe calls are never paged", async () => {
    const plan = ruleLookupPlan();
    // Every rule with an event source names its events: no source pass is needed.
    expect(plan.eventSources).toEqual([]);
    expect(plan.eventNames).toEqual(
      expect.arrayContaining(['PutBucketAcl', 'StopLogging', 'RunInstances', 'ScheduleKeyDeletion', 'ConsoleLogin', 'AttachUserPolicy']),
    );
    expect(plan.eventNames).not.toEqual(expect.arrayContaining(['Decrypt']));
    expect(new Set(plan.eventNames).size).toBe(plan.eventNames.length);
    cloudtrail.on(LookupEventsCommand).callsFake((input: { LookupAttributes?: { AttributeKey?: string; AttributeValue?: string }[] }) => {
      const [filter] = input.LookupAttributes ?? [];
      return filter?.AttributeValue === 'StopLogging'
        ? { Events: [lookupItem('stop', { ...bare(), eventID: 'stop', eventName: 'StopLogging' })] }
        : { Events: [] };
    });
    const items = await collect(lookupEvents({ client: new CloudTrailClient({ region: 'eu-west-1' }), ...window, ...plan, usernames: ruleLookupUsernames() }));
    expect(items.map((i) => i.kind === 'event' && i.source)).toEqual(['lookup:StopLogging#stop']);
    const filters = cloudtrail.commandCalls(LookupEventsCommand).map((c) => c.args[0].input.LookupAttributes?.[0]);
    expect(filters).toHaveLength(plan.eventNames.length + 1);
    expect(filters.filter((f) => f?.AttributeKey === 'EventName').map((f) => f?.AttributeValue)).toEqual(plan.eventNames);
  });

  it('adds a root pass for the root-activity rule, and replays an event found by two passes once', async () => {
    cloudtrail.on(LookupEventsCommand).callsFake((input: { LookupAttributes?: { AttributeKey?: string; AttributeValue?: string }[] }) => {
      const [filter] = input.LookupAttributes ?? [];
      if (filter?.AttributeValue === 's3.amazonaws.com') return { Events: [lookupItem('root-s3', { ...bare(), eventID: 'root-s3' })] };
      if (filter?.AttributeKey === 'Username')
        return {
          Events: [
            lookupItem('root-s3', { ...bare(), eventID: 'root-s3' }),
            lookupItem('root-lambda', { ...bare(), eventID: 'root-lambda', eventSource: 'lambda.amazonaws.com' }),
          ],
        };
      return { Events: [] };
    });
    expect(ruleLookupUsernames()).toEqual(['root']);

    const items = await collect(
      lookupEvents({ client: new CloudTrailClient({ region: 'eu-west-1' }), ...window, eventSources: ruleEventSources(), usernames: ruleLookupUsernames() }),
    );

    expect(items.map((i) => i.kind === 'event' && i.source)).toEqual(['lookup:s3.amazonaws.com#root-s3', 'lookup:user root#root-lambda']);
    const last = cloudtrail.commandCalls(LookupEventsCommand).at(-1)?.args[0].input;
    expect(last?.LookupAttributes).toEqual([{ AttributeKey: 'Username', AttributeValue: 'root' }]);
  });

  it("rethrows a failed call naming it and the service code (the SDK's retries: backtest-retries.test.ts)", async () => {
    cloudtrail.on(LookupEventsCommand).rejects(
      Object.assign(new Error('User: arn:aws:iam::111122223333:user/alice is not authorized to perform: cloudtrail:LookupEvents'), {
        name: 'AccessDeniedException',
      }),
    );
    await expect(collect(lookupEvents({ client: new CloudTrailClient({ region: 'eu-west-1' }), ...window, eventSources: undefined }))).rejects.toThrow(
      new InputProblem(
        'LookupEvents failed: AccessDeniedException: User: arn:aws:iam::111122223333:user/alice is not authorized to perform: cloudtrail:LookupEvents',
      ),
    );
    expect(cloudtrail).toHaveReceivedCommandTimes(LookupEventsCommand, 1);
  });

  it('reports an unparsable CloudTrailEvent as an error item', async () => {
    cloudtrail.on(LookupEventsCommand).resolves({ Events: [lookupItem('bad', '{nope')] });
    const items = await collect(lookupEvents({ client: new CloudTrailClient({ region: 'eu-west-1' }), ...window, eventSources: undefined }));
    expect(items).toEqual([expect.objectContaining({ kind: 'error', source: 'lookup#bad' })]);
  });

  it('runs through replay like files, with progress only on a TTY', async () => {
    cloudtrail.on(LookupEventsCommand).resolves({ Events: [lookupItem('a', bare())] });
    let out = '';
    let progress = '';
    const exit = await replay({
      mode: 'offline',
      format: 'jsonl',
      configFile: undefined,
      inputs: [],
      env: {},
      events: lookupEvents({ client: new CloudTrailClient({ region: 'eu-west-1' }), ...window, eventSources: undefined }),
      out: (t) => {
        out += t;
      },
      err: () => undefined,
      progress: {
        isTTY: true,
        write: (t: string) => {
          progress += t;
          return true;
        },
      },
    });
    const records = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as RemediationRecord);
    expect(exit).toBe(0);
    expect(records).toMatchObject([{ rule: 'public-bucket', outcome: 'would-remediate', mode: 'offline' }]);
    expect(progress).toContain('trailguard replay: 1 records read, 1 events matched');
  });

  it('publishes nothing in a dry-run with the alert topic configured, unless --notify', async () => {
    const deleted = loadSample('public-bucket', 'would-remediate.delete-public-access-block') as { detail?: Record<string, unknown> };
    cloudtrail.on(LookupEventsCommand).resolves({ Events: [lookupItem('d', deleted.detail ?? deleted)] });
    s3.on(GetPublicAccessBlockCommand).rejects(Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' }));
    let out = '';
    const exit = await replay({
      mode: 'dry-run',
      format: 'jsonl',
      configFile: undefined,
      inputs: [],
      env: { TRAILGUARD_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111122223333:trailguard-alerts' },
      events: lookupEvents({ client: new CloudTrailClient({ region: 'eu-west-1' }), ...window, eventSources: undefined }),
      out: (t) => {
        out += t;
      },
      err: () => undefined,
      progress: { isTTY: false, write: () => true },
    });
    const records = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as RemediationRecord);
    expect(exit).toBe(0);
    expect(records).toMatchObject([
      {
        rule: 'public-bucket',
        outcome: 'would-remediate',
        mode: 'dry-run',
        notification: { status: 'skipped', reason: 'replay publishes only with --notify' },
      },
    ]);
    expect(s3).toHaveReceivedCommand(GetPublicAccessBlockCommand);
    expect(sns.calls()).toEqual([]);
  });
});

describe('S3 log files backtest', () => {
  const since = Date.parse('2026-11-19T12:00:00Z');
  const until = Date.parse('2026-11-21T00:00:00Z');
  const key = (day: string, region = 'eu-west-1', name = `111122223333_CloudTrail_${region}_x.json.gz`) =>
    `trail/AWSLogs/111122223333/CloudTrail/${region}/2026/11/${day}/${name}`;
  // The part of the SDK's stream mixin the reader uses.
  const body = (bytes: Buffer) => ({ Body: { transformToByteArray: async () => new Uint8Array(bytes) } }) as never;

  it('parses s3:// URLs and keeps only log files of the window (digests skipped)', () => {
    expect(parseS3Url('s3://my-trail-bucket/trail/AWSLogs/')).toEqual({ bucket: 'my-trail-bucket', prefix: 'trail/AWSLogs/' });
    expect(parseS3Url('s3://my-trail-bucket')).toEqual({ bucket: 'my-trail-bucket', prefix: '' });
    expect(parseS3Url('https://x')).toBeUndefined();
    expect(logFileInWindow(key('19'), since, until, undefined)).toBe(true);
    expect(logFileInWindow(key('18'), since, until, undefined)).toBe(false);
    expect(logFileInWindow(key('20', 'us-east-1'), since, until, 'eu-west-1')).toBe(false);
    expect(logFileInWindow('trail/AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/11/20/d.json.gz', since, until, undefined)).toBe(false);
    expect(logFileInWindow('AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2026/11/20/f.json.gz', since, until, undefined)).toBe(true);
  });

  it('lists every page, reads and gunzips each file, and keeps the events in the window', async () => {
    const inWindow = { ...bare(), eventTime: '2026-11-20T09:15:00Z' };
    const early = { ...bare(), eventID: 'early', eventTime: '2026-11-19T08:00:00Z' };
    s3.on(ListObjectsV2Command, { ContinuationToken: undefined }).resolves({
      IsTruncated: true,
      NextContinuationToken: 'c2',
      Contents: [{ Key: key('18') }, { Key: key('19') }],
    });
    s3.on(ListObjectsV2Command, { ContinuationToken: 'c2' }).resolves({
      IsTruncated: false,
      Contents: [{ Key: 'trail/AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/11/20/digest.json.gz' }, { Key: key('20') }],
    });
    s3.on(GetObjectCommand, { Key: key('19') }).callsFake(() => body(gzipSync(JSON.stringify({ Records: [early] }))));
    s3.on(GetObjectCommand, { Key: key('20') }).callsFake(() => body(gzipSync(JSON.stringify({ Records: [inWindow] }))));
    const files: string[] = [];
    const items = await collect(
      s3LogEvents({
        client: new S3Client({ region: 'eu-west-1' }),
        bucket: 'my-trail-bucket',
        prefix: 'trail/',
        since,
        until,
        region: undefined,
        onFile: (f) => files.push(f),
      }),
    );
    expect(items).toEqual([{ kind: 'event', source: `s3://my-trail-bucket/${key('20')}#Records[0]`, value: inWindow }]);
    expect(files).toEqual([`s3://my-trail-bucket/${key('19')}`, `s3://my-trail-bucket/${key('20')}`]);
    expect(s3).toHaveReceivedCommandTimes(ListObjectsV2Command, 2);
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Bucket: 'my-trail-bucket', Prefix: 'trail/', ContinuationToken: 'c2' });
    expect(s3).toHaveReceivedCommandTimes(GetObjectCommand, 2); // never the digest nor the day before the window
  });

  it('names a file that cannot be read and goes on', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: key('20') }] });
    s3.on(GetObjectCommand).callsFake(() => body(Buffer.from('not json')));
    const items = await collect(s3LogEvents({ client: new S3Client({ region: 'eu-west-1' }), bucket: 'b-1', prefix: '', since, until, region: undefined }));
    expect(items).toEqual([expect.objectContaining({ kind: 'error', source: `s3://b-1/${key('20')}`, problem: expect.stringContaining('cannot read') })]);
  });
});

describe('trailguard replay --lookup from the command line', () => {
  const ENV = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'example' };
  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(consoleOut, 'stdout').mockImplementation((text) => void out.push(text));
    vi.spyOn(consoleOut, 'stderr').mockImplementation((text) => void err.push(text));
    return { out, err };
  }

  it('refuses a --since beyond the 90 days LookupEvents keeps, pointing to --s3, and calls nothing', async () => {
    const { err } = capture();
    expect(await main(['replay', '--lookup', '--since', '91d', '--format', 'jsonl'], ENV)).toBe(2);
    expect(err.join('')).toContain(
      "--since 91d: LookupEvents keeps only the last 90 days of management events; use --since 90d or less, or read the trail's log files with --s3",
    );
    expect(cloudtrail.calls()).toEqual([]);
  });

  it('reads 90 days exactly (the call is made), and an --s3 backtest of older days is not limited', async () => {
    const { err } = capture();
    cloudtrail.on(LookupEventsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    s3.on(ListObjectsV2Command).resolves({ Contents: [] });
    expect(await main(['replay', '--lookup', '--since', '90d', '--format', 'jsonl'], ENV)).toBe(2);
    expect(err.join('')).toContain('LookupEvents failed: AccessDeniedException');
    expect(cloudtrail).toHaveReceivedCommand(LookupEventsCommand);
    expect(await main(['replay', '--s3', 's3://example-trail-logs/AWSLogs', '--since', '400d', '--format', 'jsonl'], ENV)).toBe(0);
    expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, { Bucket: 'example-trail-logs' });
  });

  it('names the call when LookupEvents is refused, with exit 2 and no stack trace', async () => {
    const { err } = capture();
    cloudtrail
      .on(LookupEventsCommand)
      .rejects(Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredTokenException' }));
    expect(await main(['replay', '--lookup', '--since', '1d', '--format', 'jsonl'], ENV)).toBe(2);
    expect(err.join('')).toBe('trailguard: LookupEvents failed: ExpiredTokenException: The security token included in the request is expired\n');
  });
});
