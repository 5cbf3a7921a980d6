import { GetPublicAccessBlockCommand, ListBucketsCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { consoleOut } from '../../shared/log.js';

const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);
const TOPIC = 'arn:aws:sns:eu-west-1:111122223333:trailguard-alerts';
const ENV = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'example' };

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(consoleOut, 'stdout').mockImplementation((text) => void out.push(text));
  vi.spyOn(consoleOut, 'stderr').mockImplementation((text) => void err.push(text));
  return { out, err };
}

beforeEach(() => {
  s3.reset();
  sns.reset();
  s3.rejects(new Error('unexpected S3 call'));
  sns.rejects(new Error('unexpected SNS call'));
});
afterEach(() => {
  s3.reset();
  sns.reset();
  vi.restoreAllMocks();
});

describe('trailguard sweep', () => {
  it('refuses offline, which cannot read the current state, with exit 2', async () => {
    const { err } = capture();
    expect(await main(['sweep', '--mode', 'offline'], ENV)).toBe(2);
    expect(err.join('')).toContain('offline never does');
    expect(s3.calls()).toEqual([]);
  });

  it('refuses live without the state table (no circuit breaker), with exit 2', async () => {
    const { err } = capture();
    expect(await main(['sweep', '--mode', 'live', '--rule', 'public-bucket'], ENV)).toBe(2);
    expect(err.join('')).toContain('circuit breaker');
    expect(s3.calls()).toEqual([]);
  });

  it('refuses a live redrive without the state table too: it would bypass the breaker and re-act on handled events', async () => {
    const { err } = capture();
    expect(await main(['redrive', '--mode', 'live', '--queue', 'https://sqs.eu-west-1.amazonaws.com/111122223333/trailguard-prod-dlq'], ENV)).toBe(2);
    expect(err.join('')).toContain('a live redrive needs the state table');
    expect(s3.calls()).toEqual([]);
  });

  it('sweeps in dry-run by default and prints each finding as a JSON line with trigger sweep', async () => {
    const { out, err } = capture();
    s3.on(ListBucketsCommand).resolves({ Buckets: [{ Name: 'example-open' }] });
    s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: { BlockPublicAcls: true } });

    const code = await main(['sweep', '--rule', 'public-bucket', '--account', '111122223333', '--format', 'jsonl'], ENV);

    expect(code).toBe(0);
    expect(s3).toHaveReceivedCommandWith(ListBucketsCommand, { BucketRegion: 'eu-west-1' });
    expect(s3).not.toHaveReceivedCommand(PutPublicAccessBlockCommand);
    const records = out
      .join('')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(records).toEqual([expect.objectContaining({ rule: 'public-bucket', trigger: 'sweep', mode: 'dry-run', outcome: 'would-remediate' })]);
    expect(err.join('')).toContain('sweep public-bucket in eu-west-1 (dry-run): 1 scanned, 1 finding (');
  });

  it('a dry-run sweep leaves the state table alone, configured or not', async () => {
    const { out } = capture();
    const db = mockClient(DynamoDBClient).rejects(new Error('unexpected DynamoDB call'));
    s3.on(ListBucketsCommand).resolves({ Buckets: [{ Name: 'example-open' }] });
    s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: { BlockPublicAcls: true } });

    const code = await main(['sweep', '--rule', 'public-bucket', '--account', '111122223333', '--format', 'jsonl'], {
      ...ENV,
      TRAILGUARD_STATE_TABLE: 'trailguard-state',
    });

    expect(code).toBe(0);
    expect(JSON.parse(out.join(''))).toMatchObject({ trigger: 'sweep', mode: 'dry-run', outcome: 'would-remediate' });
    expect(db.calls()).toEqual([]);
    db.restore();
  });

  it('a dry-run sweep publishes nothing with the alert topic configured, unless --notify', async () => {
    const { out } = capture();
    s3.on(ListBucketsCommand).resolves({ Buckets: [{ Name: 'example-open' }] });
    s3.on(GetPublicAccessBlockCommand).resolves({ PublicAccessBlockConfiguration: { BlockPublicAcls: true } });
    sns.on(PublishCommand).resolves({ MessageId: 'msg-1' });
    const env = { ...ENV, TRAILGUARD_TOPIC_ARN: TOPIC };
    const args = ['sweep', '--rule', 'public-bucket', '--account', '111122223333', '--format', 'jsonl'];

    expect(await main(args, env)).toBe(0);
    expect(sns.calls()).toEqual([]);
    expect(await main([...args, '--notify'], env)).toBe(0);

    const records = out
      .join('')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(records).toEqual([
      expect.objectContaining({ outcome: 'would-remediate', notification: { status: 'skipped', reason: 'a dry-run sweep publishes only with --notify' } }),
      expect.objectContaining({ outcome: 'would-remediate', notification: { status: 'sent', messageId: 'msg-1' } }),
    ]);
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, { TopicArn: TOPIC });
  });
});
