import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { RemediationRecord } from '../../../shared/remediation-log.js';

/**
 * The test's own view of the endpoint: SDK clients built here, not through trailguard's factories, so every
 * assertion is an independent read of what trailguard did.
 */

/** The endpoint (checked by the global setup) and the region the suite works in. */
export const ENDPOINT = process.env.AWS_ENDPOINT_URL ?? '';
export const REGION = process.env.AWS_REGION ?? 'us-east-1';
/** A second region: a trail's home region that is not the event's. */
export const OTHER_REGION = REGION === 'eu-west-1' ? 'us-east-1' : 'eu-west-1';
/** moto's default account (STS GetCallerIdentity answers it; its README says so). */
export const ACCOUNT = '123456789012';

const credentials = { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'testing' };
const options = (region = REGION) => ({ region, endpoint: ENDPOINT, credentials, maxAttempts: 1 });

export const aws = {
  // Path-style: with a custom endpoint, virtual-hosted names (bucket.127.0.0.1) do not resolve.
  s3: new S3Client({ ...options(), forcePathStyle: true }),
  ec2: new EC2Client(options()),
  cloudTrail: (region = REGION) => new CloudTrailClient(options(region)),
  sns: new SNSClient(options()),
  sqs: new SQSClient(options()),
  dynamo: new DynamoDBClient(options()),
  events: new EventBridgeClient(options()),
};

/** Wipes every resource on the emulator (moto's reset API), so each test starts from nothing. */
export async function resetEmulator(): Promise<void> {
  const answer = await fetch(new URL('/moto-api/reset', ENDPOINT), { method: 'POST' });
  if (!answer.ok) throw new Error(`POST /moto-api/reset answered ${answer.status}`);
}

/** Creates a queue and returns its URL and ARN. */
export async function createQueue(name: string): Promise<{ url: string; arn: string }> {
  const url = (await aws.sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl ?? '';
  const attributes = await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: attributes.Attributes?.QueueArn ?? '' };
}

/**
 * Everything new in a queue: receives until a receive comes back empty. No long polling: moto delivers
 * SNS and EventBridge messages to SQS within the publishing call, so an empty answer means none came.
 */
export async function drainQueue(url: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const answer = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 300 }));
    const messages = answer.Messages ?? [];
    if (messages.length === 0) return bodies;
    bodies.push(...messages.map((message) => message.Body ?? ''));
  }
}

/** One SNS notification as an SQS subscriber (raw delivery off) receives it: SNS's JSON envelope. */
export interface ReceivedNotification {
  readonly subject: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** The envelope's `Message`: the `sqs` member of trailguard's `MessageStructure: 'json'` message. */
  readonly message: { readonly subject: string; readonly record: RemediationRecord };
}

/** The notification topic with an SQS queue subscribed to it, as an operator would wire a machine consumer. */
export async function notificationTopic(name = 'trailguard-e2e-notifications') {
  const topicArn = (await aws.sns.send(new CreateTopicCommand({ Name: name }))).TopicArn ?? '';
  const queue = await createQueue(`${name}-inbox`);
  // Raw delivery stays off: the body is SNS's envelope, with Subject and MessageAttributes in it.
  await aws.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queue.arn }));
  return {
    topicArn,
    /** The notifications that arrived since the last call. */
    async received(): Promise<ReceivedNotification[]> {
      return (await drainQueue(queue.url)).map((body) => {
        const envelope = JSON.parse(body) as {
          Type: string;
          Subject: string;
          Message: string;
          MessageAttributes?: Record<string, { Type: string; Value: string }>;
        };
        if (envelope.Type !== 'Notification') throw new Error(`expected an SNS Notification envelope, got ${body.slice(0, 200)}`);
        const attributes = Object.fromEntries(Object.entries(envelope.MessageAttributes ?? {}).map(([key, value]) => [key, value.Value]));
        return { subject: envelope.Subject, attributes, message: JSON.parse(envelope.Message) as ReceivedNotification['message'] };
      });
    },
  };
}

/** The state table as serverless.yml declares it: `pk` string key (TTL is irrelevant within a test). */
export async function createStateTable(name = 'trailguard-e2e-state'): Promise<string> {
  await aws.dynamo.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return name;
}

/** A topic ARN in the suite's account and region that names no topic. */
export const MISSING_TOPIC_ARN = `arn:aws:sns:${REGION}:${ACCOUNT}:trailguard-e2e-no-such-topic`;
