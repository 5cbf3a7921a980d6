import { GetPublicAccessBlockCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { replay, type ReplayOptions } from '../../cli/replay.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { EVENTS_DIR, loadSample, sampleNames } from '../helpers/samples.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CONFIG = join(ROOT, 'config', 'replay.sample.json');
const PUBLIC = join(EVENTS_DIR, 'public-bucket');
let dir: string;

const envelope = () => loadSample('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read') as { detail: Record<string, unknown> };
const bare = () => envelope().detail;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trailguard-cli-'));
});

async function replayed(inputs: string[], options: Partial<ReplayOptions> = {}) {
  let out = '';
  let err = '';
  const exit = await replay({
    mode: 'offline', format: 'jsonl', configFile: CONFIG, inputs, env: {},
    out: (text) => { out += text; }, err: (text) => { err += text; }, ...options,
  });
  const jsonl = (options.format ?? 'jsonl') === 'jsonl';
  const records = jsonl ? out.split('\n').filter(Boolean).map((line) => JSON.parse(line) as RemediationRecord) : [];
  return { exit, records, out, err };
}

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

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
    expect(records.map((r) => [r.rule, r.outcome])).toEqual([['public-bucket', 'would-remediate'], [null, 'ignored']]);
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
    // The one other rule that matches: the root user's CreateBucket is root activity, whatever the bucket.
    expect(records.filter((r) => r.rule !== 'public-bucket').map((r) => [r.rule, r.outcome, r.eventName])).toEqual([['root-activity', 'alerted', 'CreateBucket']]);
  });

  it('skips a CloudTrail digest file with a note', async () => {
    const { exit, records, err } = await replayed([file('digest.json', JSON.stringify({ awsAccountId: '111122223333', digestS3Object: 'x', logFiles: [] }))]);
    expect(exit).toBe(0);
    expect(records).toEqual([]);
    expect(err).toContain('skipped (CloudTrail digest file, not events)');
  });

  it('prints a readable table with a summary in text format', async () => {
    const { out } = await replayed([PUBLIC], { format: 'text' });
    expect(out.split('\n')[0]).toMatch(/^OUTCOME\s+RULE\s+EVENT\s+RESOURCE\s+REASON$/);
    expect(out).toMatch(/\n19 events: 9 would-remediate, 6 compliant, 1 exempt, 2 ignored, 1 alerted\n$/);
  });
});

describe('trailguard replay exit codes', () => {
  const s3 = mockClient(S3Client);
  afterEach(() => s3.reset());

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
    s3.rejects(new Error('unexpected S3 call'));
    s3.on(GetPublicAccessBlockCommand).rejects(Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' }));
    s3.on(PutPublicAccessBlockCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    const path = file('delete-bpa.json', JSON.stringify(loadSample('public-bucket', 'would-remediate.delete-public-access-block')));
    const { exit, records } = await replayed([path], { mode: 'live' });
    expect(exit).toBe(1);
    expect(records).toMatchObject([{ outcome: 'failed', notification: { status: 'skipped', reason: 'no SNS topic configured' } }]);
  });
});

describe('the trailguard command', () => {
  const run = promisify(execFile);
  const bin = join(ROOT, 'bin', 'trailguard.mjs');
  const exec = (args: string[]) => run(process.execPath, [bin, ...args], { cwd: ROOT, env: { ...process.env, AWS_ENDPOINT_URL: '' } })
    .then(({ stdout, stderr }) => ({ code: 0, stdout, stderr }))
    .catch((error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }));

  it('replays the bundled samples and exits 0', async () => {
    const { code, stdout } = await exec(['replay', '--config', CONFIG, '--format', 'jsonl', PUBLIC]);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(sampleNames('public-bucket').length + 1); // + root-activity on the root's CreateBucket
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
    expect(stdout).toContain('trailguard replay [--mode offline|dry-run|live]');
    expect(stdout).toContain('trailguard redrive --queue URL');
  });
});

// Keep the fixture reader honest: the samples on disk are what the tests replay.
it('loads samples from the events folder', () => {
  expect(JSON.parse(readFileSync(join(PUBLIC, 'compliant.put-bucket-acl-canned-private.json'), 'utf8')).eventName).toBe('PutBucketAcl');
});
