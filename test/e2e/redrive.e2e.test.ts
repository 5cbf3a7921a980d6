import { CreateBucketCommand, GetPublicAccessBlockCommand, PutBucketAclCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { aws, createQueue, REGION } from './helpers/emulator.js';
import { sampleEvent } from './helpers/events.js';
import { freshStackPerTest } from './helpers/stack.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BUCKET = 'example-e2e-dead-letter';
const stack = freshStackPerTest();

/** `trailguard redrive --format jsonl …` as a process, with the deployed stack's state table. */
function redriveCli(args: readonly string[], stateTable: string): Promise<{ exit: number; records: RemediationRecord[]; stderr: string }> {
  const env = { ...process.env, TRAILGUARD_STATE_TABLE: stateTable, AWS_REGION: REGION };
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [join(ROOT, 'bin', 'trailguard.mjs'), 'redrive', '--format', 'jsonl', ...args],
      { cwd: ROOT, env, timeout: 25_000 },
      (error, stdout, stderr) => {
        if (error?.killed) return reject(new Error('trailguard redrive ran over 25 s: killed'));
        const exit = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({
          exit,
          records: stdout
            .split('\n')
            .filter(Boolean)
            .map((line) => JSON.parse(line) as RemediationRecord),
          stderr,
        });
      },
    );
  });
}

async function queueCounts(url: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes } = await aws.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return { visible: Number(Attributes?.ApproximateNumberOfMessages), inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible) };
}

describe('trailguard redrive against the emulator', () => {
  it('a dry-run leaves the dead letter visible, and a live redrive right after remediates it and deletes it', async () => {
    await aws.s3.send(
      new CreateBucketCommand({ Bucket: BUCKET, ...(REGION === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: REGION as never } }) }),
    );
    await aws.s3.send(new PutBucketAclCommand({ Bucket: BUCKET, ACL: 'public-read' }));
    const event = sampleEvent('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read', {
      requestParameters: { bucketName: BUCKET, 'x-amz-acl': ['public-read'], host: [`${BUCKET}.s3.${REGION}.amazonaws.com`], acl: [''] },
    });
    const dlq = await createQueue('trailguard-e2e-dlq');
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: dlq.url, MessageBody: JSON.stringify(event) }));
    const { stateTable } = stack.env('live');
    if (!stateTable) throw new Error('the fresh stack has no state table');

    const dry = await redriveCli(['--mode', 'dry-run', '--queue', dlq.url], stateTable);

    expect(dry.exit).toBe(0);
    expect(dry.records).toMatchObject([{ rule: 'public-bucket', outcome: 'would-remediate', mode: 'dry-run' }]);
    expect(dry.stderr).toContain('redrive read 1 message, deleted 0, left 1 in the queue (visible again now)');
    expect(await queueCounts(dlq.url)).toEqual({ visible: 1, inFlight: 0 });

    const live = await redriveCli(['--queue', dlq.url], stateTable);

    expect(live.exit).toBe(0);
    expect(live.records).toMatchObject([{ rule: 'public-bucket', outcome: 'remediated', mode: 'live' }]);
    expect(live.stderr).toContain('redrive read 1 message, deleted 1, left 0 in the queue');
    expect(await queueCounts(dlq.url)).toEqual({ visible: 0, inFlight: 0 });
    const block = await aws.s3.send(new GetPublicAccessBlockCommand({ Bucket: BUCKET }));
    expect(block.PublicAccessBlockConfiguration).toMatchObject({ BlockPublicAcls: true, IgnorePublicAcls: true });
  });
});
