// Generates a large CloudTrail log file ({"Records": [...]}, gzipped, as CloudTrail delivers to S3) with a
// realistic mix: mostly calls no rule cares about (AssumeRole, Describe*, GetObject, Decrypt, …) and a
// small share that matches each rule, taken from the bundled samples in events/<rule>/.
import { once } from 'node:events';
import { createWriteStream, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';

const EVENTS_DIR = join(import.meta.dirname, '..', 'events');
const ACCOUNT = '111122223333';
const REGIONS = ['eu-west-1', 'us-east-1', 'eu-central-1'];

/** Share of records per rule that come from that rule's samples (the rest are irrelevant calls). */
export const RULE_SHARE = 0.01;

/** A small deterministic PRNG (mulberry32), so the same seed gives the same file. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (n: number, width: number) => (n >>> 0).toString(16).padStart(width, '0').slice(-width);

function roleIdentity(role: string, session: string) {
  return {
    type: 'AssumedRole',
    principalId: `AROAEXAMPLE${hex(role.length * 7919, 8).toUpperCase()}:${session}`,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session}`,
    accountId: ACCOUNT,
    accessKeyId: 'ASIAEXAMPLEKEY000001',
    sessionContext: {
      sessionIssuer: { type: 'Role', principalId: 'AROAEXAMPLEISSUER0001', arn: `arn:aws:iam::${ACCOUNT}:role/${role}`, accountId: ACCOUNT, userName: role },
      webIdFederationData: {},
      attributes: { creationDate: '2026-11-20T08:00:00Z', mfaAuthenticated: 'false' },
    },
  };
}

const SDK_AGENT =
  'aws-sdk-java/2.25.60 Linux/5.10.219-208.866.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/standard';

type Irrelevant = (r: () => number, region: string) => Record<string, unknown>;

/**
 * Calls that no remediation rule's pattern matches, with their typical share of a busy account's management +
 * data events. The console sign-in alerts see the ConsoleLogin (a success with MFA: compliant for both).
 */
const IRRELEVANT: readonly (readonly [number, Irrelevant])[] = [
  [
    30,
    (r) => ({
      eventSource: 'sts.amazonaws.com',
      eventName: 'AssumeRole',
      userIdentity: { type: 'AWSService', invokedBy: 'ecs-tasks.amazonaws.com' },
      sourceIPAddress: 'ecs-tasks.amazonaws.com',
      userAgent: 'ecs-tasks.amazonaws.com',
      requestParameters: {
        roleArn: `arn:aws:iam::${ACCOUNT}:role/app-task-${Math.floor(r() * 40)}`,
        roleSessionName: `task-${hex(r() * 2 ** 32, 8)}`,
        durationSeconds: 3600,
      },
      responseElements: {
        credentials: { accessKeyId: 'ASIAEXAMPLEKEY000002', sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLETOKEN', expiration: 'Nov 20, 2026, 10:15:00 AM' },
        assumedRoleUser: { assumedRoleId: 'AROAEXAMPLE:task', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/app-task/task` },
      },
      readOnly: true,
      resources: [{ accountId: ACCOUNT, type: 'AWS::IAM::Role', ARN: `arn:aws:iam::${ACCOUNT}:role/app-task` }],
    }),
  ],
  [
    20,
    (r) => ({
      eventSource: 's3.amazonaws.com',
      eventName: r() < 0.7 ? 'GetObject' : 'PutObject',
      userIdentity: roleIdentity('app-task-3', `task-${hex(r() * 2 ** 32, 8)}`),
      sourceIPAddress: '10.0.12.34',
      userAgent: SDK_AGENT,
      requestParameters: {
        bucketName: `example-data-${Math.floor(r() * 12)}`,
        Host: 'example-data.s3.eu-west-1.amazonaws.com',
        key: `incoming/2026/11/20/${hex(r() * 2 ** 32, 8)}.parquet`,
      },
      responseElements: null,
      additionalEventData: {
        SignatureVersion: 'SigV4',
        CipherSuite: 'TLS_AES_128_GCM_SHA256',
        bytesTransferredIn: 0,
        AuthenticationMethod: 'AuthHeader',
        'x-amz-id-2': 'EXAMPLEID2',
        bytesTransferredOut: Math.floor(r() * 1e6),
      },
      readOnly: true,
      eventCategory: 'Data',
      managementEvent: false,
      resources: [
        { type: 'AWS::S3::Object', ARN: 'arn:aws:s3:::example-data/incoming/object' },
        { accountId: ACCOUNT, type: 'AWS::S3::Bucket', ARN: 'arn:aws:s3:::example-data' },
      ],
    }),
  ],
  [
    15,
    (r) => ({
      eventSource: 'ec2.amazonaws.com',
      eventName: ['DescribeInstances', 'DescribeSecurityGroups', 'DescribeVolumes', 'DescribeSubnets'][Math.floor(r() * 4)],
      userIdentity: roleIdentity('monitoring', 'poller'),
      sourceIPAddress: '198.51.100.7',
      userAgent: SDK_AGENT,
      requestParameters: { maxResults: 1000, filterSet: { items: [{ name: 'vpc-id', valueSet: { items: [{ value: `vpc-${hex(r() * 2 ** 32, 8)}` }] } }] } },
      responseElements: null,
      readOnly: true,
    }),
  ],
  [
    15,
    (r) => ({
      eventSource: 'kms.amazonaws.com',
      eventName: r() < 0.8 ? 'Decrypt' : 'GenerateDataKey',
      userIdentity: roleIdentity('app-task-1', 'task'),
      sourceIPAddress: 'secretsmanager.amazonaws.com',
      userAgent: 'secretsmanager.amazonaws.com',
      requestParameters: {
        encryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        encryptionContext: { SecretARN: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:db-${Math.floor(r() * 9)}` },
      },
      responseElements: null,
      readOnly: true,
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:eu-west-1:${ACCOUNT}:key/0000aaaa-bbbb-cccc-dddd-${hex(r() * 2 ** 32, 12)}` }],
    }),
  ],
  [
    8,
    () => ({
      eventSource: 'logs.amazonaws.com',
      eventName: 'CreateLogStream',
      userIdentity: roleIdentity('lambda-exec', 'fn'),
      sourceIPAddress: '10.0.1.2',
      userAgent: 'awslambda-worker/1.0',
      requestParameters: { logGroupName: '/aws/lambda/orders', logStreamName: '2026/11/20/[$LATEST]abc' },
      responseElements: null,
      readOnly: false,
    }),
  ],
  [
    5,
    () => ({
      eventSource: 'sts.amazonaws.com',
      eventName: 'GetCallerIdentity',
      userIdentity: roleIdentity('ci-deploy', 'github'),
      sourceIPAddress: '192.0.2.44',
      userAgent: 'aws-cli/2.17.60 md/awscrt#0.21.2 ua/2.0 os/linux#6.1',
      requestParameters: null,
      responseElements: null,
      readOnly: true,
    }),
  ],
  [
    4,
    () => ({
      eventSource: 's3.amazonaws.com',
      eventName: 'ListBuckets',
      userIdentity: roleIdentity('ci-deploy', 'github'),
      sourceIPAddress: '192.0.2.44',
      userAgent: 'aws-cli/2.17.60',
      requestParameters: { Host: 's3.amazonaws.com' },
      responseElements: null,
      readOnly: true,
    }),
  ],
  [
    3,
    () => ({
      eventSource: 'signin.amazonaws.com',
      eventName: 'ConsoleLogin',
      eventType: 'AwsConsoleSignIn',
      userIdentity: { type: 'IAMUser', principalId: 'AIDAEXAMPLEPRINCIPAL1', arn: `arn:aws:iam::${ACCOUNT}:user/alice`, accountId: ACCOUNT, userName: 'alice' },
      sourceIPAddress: '203.0.113.10',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0',
      requestParameters: null,
      responseElements: { ConsoleLogin: 'Success' },
      additionalEventData: { MFAUsed: 'Yes', MobileVersion: 'No', LoginTo: 'https://console.aws.amazon.com/' },
      readOnly: false,
    }),
  ],
];
const IRRELEVANT_WEIGHT = IRRELEVANT.reduce((sum, [weight]) => sum + weight, 0);

/** The bare CloudTrail records of a rule's samples (envelope `detail`, or the log file's first record). */
export function sampleRecords(rule: string): Record<string, unknown>[] {
  return readdirSync(join(EVENTS_DIR, rule))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const value = JSON.parse(readFileSync(join(EVENTS_DIR, rule, file), 'utf8')) as Record<string, unknown>;
      const records = value.Records as Record<string, unknown>[] | undefined;
      return (records?.[0] ?? value.detail ?? value) as Record<string, unknown>;
    });
}

export interface GeneratedLog {
  readonly records: readonly Record<string, unknown>[];
  /** How many records were taken from each rule's samples. */
  readonly fromRule: Readonly<Record<string, number>>;
  /** Per record, the rule whose samples it was taken from; undefined for an irrelevant call. */
  readonly origins: readonly (string | undefined)[];
}

/** `count` records: RULE_SHARE of them per rule from its samples, the rest irrelevant calls, shuffled by `seed`. */
export function generateRecords(count: number, rules: readonly string[], seed = 1): GeneratedLog {
  const fromRule: Record<string, number> = Object.fromEntries(rules.map((rule) => [rule, 0]));
  const records: Record<string, unknown>[] = [];
  const origins: (string | undefined)[] = [];
  for (const { record, origin } of eachRecord(count, rules, seed)) {
    records.push(record);
    origins.push(origin);
    if (origin !== undefined) fromRule[origin] = (fromRule[origin] ?? 0) + 1;
  }
  return { records, fromRule, origins };
}

/** The records of generateRecords one at a time, so a file of a million is written in the memory of one. */
export function* eachRecord(count: number, rules: readonly string[], seed = 1): Generator<{ record: Record<string, unknown>; origin: string | undefined }> {
  const random = prng(seed);
  const templates = Object.fromEntries(rules.map((rule) => [rule, sampleRecords(rule)]));
  const start = Date.parse('2026-11-20T09:00:00Z');
  for (let i = 0; i < count; i += 1) {
    const roll = random();
    const eventTime = new Date(start + i * 50).toISOString().replace(/\.\d+Z$/, 'Z');
    const eventID = `${hex(i, 8)}-${hex(seed, 4)}-4000-8000-${hex(random() * 2 ** 32, 12)}`;
    const ruleIndex = Math.floor(roll / RULE_SHARE);
    const rule = rules[ruleIndex];
    if (rule !== undefined) {
      const pool = templates[rule] ?? [];
      const template = pool[Math.floor(random() * pool.length)] ?? {};
      yield { record: { ...template, eventTime, eventID }, origin: rule };
      continue;
    }
    // A kind by weight: the first whose weight takes a random point in the total weight below zero.
    let pick = random() * IRRELEVANT_WEIGHT;
    let make = IRRELEVANT[0]?.[1] as Irrelevant;
    for (const [weight, kind] of IRRELEVANT) {
      pick -= weight;
      if (pick < 0) {
        make = kind;
        break;
      }
    }
    const region = REGIONS[Math.floor(random() * REGIONS.length)] as string;
    const body = make(random, region);
    yield {
      record: {
        eventVersion: '1.09',
        eventTime,
        awsRegion: region,
        eventID,
        eventType: 'AwsApiCall',
        managementEvent: true,
        recipientAccountId: ACCOUNT,
        eventCategory: 'Management',
        requestID: hex(random() * 2 ** 32, 8).toUpperCase(),
        tlsDetails: {
          tlsVersion: 'TLSv1.3',
          cipherSuite: 'TLS_AES_128_GCM_SHA256',
          clientProvidedHostHeader: `${String(body.eventSource).split('.')[0]}.${region}.amazonaws.com`,
        },
        ...body,
      },
      origin: undefined,
    };
  }
}

/** Writes the records as one gzipped CloudTrail log file; returns its sizes. */
export function writeLogFile(path: string, log: GeneratedLog): { readonly bytes: number; readonly gzipBytes: number } {
  const body = Buffer.from(`{"Records":[${log.records.map((record) => JSON.stringify(record)).join(',')}]}`, 'utf8');
  // Level 1 keeps generation quick; gunzip speed barely depends on the level the file was written with.
  const gz = gzipSync(body, { level: 1 });
  writeFileSync(path, gz);
  return { bytes: body.length, gzipBytes: gz.length };
}

/**
 * Writes `count` generated records as they are made, gzipped (level 1): a CloudTrail log file
 * (`{"Records":[...]}`) or JSON lines. Memory stays flat however many; returns the sizes and the rule counts.
 */
export async function writeGenerated(
  path: string,
  count: number,
  rules: readonly string[],
  kind: 'log' | 'jsonl',
  seed = 1,
): Promise<{ readonly bytes: number; readonly gzipBytes: number; readonly fromRule: Readonly<Record<string, number>> }> {
  const fromRule: Record<string, number> = Object.fromEntries(rules.map((rule) => [rule, 0]));
  const gzip = createGzip({ level: 1 });
  const done = pipeline(gzip, createWriteStream(path));
  let bytes = 0;
  let pending = kind === 'log' ? '{"Records":[' : '';
  let first = true;
  const write = async (text: string) => {
    bytes += Buffer.byteLength(text);
    if (!gzip.write(text)) await once(gzip, 'drain');
  };
  for (const { record, origin } of eachRecord(count, rules, seed)) {
    if (origin !== undefined) fromRule[origin] = (fromRule[origin] ?? 0) + 1;
    pending += kind === 'log' ? `${first ? '' : ','}${JSON.stringify(record)}` : `${JSON.stringify(record)}\n`;
    first = false;
    if (pending.length > 1 << 20) {
      await write(pending);
      pending = '';
    }
  }
  await write(kind === 'log' ? `${pending}]}` : pending);
  gzip.end();
  await done;
  return { bytes, gzipBytes: statSync(path).size, fromRule };
}
