// The init + first event bench's pieces: the call recording (through the same child process the bench starts),
// the fake endpoint, whose every scripted answer a real SDK client must read back as the recorded output, the
// floor's share of the calls, and the report. No child is timed here.
import { STORE_WATCH_RULE } from '../../shared/live-config/live-config.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dynamodb from '@aws-sdk/client-dynamodb';
import * as cloudtrail from '@aws-sdk/client-cloudtrail';
import * as ec2 from '@aws-sdk/client-ec2';
import * as s3 from '@aws-sdk/client-s3';
import * as sns from '@aws-sdk/client-sns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeEndpoint, type FakeEndpoint, type Session } from '../../bench/fake-endpoint.js';
import {
  CHILD_TIMEOUT_MS,
  FIRST_EVENT_TARGETS,
  type FirstEventRow,
  firstEventReport,
  floorEvent,
  floorOutcome,
  missingFromFloor,
  RAW_SSM,
  runChild,
} from '../../bench/first-event.js';
import type { FirstEventRecording, RecordedCall } from '../../bench/first-event-record.js';
import { expectedOutcome } from '../../bench/minimums.js';
import { ssmReader } from '../../shared/live-config/ssm-reader.js';
import { baseClientConfig } from '../../shared/aws/client-options.js';

const ROOT = join(import.meta.dirname, '..', '..');
// A rule per protocol and path: S3 restXml with an error answer and a read-back (public-bucket), EC2 query
// (open-security-group, untagged-instance), CloudTrail awsJson (trail-logging, s3-bucket-deleted), SNS query and
// DynamoDB awsJson (every rule), SSM over the hand-written reader (every rule; the store-change alert's GetParameter),
// and the counting rule whose prior events set its counters (console-signin-failures).
const RULES = ['public-bucket', 'open-security-group', 'untagged-instance', 'trail-logging', 's3-bucket-deleted', STORE_WATCH_RULE, 'console-signin-failures'];
const CREDENTIALS = { accessKeyId: 'AKIAEXAMPLEBENCH0001', secretAccessKey: 'bench-only-not-a-secret' };
const PACKAGES: Record<string, Record<string, unknown>> = { S3: s3, EC2: ec2, CloudTrail: cloudtrail, SNS: sns, DynamoDB: dynamodb };

let recording: FirstEventRecording;
let endpoint: FakeEndpoint;

beforeAll(async () => {
  const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/first-event-record.ts', ...RULES], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (child.status !== 0) throw new Error(`first-event-record.ts exited ${child.status}: ${child.stderr}`);
  recording = JSON.parse(child.stdout) as FirstEventRecording;
  endpoint = await startFakeEndpoint();
}, 60_000);

afterAll(async () => {
  await endpoint?.close();
});

/** Sends one recorded call as the function would: the SDK client and command with its input, or the SSM reader. */
async function send(call: RecordedCall): Promise<unknown> {
  if (call.raw) {
    const reader = ssmReader({ region: 'us-east-1', endpoint: endpoint.url, credentials: async () => CREDENTIALS });
    const input = call.input as { Names?: string[]; Name?: string; Path?: string };
    if (call.operation === 'GetParameters') return reader.getParameters(input.Names ?? []);
    if (call.operation === 'GetParametersByPath') return reader.getParametersByPath(input.Path ?? '');
    return reader.getParameter(input.Name ?? '');
  }
  const pkg = PACKAGES[call.service] as Record<string, new (input: unknown) => { send(command: unknown): Promise<unknown> }>;
  const Client = pkg[call.client ?? ''] as unknown as new (config: unknown) => { send(command: unknown): Promise<unknown> };
  const Command = pkg[call.command ?? ''] as unknown as new (input: unknown) => unknown;
  const client = new Client({
    ...baseClientConfig({ region: 'eu-west-1', endpoint: endpoint.url, readOnly: false }),
    credentials: CREDENTIALS,
    ...(call.service === 'S3' ? { forcePathStyle: true } : {}),
  });
  return client.send(new Command(call.input));
}

const withoutMetadata = (output: unknown) => {
  const { $metadata: _, ...rest } = output as Record<string, unknown>;
  return rest;
};

describe('the first-event call recording', () => {
  it("records each rule's live calls with inputs and answers, ending in its expected outcome", () => {
    expect(recording.rules.map((r) => r.rule)).toEqual(expect.arrayContaining(RULES));
    for (const rule of recording.rules) {
      expect(rule.outcome, rule.rule).toBe(expectedOutcome(rule.rule as never, 'live'));
      // Every function reads its live configuration first, claims the event in the state table, and notifies.
      expect(
        rule.calls
          .filter((c) => c.step === 0)
          .map((c) => `${c.service}.${c.operation}`)
          .sort(),
        rule.rule,
      ).toEqual(['SSM.GetParameters', 'SSM.GetParametersByPath', 'SSM.GetParametersByPath']);
      expect(
        rule.calls.some((c) => c.service === 'DynamoDB' && c.operation === 'UpdateItem'),
        rule.rule,
      ).toBe(true);
      expect(rule.calls.at(-1)?.operation, rule.rule).toBe('Publish');
      for (const call of rule.calls) expect(call.raw, `${rule.rule} ${call.operation}`).toBe(call.service === 'SSM');
    }
  });

  it("records a remediation's read-back after its write, seeing the fix", () => {
    const calls = recording.rules.find((r) => r.rule === 'public-bucket')?.calls ?? [];
    const reads = calls.filter((c) => c.operation === 'GetPublicAccessBlock');
    const write = calls.findIndex((c) => c.operation === 'PutPublicAccessBlock');
    expect(reads).toHaveLength(2);
    expect(reads[0]?.answer).toMatchObject({ error: { name: 'NoSuchPublicAccessBlockConfiguration' } });
    expect(calls.indexOf(reads[1] as RecordedCall)).toBeGreaterThan(write);
    expect(reads[1]?.answer).toMatchObject({ status: 200, output: { PublicAccessBlockConfiguration: { BlockPublicAcls: true } } });
  });

  it('records the counting rule after its prior events: its counters stand at the threshold', () => {
    const calls = recording.rules.find((r) => r.rule === 'console-signin-failures')?.calls ?? [];
    const totals = calls.flatMap((c) =>
      'output' in c.answer ? [Number((c.answer.output as { Attributes?: { total?: { N?: string } } }).Attributes?.total?.N)] : [],
    );
    expect(Math.max(...totals.filter(Number.isFinite))).toBe(5);
  });

  it('groups calls made concurrently into one step', () => {
    for (const rule of recording.rules) {
      const steps = rule.calls.map((c) => c.step);
      expect(steps, rule.rule).toEqual([...steps].sort((a, b) => a - b));
      expect(new Set(steps).size, rule.rule).toBeLessThan(steps.length);
    }
  });
});

describe('the fake endpoint', () => {
  it('answers every recorded call so that the real SDK parses back the recorded output or error', async () => {
    for (const rule of recording.rules) {
      endpoint.serve(rule.calls);
      let session: Session;
      try {
        for (const call of rule.calls) {
          const label = `${rule.rule} ${call.service}.${call.operation}`;
          if ('error' in call.answer) {
            await expect(send(call), label).rejects.toMatchObject({ name: call.answer.error.name });
            continue;
          }
          const got = await send(call);
          // The SSM reader returns its own shape (the next test checks it); the SDK returns the output.
          if (!call.raw) expect(withoutMetadata(got), label).toEqual(call.answer.output);
        }
      } finally {
        session = endpoint.finish();
      }
      expect(session.unexpected, rule.rule).toEqual([]);
      expect(session.missing, rule.rule).toEqual([]);
      expect(session.served, rule.rule).toHaveLength(rule.calls.length);
    }
  });

  it('gives the SSM reader the recorded parameters', async () => {
    const call = recording.rules.find((r) => r.rule === STORE_WATCH_RULE)?.calls.find((c) => c.operation === 'GetParameter') as RecordedCall;
    endpoint.serve([call]);
    expect(await send(call)).toEqual({
      name: '/trailguard/prod/exemptions/all/_-684888c0',
      value: '{"resource":"build-host-01","reason":"bench"}',
      version: 1,
    });
    expect(endpoint.finish().missing).toEqual([]);
  });

  it('answers a call the script does not hold with an error no SDK retries, and reports it', async () => {
    endpoint.serve([]);
    const client = new cloudtrail.CloudTrailClient({
      ...baseClientConfig({ region: 'us-east-1', endpoint: endpoint.url, readOnly: false }),
      credentials: CREDENTIALS,
    });
    await expect(client.send(new cloudtrail.GetTrailStatusCommand({ Name: 'example-audit-trail' }))).rejects.toThrow();
    const session = endpoint.finish();
    expect(session.unexpected).toHaveLength(1);
    expect(session.unexpected[0]).toMatch(/^CloudTrail\.GetTrailStatus: no scripted answer/);
  });

  it('serves answers by operation in recorded order, and reports script entries never asked', async () => {
    const answer = (total: string) => ({
      service: 'DynamoDB',
      operation: 'UpdateItem',
      answer: { status: 200 as const, output: { Attributes: { total: { N: total } } } },
    });
    endpoint.serve([answer('1'), answer('2')]);
    const client = new dynamodb.DynamoDBClient({
      ...baseClientConfig({ region: 'us-east-1', endpoint: endpoint.url, readOnly: false }),
      credentials: CREDENTIALS,
    });
    const update = () =>
      client.send(
        new dynamodb.UpdateItemCommand({
          TableName: 't',
          Key: { pk: { S: 'k' } },
          UpdateExpression: 'ADD #t :n',
          ExpressionAttributeNames: { '#t': 'total' },
          ExpressionAttributeValues: { ':n': { N: '1' } },
        }),
      );
    expect((await update()).Attributes).toEqual({ total: { N: '1' } });
    expect(endpoint.finish()).toEqual({ served: ['DynamoDB.UpdateItem'], missing: ['DynamoDB.UpdateItem'], unexpected: [] });
  });
});

describe("the SDK floor's share of the recording", () => {
  const call = (over: Partial<RecordedCall>): RecordedCall => ({
    service: 'DynamoDB',
    operation: 'UpdateItem',
    client: 'DynamoDBClient',
    command: 'UpdateItemCommand',
    raw: false,
    step: 0,
    input: {},
    answer: { status: 200, output: {} },
    ...over,
  });
  const calls: RecordedCall[] = [
    call({ service: 'SSM', operation: 'GetParameters', client: undefined, command: undefined, raw: true, step: 0 }),
    call({ step: 1, input: { TableName: 'a' } }),
    call({ step: 2, operation: 'GetItem', command: 'GetItemCommand' }),
    call({ step: 2 }),
    call({
      step: 3,
      service: 'S3',
      operation: 'GetPublicAccessBlock',
      client: 'S3Client',
      command: 'GetPublicAccessBlockCommand',
      answer: { status: 404, error: { name: 'NoSuchPublicAccessBlockConfiguration', message: '' } },
    }),
  ];

  it('sends the calls step by step with their inputs, a hand-written SSM call as the raw request', () => {
    const event = floorEvent(calls, 'http://127.0.0.1:1', 'us-east-1');
    expect(event).toEqual({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:1',
      steps: [
        [{ client: RAW_SSM, command: 'GetParameters', input: {} }],
        [{ client: 'DynamoDBClient', command: 'UpdateItemCommand', input: { TableName: 'a' } }],
        [
          { client: 'DynamoDBClient', command: 'GetItemCommand', input: {} },
          { client: 'DynamoDBClient', command: 'UpdateItemCommand', input: {} },
        ],
        [{ client: 'S3Client', command: 'GetPublicAccessBlockCommand', input: {} }],
      ],
    });
  });

  it('expects the floor to count the answers and name the recorded errors', () => {
    expect(floorOutcome(calls)).toBe('4 answers, errors NoSuchPublicAccessBlockConfiguration');
    expect(floorOutcome(calls.slice(0, 2))).toBe('2 answers');
  });

  it('names the SDK calls a floor cannot make (the hand-written ones it always can)', () => {
    const floor = { clients: [{ package: '@aws-sdk/client-dynamodb', client: 'DynamoDBClient', commands: ['GetItemCommand', 'UpdateItemCommand'] }] };
    expect(missingFromFloor(calls, floor)).toEqual(['S3Client.GetPublicAccessBlockCommand']);
    expect(missingFromFloor(calls.slice(0, 4), floor)).toEqual([]);
  });

  it("keeps every recorded rule's calls in floor steps in recorded order", () => {
    for (const rule of recording.rules) {
      const steps = floorEvent(rule.calls, endpoint.url, 'us-east-1').steps;
      expect(
        steps.flat().map((s) => s.command),
        rule.rule,
      ).toEqual(rule.calls.map((c) => c.command ?? c.operation));
      expect(steps, rule.rule).toHaveLength(new Set(rule.calls.map((c) => c.step)).size);
    }
  });
});

describe('the first-event report', () => {
  const spreadOf = (median: number) => ({ n: 3, median, p10: median - 1, p90: median + 1 });
  const row = (over: Partial<FirstEventRow>): FirstEventRow => ({
    name: 'publicBucket',
    rule: 'public-bucket',
    sample: 'would-remediate.x',
    sdkCalls: 13,
    rawCalls: 3,
    floor: spreadOf(200),
    bundled: spreadOf(210),
    ratio: 1.05,
    floorCpuMs: 150,
    bundledCpuMs: 160,
    cpuRatio: 1.067,
    floorRssMiB: 58,
    bundledRssMiB: 60,
    rssDeltaMiB: 2,
    outcome: 'remediated',
    expected: 'remediated',
    problems: [],
    timeVerdict: 'MET',
    rssVerdict: 'MET',
    ...over,
  });

  it('shows each row with its ratio and verdicts, and why an invalid row is invalid', () => {
    const text = firstEventReport({
      rounds: 3,
      warmup: 1,
      targets: FIRST_EVENT_TARGETS,
      rows: [
        row({}),
        row({
          name: 'trailLogging',
          outcome: 'failed',
          problems: ['the bundled child ended "failed", not "remediated"'],
          timeVerdict: 'INVALID',
          rssVerdict: 'INVALID',
        }),
      ],
      notes: ['a note'],
    });
    expect(text).toContain('| publicBucket ');
    expect(text).toMatch(/200\.0 \(199\.0–201\.0\) \| 210\.0 \(209\.0–211\.0\) \| 1\.05× \| 150\/160 = 1\.07×/);
    expect(text).toContain('failed (expected remediated)');
    expect(text).toContain('INVALID rows:\n  trailLogging: the bundled child ended "failed", not "remediated"');
    expect(text).toContain('  a note');
  });
});

describe('the first-event child', () => {
  const env = { PATH: process.env.PATH ?? '', TZ: 'UTC' };
  let dir: string;
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'first-event-child-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("handles the event once and reports the handler's outcome, its own peak RSS and CPU time", async () => {
    const module = write(
      'function.mjs',
      `export const handler = async (event, context) => ({ outcome: event.want + ':' + context.getRemainingTimeInMillis() });`,
    );
    const run = await runChild(module, write('event.json', '{"want":"remediated"}'), env);
    expect(run.outcome).toBe(`remediated:${CHILD_TIMEOUT_MS}`);
    // Its own high-water mark: a bare node is tens of MiB, far below this test process.
    expect(run.peakRssKiB).toBeGreaterThan(10 * 1024);
    expect(run.peakRssKiB).toBeLessThan(process.memoryUsage().rss / 1024);
    expect(run.cpuMs).toBeGreaterThan(0);
    expect(run.ms).toBeGreaterThan(run.cpuMs / 4);
  });

  it("sends a floor event one step per handler call, naming each step's error", async () => {
    const module = write(
      'floor.mjs',
      `export const handler = async (event) => { const step = event.steps[0]; if (step[0].fail) throw Object.assign(new Error('x'), { name: step[0].fail }); return step; };`,
    );
    const event = write('floor.json', JSON.stringify({ steps: [[{}, {}], [{ fail: 'NoSuchPublicAccessBlockConfiguration' }], [{}]] }));
    expect((await runChild(module, event, env)).outcome).toBe('3 answers, errors NoSuchPublicAccessBlockConfiguration');
  });

  it('reports a handler that throws as its outcome, and a child that hangs at its timeout', async () => {
    const thrower = write('thrower.mjs', `export const handler = async () => { throw Object.assign(new Error('retry'), { name: 'AwsCallError' }); };`);
    expect((await runChild(thrower, write('e.json', '{}'), env)).outcome).toBe('threw AwsCallError: retry');
    const hang = write('hang.mjs', 'export const handler = () => new Promise(() => setInterval(() => {}, 1000));');
    await expect(runChild(hang, write('e2.json', '{}'), env, 1500)).rejects.toThrow(/killed by SIGKILL at its 1\.5 s timeout/);
  });
});
