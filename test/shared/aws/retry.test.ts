import { GetPublicAccessBlockCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { awsCall } from '../../../shared/aws/errors.js';
import { s3Client } from '../../../shared/aws/s3.js';
import { startLocalEndpoint, type LocalEndpoint } from '../../helpers/local-endpoint.js';

// aws-sdk-client-mock replaces the SDK's send, retry middleware included: only a real HTTP endpoint proves the
// in-invocation backoff. A local server answers 503 SlowDown a set number of times, then the real body.
const BLOCKED =
  '<?xml version="1.0" encoding="UTF-8"?><PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>';
const SLOW_DOWN = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

let local: LocalEndpoint;
let endpoint: string;
let failuresLeft = 0;
const requests: string[] = [];

beforeAll(async () => {
  local = await startLocalEndpoint((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    if (failuresLeft > 0) {
      failuresLeft -= 1;
      response.writeHead(503, { 'content-type': 'application/xml' }).end(SLOW_DOWN);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/xml' }).end(BLOCKED);
  });
  endpoint = local.url;
});
afterAll(() => local.close());
beforeEach(() => {
  requests.length = 0;
});

const read = (region: string) =>
  awsCall('S3.GetPublicAccessBlock', 'example-bucket', () =>
    s3Client({ region, endpoint, readOnly: true }).send(new GetPublicAccessBlockCommand({ Bucket: 'example-bucket' })),
  );

describe('in-invocation retries, against a real HTTP endpoint', () => {
  it('retries a throttled call with backoff and succeeds: three requests, path-style', async () => {
    failuresLeft = 2;
    const answer = await read('eu-west-1');
    expect(answer.PublicAccessBlockConfiguration?.BlockPublicAcls).toBe(true);
    expect(requests).toEqual(Array(3).fill('GET /example-bucket/?publicAccessBlock='));
  });

  it('gives up after 4 attempts and throws a transient AwsCallError, for Lambda to retry', async () => {
    failuresLeft = 10;
    await expect(read('eu-west-2')).rejects.toMatchObject({ name: 'AwsCallError', kind: 'transient', code: 'SlowDown', api: 'S3.GetPublicAccessBlock' });
    expect(requests).toHaveLength(4);
    failuresLeft = 0;
  }, 30_000);
});
