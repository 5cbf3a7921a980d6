import { DeleteBucketPolicyCommand, GetBucketPolicyCommand, PutBucketPolicyCommand, S3Client } from '@aws-sdk/client-s3';
import { OrganizationsClient } from '@aws-sdk/client-organizations';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { outsideBucketPolicy } from '../../../functions/outside-bucket-policy/rule.js';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import { stepOf } from '../../../shared/actions/action.js';
import { deleteBucketPolicy, putBucketPolicy, putBucketPolicySignature } from '../../../shared/actions/s3-bucket-policy.js';
import { resetOrganizationsClients } from '../../../shared/aws/organizations.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const s3 = mockClient(S3Client);
const organizations = mockClient(OrganizationsClient);
const OUTSIDE = '444455556666';
const BUCKET = 'example-exports';

beforeEach(() => {
  s3.reset();
  s3.rejects(new Error('unexpected S3 call'));
  organizations.reset();
  organizations.rejects(new Error('unexpected Organizations call'));
  resetOrganizationsClients();
});
afterEach(() => {
  s3.reset();
  organizations.reset();
});

const statement = (Sid: string, Principal: unknown, extra: Record<string, unknown> = {}) => ({
  Sid,
  Effect: 'Allow',
  Principal,
  Action: 's3:GetObject',
  Resource: `arn:aws:s3:::${BUCKET}/*`,
  ...extra,
});
const policy = (...Statement: unknown[]) => ({ Version: '2012-10-17', Statement });
/** A string field of an action's params or previous (undefined reads as a string, and fails the JSON parse). */
const field = (value: unknown, key: string): string => String((value as Record<string, unknown> | undefined)?.[key]);
const sample = () => loadSample(outsideBucketPolicy.id, 'would-remediate.put-bucket-policy-outside-account');
const put = (bucketPolicy: unknown) => withDetail(sample(), { requestParameters: { bucketName: BUCKET, bucketPolicy } });
const remediating = (overrides: Record<string, unknown> = {}) => sampleConfig({ rules: { 'outside-bucket-policy': { remediate: true } }, ...overrides });
const runOffline = (event: unknown, config = remediating()) => run(outsideBucketPolicy, event, capturingDeps({ config }));
const runLive = (event: unknown, config = remediating()) => run(outsideBucketPolicy, event, capturingDeps({ config, mode: 'live' }));
const written = (record: { actions: readonly { params: unknown }[] }) => JSON.parse(field(record.actions[0]?.params, 'Policy'));

describe('outside-bucket-policy offline', () => {
  it('leaves a `*` narrowed by a condition (a VPC endpoint) alone: it names no account, and public-bucket found it not public', async () => {
    const vpce = withDetail(loadSample('outside-bucket-policy', 'would-remediate.put-bucket-policy-outside-account'), {
      requestParameters: {
        bucketName: 'example-internal',
        bucketPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: '*',
              Action: 's3:GetObject',
              Resource: 'arn:aws:s3:::example-internal/*',
              Condition: { StringEquals: { 'aws:SourceVpce': 'vpce-0example3' } },
            },
          ],
        },
      },
    });
    const record = await run(outsideBucketPolicy, vpce, capturingDeps());
    expect(record.outcome).toBe('compliant');
    expect((await run(publicBucket, vpce, capturingDeps())).outcome).toBe('compliant');
  });

  it('drops only the outside principal, keeping the service statement and the own role, with ExpectedBucketOwner', async () => {
    const { record } = await runSample(outsideBucketPolicy, 'would-remediate.put-bucket-policy-outside-account');
    expect(record).toMatchObject({ outcome: 'would-remediate', severity: 'HIGH', finding: 'policy-outside' });
    expect(record.actions[0]).toMatchObject({ api: 'S3.PutBucketPolicy', params: { Bucket: BUCKET, ExpectedBucketOwner: '111122223333' } });
    const after = written(record);
    expect(after.Statement).toHaveLength(2);
    expect(after.Statement[1].Principal).toEqual({ AWS: ['arn:aws:iam::111122223333:role/exporter'] });
    expect(JSON.stringify(after)).not.toContain(OUTSIDE);
  });

  it('deletes the policy when its one statement (logged as an object) granted outside', async () => {
    const { record } = await runSample(outsideBucketPolicy, 'would-remediate.put-bucket-policy-single-statement-account-id');
    expect(record.actions).toEqual([
      expect.objectContaining({ api: 'S3.DeleteBucketPolicy', params: { Bucket: 'example-backups', ExpectedBucketOwner: '111122223333' } }),
    ]);
  });

  it('leaves a public statement to public-bucket: exactly one rule acts on it, and public-bucket does', async () => {
    const event = loadSample(outsideBucketPolicy.id, 'compliant.put-bucket-policy-public-is-public-buckets');
    expect((await runOffline(event)).outcome).toBe('compliant');
    const mixed = put(policy(statement('Both', { AWS: ['*', OUTSIDE] })));
    expect((await runOffline(mixed)).outcome).toBe('compliant');
    expect((await run(publicBucket, mixed, capturingDeps())).outcome).toBe('would-remediate');
  });

  it('judges a policy logged as a JSON string', async () => {
    const record = await runOffline(put(JSON.stringify(policy(statement('S', { AWS: `arn:aws:iam::${OUTSIDE}:role/x` })))));
    expect(record.outcome).toBe('would-remediate');
  });

  it('alerts by default (remediate off) with the exact command', async () => {
    const record = await runOffline(sample(), sampleConfig({ rules: {} }));
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', actions: [] });
    expect(record.reason).toContain("aws s3api put-bucket-policy --region 'eu-west-1' --bucket 'example-exports' --policy '{");
    expect(record.reason).toContain("--expected-bucket-owner '111122223333'");
  });

  it('leaves an account it cannot judge (organisation unread) alerted, and an org-scoped grant compliant', async () => {
    const config = remediating({
      organization: {
        organizationId: 'o-exampleorg1',
        centralAccountId: '111122223333',
        memberRoleName: 'trailguard-member',
        externalId: 'ext-0123456789abcdef',
      },
    });
    expect(await runOffline(sample(), config)).toMatchObject({ outcome: 'alerted', finding: 'policy-unjudged', actions: [] });
    const scoped = put(policy(statement('Org', { AWS: OUTSIDE }, { Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-exampleorg1' } } })));
    expect((await runOffline(scoped, config)).outcome).toBe('compliant');
  });

  it.each([
    [{ bucketName: BUCKET, bucketPolicy: 'not json' }, 'bucketPolicy'],
    [{ bucketName: "x'; rm -rf /", bucketPolicy: policy(statement('S', { AWS: OUTSIDE })) }, 'bucketName'],
  ])('refuses %j as a parse error naming %s', async (requestParameters, field) => {
    const record = await runOffline(withDetail(sample(), { requestParameters }));
    expect(record.actions).toEqual([]);
    expect(record.outcome).not.toMatch(/would-remediate|compliant/);
    expect(JSON.stringify(record)).toContain(field);
  });
});

describe('outside-bucket-policy live: decided from the policy now', () => {
  it('puts the policy less the outside grant, keeps previous and reads back', async () => {
    const now = policy(statement('Own', { AWS: 'arn:aws:iam::111122223333:root' }), statement('Partner', { AWS: OUTSIDE }));
    const after = policy(statement('Own', { AWS: 'arn:aws:iam::111122223333:root' }));
    s3.on(GetBucketPolicyCommand)
      .resolvesOnce({ Policy: JSON.stringify(now) })
      .resolves({ Policy: JSON.stringify(after) });
    s3.on(PutBucketPolicyCommand).resolves({});
    const record = await runLive(put(policy(statement('Partner', { AWS: OUTSIDE }))));
    expect(record.outcome).toBe('remediated');
    const input = s3.commandCalls(PutBucketPolicyCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ Bucket: BUCKET, ExpectedBucketOwner: '111122223333' });
    expect(JSON.parse(input?.Policy ?? '')).toEqual(after);
    expect(JSON.parse(field(record.actions[0]?.previous, 'Policy'))).toEqual(now);
    expect(s3.commandCalls(GetBucketPolicyCommand)[0]?.args[0].input).toMatchObject({ ExpectedBucketOwner: '111122223333' });
  });

  it('is compliant when the bucket has no policy any more', async () => {
    s3.on(GetBucketPolicyCommand).rejects(Object.assign(new Error('none'), { name: 'NoSuchBucketPolicy' }));
    const record = await runLive(sample());
    expect(record.outcome).toBe('compliant');
    expect(s3.commandCalls(PutBucketPolicyCommand)).toHaveLength(0);
    expect(s3.commandCalls(DeleteBucketPolicyCommand)).toHaveLength(0);
  });
});

describe('s3 bucket policy actions', () => {
  const resource = { type: 'AWS::S3::Bucket', id: BUCKET };
  const previous = { Policy: JSON.stringify(policy(statement('Partner', { AWS: OUTSIDE }))) };

  it('reverse a delete by putting the deleted policy back, pinned to the owner', () => {
    const step = stepOf(
      deleteBucketPolicy,
      { api: deleteBucketPolicy.api, resource, params: { Bucket: BUCKET, ExpectedBucketOwner: '111122223333' }, previous },
      'eu-west-1',
    );
    expect(deleteBucketPolicy.reverse(step as never)).toMatchObject({
      kind: 'steps',
      steps: [{ action: { api: 'S3.PutBucketPolicy', params: { Bucket: BUCKET, Policy: previous.Policy, ExpectedBucketOwner: '111122223333' } } }],
    });
  });

  it('refuses a policy that is not JSON', () => {
    expect(() => stepOf(putBucketPolicy, { api: putBucketPolicy.api, resource, params: { Bucket: BUCKET, Policy: 'x' } }, 'eu-west-1')).toThrow();
  });

  it('calls a put ours only when it grants no one outside (as the configuration tells) and no one as everyone', () => {
    const caller = { enforces: false, config: sampleConfig(), account: '111122223333' };
    expect(putBucketPolicySignature.isOwnWrite({ bucketName: BUCKET, bucketPolicy: policy(statement('Own', { AWS: '111122223333' })) }, caller)).toBe(true);
    expect(putBucketPolicySignature.isOwnWrite({ bucketName: BUCKET, bucketPolicy: policy(statement('Them', { AWS: OUTSIDE })) }, caller)).toBe(false);
    expect(putBucketPolicySignature.isOwnWrite({ bucketName: BUCKET, bucketPolicy: policy(statement('All', '*')) }, caller)).toBe(false);
  });
});
