// The unit suite shares a process between test files (vitest.config.ts, isolate: false): what one file does to
// the SDK's client classes must not reach the next. These are the replacements the suite makes.
import { S3Client, __Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_PACKAGES, restoreSdkSend } from './sdk-send.js';

const SDK_SEND = __Client.prototype.send;
const replaced = async () => 'replaced';

describe('restoreSdkSend, run before every unit test file', () => {
  afterEach(restoreSdkSend);

  it('knows every client package the project uses', () => {
    expect(CLIENT_PACKAGES).toEqual(expect.arrayContaining(['@aws-sdk/client-s3', '@aws-sdk/client-sns', '@aws-sdk/client-eventbridge']));
  });

  it("undoes mockClient's stub on a client class", async () => {
    mockClient(S3Client).resolves({});
    expect(new S3Client({}).send).not.toBe(SDK_SEND);
    await restoreSdkSend();
    expect(Object.hasOwn(S3Client.prototype, 'send')).toBe(false);
    expect(new S3Client({}).send).toBe(SDK_SEND);
  });

  it('removes a send assigned on a client class, as bench/fake-aws.ts does', async () => {
    (SNSClient.prototype as unknown as { send: unknown }).send = replaced;
    await restoreSdkSend();
    expect(new SNSClient({}).send).toBe(SDK_SEND);
  });

  it("puts back the base class's own send when a test replaced it", async () => {
    (__Client.prototype as unknown as { send: unknown }).send = replaced;
    await restoreSdkSend();
    expect(__Client.prototype.send).toBe(SDK_SEND);
    expect(new S3Client({}).send).toBe(SDK_SEND);
  });
});
