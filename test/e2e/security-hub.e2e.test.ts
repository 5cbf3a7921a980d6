import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, DeletePublicAccessBlockCommand, PutBucketAclCommand } from '@aws-sdk/client-s3';
import { type AwsSecurityFinding, GetFindingsCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import type { Context } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { findingIdOf } from '../../shared/security-hub/finding.js';
import { ACCOUNT, aws, createStateTable, ENDPOINT, notificationTopic, REGION } from './helpers/emulator.js';
import { sampleEvent } from './helpers/events.js';
import { invokeHandler, type LambdaEnv } from './helpers/invoke.js';

// A real rule handler runs in-process against the emulator; its logged record goes to the exporter as CloudWatch Logs
// delivers it (base64 of gzip), and the exporter imports it into the emulator's Security Hub. moto's Security Hub
// stores what BatchImportFindings sends, keyed on Id (it checks only that Resources is a non-empty list), and GetFindings
// returns every finding of the account unfiltered: this test filters by the finding's id, and the exporter's read-back
// before resolving (shared/security-hub/confirm.ts) matches on Id and ProductArn itself. moto overwrites a finding
// whatever its UpdatedAt, so a stale import cannot be shown here (workflow.test.ts does, against a fake that behaves as
// Security Hub). moto has no BatchUpdateFindings (no route: 404), so the workflow update fails here as a denied or
// broken call would in AWS: logged, and the import stands; workflow.test.ts covers the update against a mock. It wipes nothing on the emulator
// (no reset): its bucket, topic and table have names of their own.
const RUN = randomUUID().slice(0, 8);
const BUCKET = `example-e2e-hub-${RUN}`;
const EXPORTER_CONTEXT = { invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:trailguard-e2e-securityHubExporter` } as Context;
const hub = new SecurityHubClient({ region: REGION, endpoint: ENDPOINT, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });

/** The stack's topic and state table, of this run's own names. */
async function createStack(): Promise<(mode: LambdaEnv['mode']) => LambdaEnv> {
  const topic = await notificationTopic(`trailguard-e2e-hub-${RUN}`);
  const stateTable = await createStateTable(`trailguard-e2e-hub-${RUN}`);
  return (mode) => ({ mode, topicArn: topic.topicArn, stateTable });
}

/** The rule function's record line, as CloudWatch Logs delivers it to a subscription. */
function deliveryOf(logs: readonly Record<string, unknown>[]) {
  const lines = logs.filter((line) => line.message === 'trailguard remediation');
  const payload = {
    messageType: 'DATA_MESSAGE',
    owner: ACCOUNT,
    logGroup: '/aws/lambda/trailguard-e2e-publicBucket',
    logStream: 's',
    subscriptionFilters: ['trailguard'],
    logEvents: lines.map((line, i) => ({ id: String(i), timestamp: Date.parse(String(line.timestamp)), message: JSON.stringify(line) })),
  };
  return { awslogs: { data: gzipSync(JSON.stringify(payload)).toString('base64') } };
}

/** The exporter as Lambda runs it, in-process: its settings (the emulator's endpoint) parsed afresh. */
async function runExporter(event: unknown) {
  vi.resetModules();
  const { handler } = await import('../../exporters/security-hub/handler.js');
  return handler(event, EXPORTER_CONTEXT);
}

async function findingsWithId(id: string): Promise<AwsSecurityFinding[]> {
  const found: AwsSecurityFinding[] = [];
  let token: string | undefined;
  do {
    const page = await hub.send(new GetFindingsCommand({ MaxResults: 100, NextToken: token }));
    found.push(...(page.Findings ?? []).filter((f) => f.Id === id));
    token = page.NextToken;
  } while (token);
  return found;
}

describe('security hub against the emulator: a public bucket', () => {
  it('imports a dry-run decision as one open finding, and the live fix of the same bucket updates it to PASSED', async () => {
    const env = await createStack();
    await aws.s3.send(
      new CreateBucketCommand({ Bucket: BUCKET, ...(REGION === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: REGION as never } }) }),
    );
    await aws.s3.send(new DeletePublicAccessBlockCommand({ Bucket: BUCKET }));
    await aws.s3.send(new PutBucketAclCommand({ Bucket: BUCKET, ACL: 'public-read' }));
    const aclEvent = () =>
      sampleEvent('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read', {
        requestParameters: { bucketName: BUCKET, host: [`s3.${REGION}.amazonaws.com`], acl: [''], 'x-amz-acl': ['public-read'] },
      });

    const dry = await invokeHandler('public-bucket', aclEvent(), env('dry-run'));
    expect(dry.record).toMatchObject({ outcome: 'would-remediate', resources: [{ type: 'AWS::S3::Bucket', id: BUCKET }] });
    const first = await runExporter(deliveryOf(dry.logs));

    const id = findingIdOf(dry.record, dry.record.resources[0]);
    // An open decision is not resolved: no workflow update is even tried.
    expect(first).toMatchObject({ records: 1, imported: 1, skipped: 0, resolved: 0, notResolved: 0 });
    const [open, ...others] = await findingsWithId(id);
    expect(others).toEqual([]);
    expect(open).toMatchObject({
      SchemaVersion: '2018-10-08',
      AwsAccountId: ACCOUNT,
      GeneratorId: 'trailguard/public-bucket',
      ProductName: 'trailguard',
      ProductArn: `arn:aws:securityhub:${REGION}:${ACCOUNT}:product/${ACCOUNT}/default`,
      Severity: { Label: 'HIGH', Original: 'HIGH' },
      RecordState: 'ACTIVE',
      Compliance: { Status: 'FAILED', SecurityControlId: 'S3.8' },
      Resources: [{ Type: 'AwsS3Bucket', Id: `arn:aws:s3:::${BUCKET}`, Partition: 'aws', Region: REGION }],
      ProductFields: {
        'trailguard/outcome': 'would-remediate',
        'trailguard/eventId': dry.record.eventId,
        'trailguard/actions': `S3.PutPublicAccessBlock ${BUCKET} planned`,
      },
    });

    const live = await invokeHandler('public-bucket', aclEvent(), env('live'));
    expect(live.record).toMatchObject({ outcome: 'remediated' });
    const second = await runExporter(deliveryOf(live.logs));

    // The fix is imported and read back as this delivery left it (not stale); resolving it is tried, and its failure
    // (moto: no such API) does not fail the export.
    expect(second).toMatchObject({ records: 1, imported: 1, stale: 0, resolved: 0, notResolved: 1 });
    expect(live.record.reverseCommands).toEqual([
      { resource: BUCKET, command: expect.stringContaining(`aws s3api delete-public-access-block --region '${REGION}' --bucket '${BUCKET}'`) },
    ]);
    const [fixed, ...duplicates] = await findingsWithId(id);
    expect(duplicates).toEqual([]);
    expect(fixed).toMatchObject({
      Compliance: { Status: 'PASSED', SecurityControlId: 'S3.8' },
      Severity: { Label: 'INFORMATIONAL', Original: 'HIGH' },
      ProductFields: {
        'trailguard/outcome': 'remediated',
        'trailguard/eventId': live.record.eventId,
        'trailguard/actions': `S3.PutPublicAccessBlock ${BUCKET} done`,
        'trailguard/reverseCommand': live.record.reverseCommands?.[0]?.command,
      },
    });
    expect(fixed?.Remediation?.Recommendation?.Text).toContain(
      `To reverse (exempt the resource first, or use trailguard undo with trailguard/eventId): ${live.record.reverseCommands?.[0]?.command}`,
    );
    expect(fixed?.UpdatedAt && open?.UpdatedAt && fixed.UpdatedAt >= open.UpdatedAt).toBe(true);
  });
});
