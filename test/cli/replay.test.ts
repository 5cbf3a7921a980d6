import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetPublicAccessBlockCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { replay, type ReplayOptions } from '../../cli/replay.js';
import { contentEventId } from '../../shared/events/schema.js';
import { consoleOut } from '../../shared/log.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { ALL_BLOCKED } from '../../shared/s3/public-access.js';
import { EVENTS_DIR, loadSample, sampleNames } from '../helpers/samples.js';

const s3 = mockClient(S3Client);
const db = mockClient(DynamoDBClient);
const sns = mockClient(SNSClient);
const ROOT = join(import.meta.dirname, '..', '..');
const CONFIG = join(ROOT, 'config', 'replay.sample.json');
const PUBLIC = join(EVENTS_DIR, 'public-bucket');
let dir: string;

const envelope = () => loadSample('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read') as { detail: Record<string, unknown> };
const bare = () => envelope().detail;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trailguard-cli-'));
});
// Every client starts rejecting: an AWS call a test did not prepare fails it instead of returning undefined.
beforeEach(() => {
  s3.reset().rejects(new Error('unexpected S3 call'));
  db.reset().rejects(new Error('unexpected DynamoDB call'));
  sns.reset().rejects(new Error('unexpected SNS call'));
});
afterEach(() => {
  s3.reset();
  db.reset();
  sns.reset();
  vi.restoreAllMocks();
});

/** The state table of a deployed stack: claims succeed, the breaker is closed, the write counter is low. */
function stateTableWorks(): void {
  db.on(PutItemCommand).resolves({});
  db.on(GetItemCommand).resolves({});
  db.on(UpdateItemCommand).resolves({ Attributes: { total: { N: '1' } } });
}

async function replayed(inputs: string[], options: Partial<ReplayOptions> = {}) {
  let out = '';
  let err = '';
  const exit = await replay({
    mode: 'offline',
    format: 'jsonl',
    configFile: CONFIG,
    inputs,
    env: {},
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    ...options,
  });
  const jsonl = (options.format ?? 'jsonl') === 'jsonl';
  const records = jsonl
    ? out
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as RemediationRecord)
    : [];
  return { exit, records, out, err };
}

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:trailguard-alerts';
const STATE_TABLE = 'trailguard-test-state';

/** A config file: the samples' config (config/replay.sample.json) with these keys replaced. */
function configFile(name: string, overrides: Record<string, unknown>): string {
  const base = JSON.parse(readFileSync(CONFIG, 'utf8')) as Record<string, unknown>;
  return file(name, JSON.stringify({ ...base, ...overrides }));
}

const noBlock = () => Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' });
const deletedBlock = () => loadSample('public-bucket', 'would-remediate.delete-public-access-block');

describe('trailguard replay inputs', () => {
  it('reads an EventBridge envelope file', async () => {
    const { exit, records } = await replayed([file('envelope.json', JSON.stringify(envelope()))]);
    expect(exit).toBe(0);
    expect(records).toMatchObject([{ rule: 'public-bucket', outcome: 'would-remediate', mode: 'offline', eventName: 'PutBucketAcl' }]);
  });

  it('reads a bare CloudTrail record and wraps it', async () => {
    const { records } = await replayed([file('bare.json', JSON.stringify(bare()))]);
    expect(records).toMatchObject([{ rule: 'public-bucket', outcome: 'would-remediate', account: '111122223333' }]);
  });

  it('reads a CloudTrail log file, gzipped, with every record in it', async () => {
    const other = { ...bare(), eventName: 'AssumeRole', eventSource: 'sts.amazonaws.com' };
    const path = file('111122223333_CloudTrail_eu-west-1_20261120T0915Z_abc.json.gz', gzipSync(JSON.stringify({ Records: [bare(), other] })));
    const { exit, records } = await replayed([path]);
    expect(exit).toBe(0);
    expect(records.map((r) => [r.rule, r.outcome])).toEqual([
      ['public-bucket', 'would-remediate'],
      [null, 'ignored'],
    ]);
  });

  it('reads LookupEvents output, whose events are JSON strings', async () => {
    const path = file('lookup.json', JSON.stringify({ Events: [{ EventId: 'x', CloudTrailEvent: JSON.stringify(bare()) }] }));
    const { records } = await replayed([path]);
    expect(records).toMatchObject([{ outcome: 'would-remediate' }]);
  });

  it('reads JSON lines from a file and from stdin', async () => {
    const lines = `${JSON.stringify(bare())}\n\n${JSON.stringify(envelope())}\n`;
    const fromFile = await replayed([file('events.jsonl', lines)]);
    const fromStdin = await replayed(['-'], { stdin: Readable.from([lines]) });
    expect(fromFile.records).toHaveLength(2);
    expect(fromStdin.records.map((r) => r.outcome)).toEqual(['would-remediate', 'would-remediate']);
  });

  it('reads a folder recursively: every sample, each with the outcome its name states', async () => {
    const { exit, records } = await replayed([PUBLIC]);
    const names = sampleNames('public-bucket');
    expect(exit).toBe(0);
    expect(records.filter((r) => r.rule === 'public-bucket').map((r) => r.outcome)).toEqual(names.map((name) => name.split('.')[0]));
    // The other rules that match: the root user's CreateBucket is root activity, whatever the bucket; a bucket policy is
    // also outside-bucket-policy's (named accounts only: none here); a denied call is denied-calls-burst's (LOW, uncounted).
    expect(records.filter((r) => r.rule !== 'public-bucket').map((r) => [r.rule, r.outcome, r.eventName])).toEqual([
      ['root-activity', 'alerted', 'CreateBucket'],
      ['outside-bucket-policy', 'compliant', 'PutBucketPolicy'],
      ['outside-bucket-policy', 'compliant', 'PutBucketPolicy'],
      ['outside-bucket-policy', 'compliant', 'PutBucketPolicy'],
      ['denied-calls-burst', 'alerted', 'DeleteBucketPublicAccessBlock'],
      ['outside-bucket-policy', 'compliant', 'PutBucketPolicy'],
      ['outside-bucket-policy', 'compliant', 'PutBucketPolicy'],
    ]);
  });

  it('skips a CloudTrail digest file with a note', async () => {
    const { exit, records, err } = await replayed([file('digest.json', JSON.stringify({ awsAccountId: '111122223333', digestS3Object: 'x', logFiles: [] }))]);
    expect(exit).toBe(0);
    expect(records).toEqual([]);
    expect(err).toContain('skipped (CloudTrail digest file, not events)');
  });

  it('prints a readable table with a summary in text format', async () => {
    const { out } = await replayed([PUBLIC], { format: 'text' });
    expect(out.split('\n')[0]).toMatch(/^SEVERITY\s+OUTCOME\s+RULE\s+EVENT\s+RESOURCE\s+REASON \[SOURCE\]$/);
    expect(out).toMatch(/\n18 events, 25 records: 9 would-remediate, 11 compliant, 1 exempt, 2 ignored, 2 alerted\nby severity: 10 HIGH, 1 LOW\n$/);
  });
});

describe('trailguard replay exit codes', () => {
  it('exits 2 naming the file for input that is not JSON, and still replays the rest', async () => {
    const broken = file('broken.json', '{"Records": [');
    const { exit, err, records } = await replayed([broken, file('ok.json', JSON.stringify(bare()))]);
    expect(exit).toBe(2);
    expect(err).toContain(`${broken}: not JSON`);
    expect(records).toHaveLength(1);
  });

  it('exits 2 for a missing file', async () => {
    const { exit, err } = await replayed([join(dir, 'nope.json')]);
    expect(exit).toBe(2);
    expect(err).toContain('nope.json: no such file or folder');
  });

  it('exits 2 for an event the rule cannot read, naming the field', async () => {
    const path = file('no-bucket.json', JSON.stringify({ ...bare(), requestParameters: { acl: [''] } }));
    const { exit, err, records } = await replayed([path]);
    expect(exit).toBe(2);
    expect(err).toContain('detail.requestParameters.bucketName: is missing');
    expect(records).toMatchObject([{ outcome: 'failed', error: { kind: 'parse' } }]);
  });

  it('exits 1 when a live remediation fails', async () => {
    stateTableWorks();
    s3.on(GetPublicAccessBlockCommand).rejects(noBlock());
    s3.on(PutPublicAccessBlockCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    const path = file('delete-bpa.json', JSON.stringify(deletedBlock()));
    const { exit, records } = await replayed([path], { mode: 'live', configFile: configFile('live-no-topic.json', { stateTable: STATE_TABLE }) });
    expect(exit).toBe(1);
    expect(records).toMatchObject([{ outcome: 'failed', notification: { status: 'skipped', reason: 'replay publishes only with --notify' } }]);
  });
});

describe('trailguard replay: a UTF-8 byte order mark before the JSON', () => {
  const BOM = '\uFEFF';

  it('is skipped in a .json file', async () => {
    const { exit, records, err } = await replayed([file('bom.json', `${BOM}${JSON.stringify(envelope())}`)]);
    expect(exit).toBe(0);
    expect(err).toBe('');
    expect(records).toMatchObject([{ rule: 'public-bucket', outcome: 'would-remediate' }]);
  });

  it('is skipped inside a .json.gz log file', async () => {
    const path = file('bom.json.gz', gzipSync(`${BOM}${JSON.stringify({ Records: [bare()] })}`));
    const { exit, records } = await replayed([path]);
    expect(exit).toBe(0);
    expect(records).toMatchObject([{ rule: 'public-bucket', outcome: 'would-remediate' }]);
  });

  it('is skipped on JSON lines, from a file (also each cat-ed part) and from stdin', async () => {
    const lines = `${BOM}${JSON.stringify(bare())}\n${BOM}${JSON.stringify(envelope())}\n`;
    const fromFile = await replayed([file('bom.jsonl', lines)]);
    const fromStdin = await replayed(['-'], { stdin: Readable.from([lines]) });
    expect(fromFile.exit).toBe(0);
    expect(fromFile.records.map((r) => r.outcome)).toEqual(['would-remediate', 'would-remediate']);
    expect(fromStdin.exit).toBe(0);
    expect(fromStdin.records.map((r) => r.outcome)).toEqual(['would-remediate', 'would-remediate']);
  });

  it('is skipped only at the start: a BOM inside a value stays part of it', async () => {
    const { records } = await replayed([file('bom-inside.json', `${BOM}${JSON.stringify({ ...bare(), userAgent: `${BOM}cli` })}`)]);
    expect(records).toMatchObject([{ outcome: 'would-remediate', userAgent: `${BOM}cli` }]);
  });
});

describe('trailguard replay: exemption expiry on the wall clock', () => {
  const exemptUntil = (expires: string) =>
    configFile(`exempt-until-${expires}.json`, {
      exemptions: [{ rule: 'public-bucket', resource: 'example-reports', reason: 'reviewed (ticket SEC-1)', expires }],
    });

  it('no longer exempts with an exemption that expired in 2001, and still does with one to 2999', async () => {
    const event = file('exempt-event.json', JSON.stringify(envelope()));

    const expired = await replayed([event], { configFile: exemptUntil('2001-01-01') });
    const current = await replayed([event], { configFile: exemptUntil('2999-12-31') });

    expect(expired.records).toMatchObject([{ rule: 'public-bucket', outcome: 'would-remediate', exemptions: [] }]);
    expect(current.records).toMatchObject([{ rule: 'public-bucket', outcome: 'exempt', exemptions: [{ resource: 'example-reports', expires: '2999-12-31' }] }]);
  });
});

describe('trailguard replay --mode live: only with the state table', () => {
  it('refuses live without a state table, exit 2 with the reason, before any AWS call', async () => {
    const path = file('live-refused.json', JSON.stringify(deletedBlock()));

    const { exit, err, records } = await replayed([path], { mode: 'live', configFile: configFile('live-no-table.json', { topicArn: TOPIC }) });

    expect(exit).toBe(2);
    expect(err).toContain('a live replay needs the state table, so duplicates are recognised and the circuit breaker caps its writes');
    expect(records).toEqual([]);
    expect(s3.calls()).toEqual([]);
    expect(db.calls()).toEqual([]);
    expect(sns.calls()).toEqual([]);
  });

  it('refuses it from the command line too, naming TRAILGUARD_STATE_TABLE', async () => {
    const err: string[] = [];
    vi.spyOn(consoleOut, 'stderr').mockImplementation((text) => void err.push(text));
    vi.spyOn(consoleOut, 'stdout').mockImplementation(() => undefined);
    const path = file('live-refused-cli.json', JSON.stringify(deletedBlock()));

    const code = await main(['replay', '--mode', 'live', '--config', CONFIG, path], {});

    expect(code).toBe(2);
    expect(err.join('')).toContain('set TRAILGUARD_STATE_TABLE (stack output StateTableName)');
    expect(s3.calls()).toEqual([]);
    expect(db.calls()).toEqual([]);
  });

  it('with the state table, claims the event, counts the write against the breaker, acts and settles the claim', async () => {
    stateTableWorks();
    s3.on(GetPublicAccessBlockCommand).rejectsOnce(noBlock()).resolves({ PublicAccessBlockConfiguration: ALL_BLOCKED });
    s3.on(PutPublicAccessBlockCommand).resolves({});
    const path = file('live-claimed.json', JSON.stringify(deletedBlock()));

    const { exit, records } = await replayed([path], { mode: 'live', configFile: configFile('live-table.json', { stateTable: STATE_TABLE }) });

    expect(exit).toBe(0);
    expect(records).toMatchObject([{ rule: 'public-bucket', outcome: 'remediated' }]);
    const key = 'event#public-bucket#0b5e4a2c-0000-4000-8000-000000000008';
    expect(db).toHaveReceivedCommandWith(UpdateItemCommand, {
      TableName: STATE_TABLE,
      Key: { pk: { S: key } },
      ExpressionAttributeValues: expect.objectContaining({ ':inProgress': { S: 'in-progress' } }),
    });
    expect(db).toHaveReceivedCommandWith(GetItemCommand, { TableName: STATE_TABLE, Key: { pk: { S: 'breaker#public-bucket' } } });
    expect(db).toHaveReceivedCommandWith(UpdateItemCommand, {
      TableName: STATE_TABLE,
      Key: { pk: { S: key } },
      ExpressionAttributeValues: expect.objectContaining({ ':done': { S: 'done' }, ':outcome': { S: 'remediated' } }),
    });
    expect(s3).toHaveReceivedCommandTimes(PutPublicAccessBlockCommand, 1);
  });

  it('ignores a second live replay of an event already handled: a duplicate, no write', async () => {
    db.on(UpdateItemCommand).rejects(
      Object.assign(new Error('The conditional request failed'), {
        name: 'ConditionalCheckFailedException',
        Item: { status: { S: 'done' }, outcome: { S: 'remediated' }, at: { S: '2026-11-25T11:59:00.000Z' } },
      }),
    );
    const path = file('live-duplicate.json', JSON.stringify(deletedBlock()));

    const { exit, records } = await replayed([path], { mode: 'live', configFile: configFile('live-table-dup.json', { stateTable: STATE_TABLE }) });

    expect(exit).toBe(0);
    expect(records).toMatchObject([
      { rule: 'public-bucket', outcome: 'ignored', reason: expect.stringContaining('duplicate delivery of event 0b5e4a2c-0000-4000-8000-000000000008') },
    ]);
    expect(db).toHaveReceivedCommandTimes(UpdateItemCommand, 1);
    expect(s3.calls()).toEqual([]);
  });

  it("writes nothing while the rule's circuit breaker is open", async () => {
    stateTableWorks();
    db.on(GetItemCommand).resolves({
      Item: { pk: { S: 'breaker#public-bucket' }, since: { S: '2026-11-25T10:00:00.000Z' }, reason: { S: '51 writes in 10 min exceed the limit of 50' } },
    });
    s3.on(GetPublicAccessBlockCommand).rejects(noBlock());
    const path = file('live-breaker.json', JSON.stringify(deletedBlock()));

    const { records } = await replayed([path], { mode: 'live', configFile: configFile('live-table-breaker.json', { stateTable: STATE_TABLE }) });

    expect(records).toMatchObject([
      { outcome: 'would-remediate', reason: expect.stringContaining('NOT remediated: the public-bucket circuit breaker is open') },
    ]);
    expect(s3).toHaveReceivedCommand(GetPublicAccessBlockCommand);
    expect(s3).not.toHaveReceivedCommand(PutPublicAccessBlockCommand);
  });
});

describe('trailguard replay publishes only with --notify', () => {
  const withTopic = () => configFile('dry-run-topic.json', { topicArn: TOPIC });

  it('dry-run with a topic and without --notify: no SNS call, and the record says why', async () => {
    s3.on(GetPublicAccessBlockCommand).rejects(noBlock());
    const path = file('dry-run-quiet.json', JSON.stringify(deletedBlock()));

    const { exit, records } = await replayed([path], { mode: 'dry-run', configFile: withTopic() });

    expect(exit).toBe(0);
    expect(records).toMatchObject([{ outcome: 'would-remediate', notification: { status: 'skipped', reason: 'replay publishes only with --notify' } }]);
    expect(s3).toHaveReceivedCommand(GetPublicAccessBlockCommand);
    expect(sns.calls()).toEqual([]);
  });

  it('dry-run with --notify publishes to the topic', async () => {
    s3.on(GetPublicAccessBlockCommand).rejects(noBlock());
    sns.on(PublishCommand).resolves({ MessageId: 'msg-1' });
    const path = file('dry-run-notify.json', JSON.stringify(deletedBlock()));

    const { records } = await replayed([path], { mode: 'dry-run', configFile: withTopic(), notify: true });

    expect(records).toMatchObject([{ outcome: 'would-remediate', notification: { status: 'sent', messageId: 'msg-1' } }]);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, { TopicArn: TOPIC });
  });

  it('live without --notify remediates and publishes nothing', async () => {
    stateTableWorks();
    s3.on(GetPublicAccessBlockCommand).rejectsOnce(noBlock()).resolves({ PublicAccessBlockConfiguration: ALL_BLOCKED });
    s3.on(PutPublicAccessBlockCommand).resolves({});
    const path = file('live-quiet.json', JSON.stringify(deletedBlock()));

    const { records } = await replayed([path], { mode: 'live', configFile: configFile('live-topic.json', { topicArn: TOPIC, stateTable: STATE_TABLE }) });

    expect(records).toMatchObject([{ outcome: 'remediated', notification: { status: 'skipped', reason: 'replay publishes only with --notify' } }]);
    expect(sns.calls()).toEqual([]);
  });

  it("--notify from the command line publishes a dry-run's record", async () => {
    vi.spyOn(consoleOut, 'stderr').mockImplementation(() => undefined);
    const out: string[] = [];
    vi.spyOn(consoleOut, 'stdout').mockImplementation((text) => void out.push(text));
    s3.on(GetPublicAccessBlockCommand).rejects(noBlock());
    sns.on(PublishCommand).resolves({ MessageId: 'msg-2' });
    const path = file('dry-run-notify-cli.json', JSON.stringify(deletedBlock()));

    const code = await main(['replay', '--mode', 'dry-run', '--notify', '--format', 'jsonl', '--config', withTopic(), path], {});

    expect(code).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject({ outcome: 'would-remediate', notification: { status: 'sent', messageId: 'msg-2' } });
    expect(sns).toHaveReceivedCommandWith(PublishCommand, { TopicArn: TOPIC });
  });

  it.each([
    [['replay', '--notify', '--config', CONFIG, 'x.json'], 'offline never calls'],
    [['replay', '--mode', 'dry-run', '--notify', '--config', CONFIG, 'x.json'], '--notify needs the alert topic: set TRAILGUARD_TOPIC_ARN'],
    [['report', '--notify', 'x.jsonl'], 'report has no option --notify: it goes with replay, redrive, sweep'],
  ])('refuses %j with exit 2: %s', async (argv, problem) => {
    const err: string[] = [];
    vi.spyOn(consoleOut, 'stderr').mockImplementation((text) => void err.push(text));

    const code = await main(argv, {});

    expect(code).toBe(2);
    expect(err.join('')).toContain(problem);
    expect(s3.calls()).toEqual([]);
    expect(sns.calls()).toEqual([]);
  });
});

describe('the trailguard command', () => {
  const run = promisify(execFile);
  const bin = join(ROOT, 'bin', 'trailguard.mjs');
  const exec = (args: string[]) =>
    run(process.execPath, [bin, ...args], { cwd: ROOT, env: { ...process.env, AWS_ENDPOINT_URL: '' }, timeout: 15_000 })
      .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }))
      .catch((error: { code: number; killed?: boolean; stdout: string; stderr: string }) => {
        if (error.killed) throw new Error(`trailguard ${args.join(' ')} ran over 15 s: killed`);
        return { code: error.code, stdout: error.stdout, stderr: error.stderr };
      });

  it('replays the bundled samples and exits 0', async () => {
    const { code, stdout } = await exec(['replay', '--config', CONFIG, '--format', 'jsonl', PUBLIC]);
    expect(code).toBe(0);
    // + root-activity on the root's CreateBucket, outside-bucket-policy on the 5 bucket policies, denied-calls-burst on the denied call
    expect(stdout.trim().split('\n')).toHaveLength(sampleNames('public-bucket').length + 7);
  });

  it('exits 2 for a bad mode, naming the choices', async () => {
    const { code, stderr } = await exec(['replay', '--mode', 'yolo', PUBLIC]);
    expect(code).toBe(2);
    expect(stderr).toContain('--mode must be one of offline, dry-run, live');
  });

  it('exits 2 for a config file that breaks the schema', async () => {
    const bad = file('bad-config.json', JSON.stringify({ mode: 'offline', exemptions: [{ resource: 'x' }] }));
    const { code, stderr } = await exec(['replay', '--config', bad, PUBLIC]);
    expect(code).toBe(2);
    expect(stderr).toContain('exemptions.0.reason');
  });

  it('prints usage for --help', async () => {
    const { code, stdout } = await exec(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {2}replay +run CloudTrail events through the rules/m);
    expect(stdout).toMatch(/^ {2}redrive +run the dead-letter queue/m);
  });
});

// Keep the fixture reader honest: the samples on disk are what the tests replay.
it('loads samples from the events folder', () => {
  expect(JSON.parse(readFileSync(join(PUBLIC, 'compliant.put-bucket-acl-canned-private.json'), 'utf8')).eventName).toBe('PutBucketAcl');
});

describe('trailguard replay: large, hostile and slow', () => {
  it('replays one JSON line holding 200,000 items: each an error item, no stack overflow', async () => {
    const path = file('many.jsonl', `[${Array.from({ length: 200_000 }, () => '1').join(',')}]\n`);
    let errors = 0;
    const exit = await replay({
      mode: 'offline',
      format: 'jsonl',
      configFile: CONFIG,
      inputs: [path],
      env: {},
      out: () => undefined,
      err: () => (errors += 1),
    });
    expect(exit).toBe(2);
    expect(errors).toBe(200_000);
  });

  it('gives an id-less event nested 100,000 deep an id (deterministic, by its content) and goes on', async () => {
    const nested = (depth: number, leaf: string) => JSON.parse(`${'{"a":'.repeat(depth)}"${leaf}"${'}'.repeat(depth)}`) as unknown;
    const deep = nested(100_000, 'x');
    expect(contentEventId(deep)).toBe(contentEventId(nested(100_000, 'x')));
    expect(contentEventId(deep)).not.toBe(contentEventId(nested(100_000, 'y')));
    expect(contentEventId(nested(300, 'x'))).not.toBe(contentEventId(nested(300, 'y')));
    const { eventID: _, ...record } = bare();
    const hostile = record;
    // JSON.stringify of it would overflow here: its text is made by hand.
    const text = JSON.stringify({ ...hostile, requestParameters: { ...(hostile.requestParameters as object), x: 'DEEP' } }).replace(
      '"DEEP"',
      `${'{"a":'.repeat(100_000)}"x"${'}'.repeat(100_000)}`,
    );
    const { exit, records } = await replayed([file('deep.jsonl', `${text}\n${JSON.stringify(bare())}\n`)]);
    expect(exit).toBe(0);
    expect(records).toHaveLength(2);
    expect(records[0]?.eventId).toMatch(/^content-sha256-/);
  });

  it('waits for a slow reader of its output: what is written but not yet read stays small', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ ...bare(), eventID: `slow-${i}` })).join('\n');
    let written = 0;
    let pendingMax = 0;
    const slow = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _encoding, done) {
        written += chunk.length;
        pendingMax = Math.max(pendingMax, slow.writableLength);
        setTimeout(done, 2);
      },
    });
    const exit = await replay({
      mode: 'offline',
      format: 'jsonl',
      configFile: CONFIG,
      inputs: [file('slow.jsonl', lines)],
      env: {},
      stdout: slow,
      err: () => undefined,
    });
    await new Promise<void>((resolve) => slow.end(resolve));
    expect(exit).toBe(0);
    expect(written).toBeGreaterThan(2 * 1024 * 1024);
    // Without waiting, all of it would be pending at once; with it, one flush (64 KiB) and a batch's last event.
    expect(pendingMax).toBeLessThan(256 * 1024);
  });

  it('stops quietly, exit 0, when the reader of its output goes away (`| head`: EPIPE)', async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ ...bare(), eventID: `gone-${i}` })).join('\n');
    let writes = 0;
    const gone = new Writable({
      write(_chunk, _encoding, done) {
        writes += 1;
        done(writes > 1 ? Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }) : undefined);
      },
    });
    let err = '';
    const exit = await replay({
      mode: 'offline',
      format: 'jsonl',
      configFile: CONFIG,
      inputs: [file('gone.jsonl', lines)],
      env: {},
      stdout: gone,
      err: (text) => {
        err += text;
      },
    });
    expect(exit).toBe(0);
    expect(err).toBe('');
    expect(writes).toBeLessThan(10);
  });
});
