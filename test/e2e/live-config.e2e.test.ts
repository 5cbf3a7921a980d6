import { randomUUID } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  PutBucketAclCommand,
  PutBucketOwnershipControlsCommand,
  DeletePublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { exemptionParameter, rulesParameter } from '../../shared/live-config/layout.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { aws, createStateTable, ENDPOINT, notificationTopic, REGION } from './helpers/emulator.js';
import { sampleEvent } from './helpers/events.js';
import { withLambdaEnv } from './helpers/invoke.js';

// No emulator reset here: every name is this file's own (prefix, bucket, topic, table), so runs of other suites
// against the same moto server are left alone.
const RUN = randomUUID().slice(0, 8);
const PREFIX = `/trailguard-e2e-${RUN}`;
const BUCKET = `example-e2e-live-${RUN}`;
const ssm = new SSMClient({ region: REGION, endpoint: ENDPOINT, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });
const CONTEXT = {
  awsRequestId: 'e2e',
  functionName: 'trailguard-e2e',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:trailguard-e2e',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

const put = (name: string, value: unknown) =>
  ssm.send(new PutParameterCommand({ Name: name, Type: 'String', Value: typeof value === 'string' ? value : JSON.stringify(value), Overwrite: true }));
const aclEvent = () =>
  sampleEvent('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read', {
    requestParameters: { bucketName: BUCKET, host: [`s3.${REGION}.amazonaws.com`], acl: [''], 'x-amz-acl': ['public-read'] },
  });
const waitPastCache = () => new Promise((resolve) => setTimeout(resolve, 1_100));

let topic: Awaited<ReturnType<typeof notificationTopic>>;
let stateTable: string;

beforeAll(async () => {
  topic = await notificationTopic(`trailguard-e2e-live-${RUN}`);
  stateTable = await createStateTable(`trailguard-e2e-live-${RUN}`);
  await aws.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await aws.s3.send(new DeletePublicAccessBlockCommand({ Bucket: BUCKET }));
  await aws.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: BUCKET, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
  await aws.s3.send(new PutBucketAclCommand({ Bucket: BUCKET, ACL: 'public-read' }));
  await put(rulesParameter(PREFIX), {});
});

afterAll(async () => {
  await aws.s3.send(new DeleteBucketCommand({ Bucket: BUCKET }));
  for (const name of [rulesParameter(PREFIX), exemptionParameter(PREFIX, 'public-bucket', BUCKET)]) {
    await ssm.send(new DeleteParameterCommand({ Name: name })).catch(() => undefined);
  }
});

/**
 * The public-bucket handler in one "container" (the module graph reset once, so the config and the live config
 * cache are its own), with the stack's environment: the parameter prefix, and a 1 s cache.
 */
async function withContainer(fn: (invoke: () => Promise<{ record: RemediationRecord; logs: Record<string, unknown>[] }>) => Promise<void>): Promise<void> {
  vi.resetModules();
  await withLambdaEnv({ mode: 'dry-run', topicArn: topic.topicArn, stateTable }, async () => {
    process.env.TRAILGUARD_PARAMETER_PREFIX = PREFIX;
    process.env.TRAILGUARD_CONFIG_MAX_AGE_SECONDS = '1';
    process.env.AWS_ENDPOINT_URL = ENDPOINT;
    const { logger } = await import('../../shared/log.js');
    const logs: Record<string, unknown>[] = [];
    logger.setSink((line) => logs.push(JSON.parse(line) as Record<string, unknown>));
    const { handler } = await import('../../functions/public-bucket/handler.js');
    await fn(async () => {
      logs.length = 0;
      const record = (await handler(aclEvent(), CONTEXT)) as RemediationRecord;
      return { record, logs: [...logs] };
    });
  });
}

describe('the live configuration in SSM Parameter Store (moto)', () => {
  it('makes an event exempt once an exemption added to the store is read after the cache time, and keeps the last good version of a bad value', async () => {
    await withContainer(async (invoke) => {
      const before = await invoke();
      expect(before.record).toMatchObject({ outcome: 'would-remediate', mode: 'dry-run', resources: [{ id: BUCKET }] });

      const name = exemptionParameter(PREFIX, 'public-bucket', BUCKET);
      await put(name, { resource: BUCKET, reason: 'partner download site, ticket SEC-77', expires: '2099-12-31' });
      await waitPastCache();
      const exempt = await invoke();
      expect(exempt.record).toMatchObject({ outcome: 'exempt', exemptions: [{ resource: BUCKET, reason: 'partner download site, ticket SEC-77' }] });

      await put(name, { resource: BUCKET, reason: 'partner download site', expires: 'next week' });
      await waitPastCache();
      await topic.received();
      const afterBad = await invoke();
      expect(afterBad.record).toMatchObject({ outcome: 'exempt', exemptions: [{ reason: 'partner download site, ticket SEC-77' }] });
      expect(afterBad.logs.filter((line) => line.message === 'trailguard config rejected')).toEqual([
        expect.objectContaining({
          level: 'ERROR',
          key: name,
          version: 2,
          problem: 'expires: expected YYYY-MM-DD',
          inForce: 'version 1 stays in force (the newest good one of the 5 before)',
          inForceVersion: 1,
        }),
      ]);
      const told = await topic.received();
      expect(told.map((n) => n.subject)).toEqual([expect.stringContaining('trailguard config rejected')]);

      // Read again past the cache time: still in force, logged and told only once.
      await waitPastCache();
      const again = await invoke();
      expect(again.record.outcome).toBe('exempt');
      expect(again.logs.filter((line) => line.message === 'trailguard config rejected')).toEqual([]);
      expect(await topic.received()).toEqual([]);
    });
  });

  it('applies the same last good version in cold containers (read back with name:N selectors) and tells a rejected value once across them', async () => {
    // Version 3 (version 2 is the bad value above): two cold containers each read versions 2 and 1 back, and both
    // find version 1, the one a warm container keeps, so no container remediates the exempt bucket.
    const name = exemptionParameter(PREFIX, 'public-bucket', BUCKET);
    await put(name, '{"resource": ');
    await topic.received();
    await withContainer(async (invoke) => {
      const first = await invoke();
      expect(first.record).toMatchObject({ outcome: 'exempt', exemptions: [{ reason: 'partner download site, ticket SEC-77' }] });
      expect(first.logs.filter((line) => line.message === 'trailguard config rejected')).toEqual([
        expect.objectContaining({ key: name, version: 3, problem: 'not valid JSON', inForceVersion: 1 }),
      ]);
    });
    await withContainer(async (invoke) => {
      const second = await invoke();
      expect(second.record.outcome).toBe('exempt');
      expect(second.logs.filter((line) => line.message === 'trailguard config rejected')).toHaveLength(1);
    });
    const told = (await topic.received()).filter((n) => n.subject.includes('trailguard config rejected'));
    expect(told).toHaveLength(1);
  });

  it('leaves out an exemption none of whose 5 previous versions is good: the rule acts', async () => {
    const name = exemptionParameter(PREFIX, 'public-bucket', BUCKET);
    for (let i = 0; i < 5; i += 1) await put(name, { resource: BUCKET });
    await withContainer(async (invoke) => {
      const { record, logs } = await invoke();
      expect(record.outcome).toBe('would-remediate');
      expect(logs.filter((line) => line.message === 'trailguard config rejected')).toEqual([
        expect.objectContaining({ key: name, version: 8, inForceVersion: null }),
      ]);
    });
  });
});
