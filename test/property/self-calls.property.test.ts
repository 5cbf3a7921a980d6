import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../shared/config.js';
import { parseEnvelope, wrapRecord } from '../../shared/events/schema.js';
import { OWN_WRITE_EVENT_NAMES, selfCallOf } from '../../shared/runner/self-calls.js';

const ACCOUNT = '111122223333';
const ROLE = 'trailguard-prod-publicBucket-role';
const CONFIG = parseConfig({ selfRoles: ['trailguard-prod-*'] });
const FLAGS = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'] as const;

function selfCallWith(eventName: string, requestParameters: unknown): string | undefined {
  const event = parseEnvelope(
    wrapRecord({
      eventTime: '2026-11-20T09:15:00Z',
      eventSource: 's3.amazonaws.com',
      eventName,
      awsRegion: 'eu-west-1',
      eventID: 'e-1',
      recipientAccountId: ACCOUNT,
      requestParameters,
      userIdentity: {
        type: 'AssumedRole',
        accountId: ACCOUNT,
        arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/s`,
        sessionContext: { sessionIssuer: { userName: ROLE } },
      },
    }),
  );
  return selfCallOf(event.detail, event.account, CONFIG);
}

// Values a sloppy export or a hostile caller puts where a boolean belongs.
const flagValue = fc.oneof(fc.constant(true), fc.constant(false), fc.constantFrom('true', 'false', 1, 0, null, [true], {}), fc.jsonValue({ maxDepth: 1 }));

describe('the self-call guard over messy request parameters', () => {
  it('never throws, whatever the parameters of any call it knows', () => {
    fc.assert(
      fc.property(fc.constantFrom(...OWN_WRITE_EVENT_NAMES), fc.jsonValue({ maxDepth: 3 }), (eventName, request) => {
        const role = selfCallWith(eventName, request);
        expect(role === undefined || role === ROLE).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('takes a PutBucketPublicAccessBlock for its own exactly when all four flags are the boolean true', () => {
    const block = fc.record(Object.fromEntries(FLAGS.map((flag) => [flag, flagValue])) as Record<(typeof FLAGS)[number], typeof flagValue>, {
      requiredKeys: [],
    });
    fc.assert(
      fc.property(block, (config) => {
        const ours = selfCallWith('PutBucketPublicAccessBlock', { bucketName: 'example-reports', PublicAccessBlockConfiguration: config }) === ROLE;
        expect(ours).toBe(FLAGS.every((flag) => config[flag] === true));
      }),
      { numRuns: 1000 },
    );
  });

  it('takes an UpdateTrail for its own only when every field but the name is a setting it restores, set to true', () => {
    const field = fc.constantFrom('isMultiRegionTrail', 'enableLogFileValidation', 'includeGlobalServiceEvents', 'kmsKeyId', 's3BucketName', 'snsTopicName');
    const fields = fc.dictionary(field, flagValue);
    fc.assert(
      fc.property(fields, (settings) => {
        const ours = selfCallWith('UpdateTrail', { name: 'example-audit-trail', ...settings }) === ROLE;
        const restoring = Object.entries(settings);
        const onlyTurnsOn =
          restoring.length > 0 && restoring.every(([key, value]) => key !== 'kmsKeyId' && key !== 's3BucketName' && key !== 'snsTopicName' && value === true);
        expect(ours).toBe(onlyTurnsOn);
      }),
      { numRuns: 1000 },
    );
  });
});
