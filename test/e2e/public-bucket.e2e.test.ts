import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeletePublicAccessBlockCommand,
  GetBucketAclCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetPublicAccessBlockCommand,
  PutBucketAclCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutPublicAccessBlockCommand,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { publicBucket } from '../../functions/public-bucket/rule.js';
import { putPublicAccessBlock } from '../../shared/actions/s3-put-public-access-block.js';
import type { AnyRule } from '../../shared/rule.js';
import { lambdaDeps } from '../../shared/runner/lambda.js';
import { run } from '../../shared/runner/run.js';
import { ACCOUNT, aws, MISSING_TOPIC_ARN, REGION } from './helpers/emulator.js';
import { sampleEvent } from './helpers/events.js';
import { freshStackPerTest } from './helpers/stack.js';
import { invokeHandler, replayCli, withLambdaEnv } from './helpers/invoke.js';

const BUCKET = 'example-e2e-website';
const ALL_ON = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
const POLICY = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` }],
};

const stack = freshStackPerTest();
const env = stack.env;

/** The violating state: a public-read ACL and a Principal-* policy, with tags and ownership controls that must survive. */
async function createPublicBucket(): Promise<void> {
  await aws.s3.send(
    new CreateBucketCommand({ Bucket: BUCKET, ...(REGION === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: REGION as never } }) }),
  );
  // New AWS buckets have Block Public Access on and ACLs disabled (April 2023); undo both, as a person
  // making a bucket public has to. moto has neither default, so these calls are no-ops there.
  await aws.s3.send(new DeletePublicAccessBlockCommand({ Bucket: BUCKET }));
  await aws.s3.send(new PutBucketOwnershipControlsCommand({ Bucket: BUCKET, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
  await aws.s3.send(new PutBucketTaggingCommand({ Bucket: BUCKET, Tagging: { TagSet: [{ Key: 'team', Value: 'web' }] } }));
  await aws.s3.send(new PutBucketAclCommand({ Bucket: BUCKET, ACL: 'public-read' }));
  await aws.s3.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: JSON.stringify(POLICY) }));
}

/** The PutBucketPolicy record of the last call above. */
const policyEvent = () =>
  sampleEvent('public-bucket', 'would-remediate.put-bucket-policy-principal-star', {
    requestParameters: { bucketName: BUCKET, host: [`s3.${REGION}.amazonaws.com`], policy: [''], bucketPolicy: POLICY },
  });

/** Block Public Access as read now; null when none is set. */
async function readBlock(): Promise<object | null> {
  try {
    return (await aws.s3.send(new GetPublicAccessBlockCommand({ Bucket: BUCKET }))).PublicAccessBlockConfiguration ?? null;
  } catch (error) {
    if ((error as Error).name === 'NoSuchPublicAccessBlockConfiguration') return null;
    throw error;
  }
}

/** Everything about the bucket that trailguard must not touch. */
async function otherSettings() {
  const [acl, policy, tags, ownership] = await Promise.all([
    aws.s3.send(new GetBucketAclCommand({ Bucket: BUCKET })),
    aws.s3.send(new GetBucketPolicyCommand({ Bucket: BUCKET })),
    aws.s3.send(new GetBucketTaggingCommand({ Bucket: BUCKET })),
    aws.s3.send(new GetBucketOwnershipControlsCommand({ Bucket: BUCKET })),
  ]);
  return { grants: acl.Grants, policy: JSON.parse(policy.Policy ?? '{}') as unknown, tags: tags.TagSet, ownership: ownership.OwnershipControls };
}

const SUBJECT_LIVE = `[HIGH] Public access blocked on S3 bucket ${BUCKET} in ${ACCOUNT}/${REGION}`;
const attributesFor = (outcome: string) => ({ rule: 'public-bucket', severity: 'HIGH', outcome, account: ACCOUNT });

describe('public-bucket against the emulator: a bucket with a public ACL and a public policy', () => {
  it('live handler: blocks public access, reads it back, leaves ACL, policy, tags and ownership alone, notifies once, and a redelivery is a no-op', async () => {
    await createPublicBucket();
    const before = await otherSettings();
    const event = policyEvent();

    const { record, logs } = await invokeHandler('public-bucket', event, env('live'));

    expect(record).toMatchObject({
      rule: 'public-bucket',
      outcome: 'remediated',
      mode: 'live',
      account: ACCOUNT,
      region: REGION,
      actions: [
        {
          api: 'S3.PutPublicAccessBlock',
          status: 'done',
          resource: BUCKET,
          params: { Bucket: BUCKET, PublicAccessBlockConfiguration: ALL_ON, ExpectedBucketOwner: ACCOUNT },
          previous: { PublicAccessBlockConfiguration: null },
          verification: { ok: true, detail: 'all four Block Public Access settings read back as true' },
        },
      ],
      notification: { status: 'sent' },
    });
    expect(record.reason).toContain('the bucket policy is public');
    expect(record.reason).toContain('the ACL grants READ to AllUsers');
    expect(logs).toEqual([expect.objectContaining({ message: 'trailguard remediation', outcome: 'remediated', eventId: event.detail.eventID })]);
    expect(await readBlock()).toEqual(ALL_ON);
    expect(await otherSettings()).toEqual(before);
    const [notification, ...more] = await stack.received();
    expect(more).toEqual([]);
    expect(notification).toMatchObject({ subject: SUBJECT_LIVE, attributes: attributesFor('remediated') });
    expect(notification?.message).toMatchObject({ subject: SUBJECT_LIVE, record: { outcome: 'remediated', eventId: event.detail.eventID } });

    // EventBridge delivers at least once: the same event in a new container is claimed already (DynamoDB).
    await aws.s3.send(new DeletePublicAccessBlockCommand({ Bucket: BUCKET })); // a second run would have to act again
    const second = await invokeHandler('public-bucket', event, env('live'));

    expect(second.record).toMatchObject({ outcome: 'ignored', actions: [], notification: { status: 'not-needed' } });
    expect(second.record.reason).toMatch(/^duplicate delivery of event .*: already handled as remediated/);
    expect(await readBlock()).toBeNull();
    expect(await stack.received()).toEqual([]);
  });

  it('live replay CLI: the same fix and notification from `trailguard replay --mode live`', async () => {
    await createPublicBucket();
    const before = await otherSettings();

    const { exit, records } = await replayCli(policyEvent(), env('live'));

    expect(exit).toBe(0);
    // A bucket policy also goes to outside-bucket-policy, which leaves a public statement to public-bucket: no second write.
    expect(records.filter((r) => r.rule === 'public-bucket')).toMatchObject([
      { outcome: 'remediated', actions: [{ status: 'done', verification: { ok: true } }], notification: { status: 'sent' } },
    ]);
    expect(records.filter((r) => r.rule !== 'public-bucket').map((r) => [r.outcome, r.actions.length])).toEqual([['compliant', 0]]);
    expect(await readBlock()).toEqual(ALL_ON);
    expect(await otherSettings()).toEqual(before);
    expect(await stack.received()).toMatchObject([{ subject: SUBJECT_LIVE, attributes: attributesFor('remediated') }]);
  });

  it.each(['handler', 'replay CLI'] as const)('dry-run (%s): reports the planned block, notifies, and changes nothing', async (via) => {
    await createPublicBucket();
    const before = await otherSettings();
    const event = policyEvent();

    const record =
      via === 'handler' ? (await invokeHandler('public-bucket', event, env('dry-run'))).record : (await replayCli(event, env('dry-run'))).records[0];

    expect(record).toMatchObject({
      outcome: 'would-remediate',
      mode: 'dry-run',
      actions: [{ api: 'S3.PutPublicAccessBlock', status: 'planned', params: { Bucket: BUCKET, PublicAccessBlockConfiguration: ALL_ON } }],
      notification: { status: 'sent' },
    });
    expect(record?.actions[0]).not.toHaveProperty('verification');
    expect(await readBlock()).toBeNull();
    expect(await otherSettings()).toEqual(before);
    expect(await stack.received()).toMatchObject([
      {
        subject: `[HIGH] Would block public access on S3 bucket ${BUCKET} in ${ACCOUNT}/${REGION}`,
        attributes: attributesFor('would-remediate'),
      },
    ]);
  });
});

describe.each(['live', 'dry-run'] as const)('public-bucket against the emulator, other outcomes (%s)', (mode) => {
  it('compliant: a public-read ACL call on a bucket whose Block Public Access is fully on', async () => {
    await createPublicBucket();
    await aws.s3.send(new PutPublicAccessBlockCommand({ Bucket: BUCKET, PublicAccessBlockConfiguration: ALL_ON }));
    const before = await otherSettings();
    const event = sampleEvent('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read', {
      requestParameters: { bucketName: BUCKET, host: [`s3.${REGION}.amazonaws.com`], acl: [''], 'x-amz-acl': ['public-read'] },
    });

    const { record } = await invokeHandler('public-bucket', event, env(mode));

    expect(record).toMatchObject({
      outcome: 'compliant',
      actions: [],
      reason: `Block Public Access is fully on for ${BUCKET}`,
      notification: { status: 'not-needed' },
    });
    expect(await readBlock()).toEqual(ALL_ON);
    expect(await otherSettings()).toEqual(before);
    expect(await stack.received()).toEqual([]);
  });

  it('exempt: the bucket is exempt by configuration, and stays public', async () => {
    await createPublicBucket();

    const { record } = await invokeHandler(
      'public-bucket',
      policyEvent(),
      env(mode, {
        exemptions: [{ rule: 'public-bucket', resource: 'example-e2e-*', reason: 'public website (ticket SEC-1)' }],
      }),
    );

    expect(record).toMatchObject({ outcome: 'exempt', actions: [], exemptions: [{ resource: BUCKET, reason: 'public website (ticket SEC-1)' }] });
    expect(await readBlock()).toBeNull();
    expect(await stack.received()).toEqual([]);
  });

  it("ignored: the remediator's own PutPublicAccessBlock (all four flags on, as it writes them) is not re-evaluated", async () => {
    await createPublicBucket();
    const event = sampleEvent('public-bucket', 'ignored.remediator-own-call', {
      requestParameters: { bucketName: BUCKET, host: `s3.${REGION}.amazonaws.com`, publicAccessBlock: '', PublicAccessBlockConfiguration: ALL_ON },
    });

    const { record } = await invokeHandler('public-bucket', event, env(mode));

    expect(record).toMatchObject({ outcome: 'ignored', actions: [] });
    expect(record.reason).toMatch(/^caused by trailguard itself/);
    expect(await readBlock()).toBeNull();
  });

  it('ignored, not failed: the bucket was deleted before the event was handled', async () => {
    await createPublicBucket();
    await aws.s3.send(new DeleteBucketCommand({ Bucket: BUCKET }));

    const { record } = await invokeHandler('public-bucket', policyEvent(), env(mode));

    expect(record).toMatchObject({
      outcome: 'ignored',
      error: { kind: 'gone', code: 'NoSuchBucket', api: 'S3.GetPublicAccessBlock' },
      notification: { status: 'not-needed' },
    });
    expect(await stack.received()).toEqual([]);
  });
});

describe('public-bucket against the emulator: faults', () => {
  it('ignored, not failed: the bucket is deleted between the read and the write', async () => {
    await createPublicBucket();
    // The deployed rule, except that the bucket disappears just before the write: NoSuchBucket from PutPublicAccessBlock itself.
    const racing: AnyRule = {
      ...publicBucket,
      actions: [
        {
          ...putPublicAccessBlock,
          perform: async (step: Parameters<typeof putPublicAccessBlock.perform>[0], clients: Parameters<typeof putPublicAccessBlock.perform>[1]) => {
            await aws.s3.send(new DeleteBucketCommand({ Bucket: BUCKET }));
            return putPublicAccessBlock.perform(step, clients);
          },
        },
      ],
    };

    const record = await withLambdaEnv(env('live'), () => run(racing, policyEvent(), lambdaDeps()));

    expect(record).toMatchObject({
      outcome: 'ignored',
      reason: expect.stringContaining('the resource was already gone when acting'),
      actions: [{ api: 'S3.PutPublicAccessBlock', status: 'done', verification: { ok: true, detail: 'already gone (NoSuchBucket)', gone: true } }],
    });
  });

  it('a topic that does not exist: the block still lands, and the record says the notification failed', async () => {
    await createPublicBucket();

    const { record, logs } = await invokeHandler('public-bucket', policyEvent(), env('live', { topicArn: MISSING_TOPIC_ARN }));

    // SNS answers 404 with the query-API code NotFound (AWS and moto alike): the topic is gone, not the remediation.
    const failed = { status: 'failed', error: 'gone: NotFound' };
    expect(record).toMatchObject({ outcome: 'remediated', actions: [{ status: 'done', verification: { ok: true } }], notification: failed });
    expect(logs).toEqual([expect.objectContaining({ outcome: 'remediated', notification: failed })]);
    expect(await readBlock()).toEqual(ALL_ON);
    expect(await stack.received()).toEqual([]);
  });
});
