import { GetBucketAclCommand, GetBucketPolicyStatusCommand, GetPublicAccessBlockCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import type { AnyActionType, Reversal, Step } from '../../../shared/actions/action.js';
import { wrapRecord } from '../../../shared/events/schema.js';
import { OPTIONAL_RECORD_FIELDS, RECORD_FIELDS } from '../../../shared/remediation-log.js';
import { type AnyRule, violation, type PlannedAction } from '../../../shared/rule.js';
import { REVERSE_COMMANDS_LIMIT } from '../../../shared/runner/record.js';
import { run } from '../../../shared/runner/run.js';
import { ALL_BLOCKED } from '../../../shared/s3/public-access.js';
import { testAction } from '../../helpers/actions.js';
import { capturingDeps, runSample } from '../../helpers/samples.js';

// The record carries what a consumer without the rules needs (the Security Hub exporter): the controls its finding
// matches and, for a verified fix, the commands that reverse it, the same the notification prints.
const s3 = mockClient(S3Client);
const NONE_SET = Object.assign(new Error('The public access block configuration was not found'), { name: 'NoSuchPublicAccessBlockConfiguration' });
const SAMPLE = 'would-remediate.put-bucket-acl-canned-public-read';
const REVERSE = "aws s3api delete-public-access-block --region 'eu-west-1' --bucket 'example-reports' --expected-bucket-owner '111122223333'";

beforeEach(() => {
  s3.reset();
  s3.rejects(new Error('unexpected S3 call'));
  s3.on(GetBucketPolicyStatusCommand).resolves({ PolicyStatus: { IsPublic: false } });
  s3.on(GetBucketAclCommand).resolves({ Grants: [{ Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' }] });
});
afterEach(() => s3.reset());

describe("the record's controls and reverse commands", () => {
  it("carries both on a verified fix, after the contract fields, the command being the notification's", async () => {
    s3.on(GetPublicAccessBlockCommand).rejectsOnce(NONE_SET).resolves({ PublicAccessBlockConfiguration: ALL_BLOCKED });
    s3.on(PutPublicAccessBlockCommand).resolves({});

    const { record, deps } = await runSample(publicBucket, SAMPLE, { mode: 'live' });

    expect(record).toMatchObject({ outcome: 'remediated', controls: ['S3.8'], reverseCommands: [{ resource: 'example-reports', command: REVERSE }] });
    expect(Object.keys(record)).toEqual([...RECORD_FIELDS, ...OPTIONAL_RECORD_FIELDS]);
    expect(deps.published[0]?.text).toContain(`To reverse: ${REVERSE}\n`);
    expect(deps.written).toEqual([record]);
  });

  it('carries no reverse command when nothing was changed: dry-run, or a fix that failed', async () => {
    s3.on(GetPublicAccessBlockCommand).rejects(NONE_SET);
    const { record: dry } = await runSample(publicBucket, SAMPLE, { mode: 'dry-run' });
    expect(dry).toMatchObject({ outcome: 'would-remediate', controls: ['S3.8'] });
    expect(dry).not.toHaveProperty('reverseCommands');

    s3.on(PutPublicAccessBlockCommand).rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }));
    const { record: failed } = await runSample(publicBucket, SAMPLE, { mode: 'live' });
    expect(failed.outcome).toBe('failed');
    expect(failed).not.toHaveProperty('reverseCommands');
  });
});

/** An action type reversed as `kind` says, by the test action `Test.Undo`, whose command names the resource. */
function reversibleAction(kind: 'steps' | 'manual'): AnyActionType {
  const undo: AnyActionType = { ...testAction('Test.Undo'), command: (step: Step<unknown, unknown>) => `undo '${step.resource.id}'` };
  return {
    ...testAction('Test.Write'),
    reverse: ({ resource, region }): Reversal => {
      const steps = [{ type: undo, action: { api: 'Test.Undo', resource: { ...resource, region }, params: {} } }];
      return kind === 'steps' ? { kind, steps } : { kind, why: 'a person decides', steps };
    },
  } as AnyActionType;
}

/** A rule that writes once per resource through `type`, on `count` resources. */
function writingRule(type: AnyActionType, count: number) {
  const actions: PlannedAction[] = Array.from({ length: count }, (_, i) => ({
    api: 'Test.Write',
    resource: { type: 'AWS::S3::Bucket', id: `example-${i}` },
    params: {},
  }));
  return {
    id: 'public-bucket',
    pattern: { source: ['aws.s3'], detail: { eventName: ['PutBucketAcl'] } },
    permissions: {},
    settings: () => ({ enabled: true }),
    clients: () => ({}),
    parse: () => ({ resources: actions.map((a) => a.resource) }),
    inspect: async () => ({}),
    decide: () =>
      violation(
        'public',
        'HIGH',
        actions.map((a) => a.resource),
        actions,
      ),
    actions: [type],
    message: () => ({ title: 'title', lines: [] }),
  } satisfies AnyRule;
}
const event = wrapRecord({
  eventVersion: '1.09',
  eventTime: '2026-11-20T09:15:00Z',
  eventSource: 's3.amazonaws.com',
  eventName: 'PutBucketAcl',
  awsRegion: 'eu-west-1',
  eventID: 'e-1',
  recipientAccountId: '111122223333',
  userIdentity: { type: 'IAMUser', arn: 'arn:aws:iam::111122223333:user/alice' },
  requestParameters: { bucketName: 'example-0' },
  responseElements: null,
});

describe('reverseCommandsOf, through the runner', () => {
  it('names each command with the resource of the write it reverses', async () => {
    const record = await run(writingRule(reversibleAction('steps'), 2), event, capturingDeps({ mode: 'live' }));
    expect(record.reverseCommands).toEqual([
      { resource: 'example-0', command: "undo 'example-0'" },
      { resource: 'example-1', command: "undo 'example-1'" },
    ]);
  });

  it('gives none when a write can only be reversed by hand: a partial list would read as the whole reversal', async () => {
    const record = await run(writingRule(reversibleAction('manual'), 1), event, capturingDeps({ mode: 'live' }));
    expect(record.outcome).toBe('remediated');
    expect(record).not.toHaveProperty('reverseCommands');
  });

  it('keeps at most REVERSE_COMMANDS_LIMIT of them', async () => {
    const record = await run(writingRule(reversibleAction('steps'), REVERSE_COMMANDS_LIMIT + 20), event, capturingDeps({ mode: 'live' }));
    expect(record.reverseCommands).toHaveLength(REVERSE_COMMANDS_LIMIT);
  });
});
