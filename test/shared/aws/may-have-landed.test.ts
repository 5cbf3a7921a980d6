import { describe, expect, it } from 'vitest';
import { classifyAwsError, mayHaveLanded } from '../../../shared/aws/errors.js';
import { AwsCallError } from '../../../shared/errors.js';

// Review of issue 22, finding 1: only a write whose error proves it was not applied leaves no intent to read back.
const sdkError = (name: string, status?: number) => Object.assign(new Error(name), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });

describe('whether a failed write may still have been applied', () => {
  it.each([
    ['ThrottlingException', 400],
    ['RequestLimitExceeded', 503], // EC2 throttling
    ['SlowDown', 503], // S3 throttling: a 503 that refuses the request
    ['InvalidParameterValue', 400],
    ['ECONNREFUSED', undefined],
    ['ENOTFOUND', undefined],
  ])('not after %s (status %s): it was refused or never sent', (code, status) => {
    expect(mayHaveLanded(sdkError(code, status))).toBe(false);
    expect(mayHaveLanded(classifyAwsError(sdkError(code, status), 'CloudTrail.StartLogging', 'example-audit-trail'))).toBe(false);
  });

  it.each([
    ['InternalError', 500],
    ['ServiceUnavailable', 503],
    ['ECONNRESET', undefined],
    ['EPIPE', undefined],
    ['TimeoutError', undefined],
    ['DeadlineExceeded', undefined],
  ])('maybe after %s (status %s): it may have been applied before the answer was lost', (code, status) => {
    expect(mayHaveLanded(sdkError(code, status))).toBe(true);
    expect(mayHaveLanded(classifyAwsError(sdkError(code, status), 'CloudTrail.StartLogging', 'example-audit-trail'))).toBe(true);
  });

  it('reads a classified error by its code when it has no SDK cause', () => {
    expect(mayHaveLanded(new AwsCallError('EC2.RevokeSecurityGroupIngress', 'sg-1', 'transient', 'RequestLimitExceeded'))).toBe(false);
    expect(mayHaveLanded(new AwsCallError('EC2.RevokeSecurityGroupIngress', 'sg-1', 'transient', 'ECONNRESET'))).toBe(true);
  });
});

describe('a throttled state table', () => {
  it('is transient, though DynamoDB answers it with a 400', () => {
    expect(classifyAwsError(sdkError('ProvisionedThroughputExceededException', 400), 'DynamoDB.UpdateItem', 'trailguard-state')).toMatchObject({
      kind: 'transient',
    });
    expect(classifyAwsError(sdkError('ValidationException', 400), 'DynamoDB.UpdateItem', 'trailguard-state')).toMatchObject({ kind: 'invalid' });
  });
});
