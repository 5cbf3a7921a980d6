import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { type AwsSecurityFinding, type ImportFindingsError, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { describe, expect, it } from 'vitest';
import { RECORD_MESSAGE, type RemediationRecord } from '../../../shared/remediation-log.js';
import { exporterConfigOf } from '../../../shared/config.js';
import { decodeLogsEvent, exportLogEvents, hubTargetOf } from '../../../shared/security-hub/exporter.js';
import { BATCH_LIMITS, FindingsNotImportedError, importBatchWith, importFindings, type ImportBatch } from '../../../shared/security-hub/import.js';
import { record } from '../../helpers/records.js';

const TARGET = hubTargetOf('arn:aws:lambda:eu-west-1:111122223333:function:trailguard-test-securityHubExporter');
const T0 = Date.parse('2026-11-20T09:15:03.000Z');

/** A record as the rule function logs it (shared/log.ts), one CloudWatch Logs event. */
const logLine = (r: RemediationRecord, at: number) => JSON.stringify({ level: 'INFO', message: RECORD_MESSAGE, timestamp: new Date(at).toISOString(), ...r });
/** The Lambda event of a CloudWatch Logs subscription delivery. */
function logsEvent(messages: readonly { message: string; at: number }[], logGroup = '/aws/lambda/trailguard-test-publicBucket') {
  const payload = {
    messageType: 'DATA_MESSAGE',
    owner: '111122223333',
    logGroup,
    logStream: 's',
    subscriptionFilters: ['f'],
    logEvents: messages.map(({ message, at }, i) => ({ id: String(i), timestamp: at, message })),
  };
  return { awslogs: { data: gzipSync(JSON.stringify(payload)).toString('base64') } };
}

/** The Security Hub calls: a scripted import, a read-back that shows what was sent, and an update that resolves everything. */
function hubCalls(importBatch: ImportBatch) {
  const sent: AwsSecurityFinding[] = [];
  return {
    importBatch: async (findings: readonly AwsSecurityFinding[]) => {
      sent.push(...findings);
      return importBatch(findings);
    },
    getBatch: async () => sent,
    updateBatch: async () => [],
  };
}

/** An ImportBatch that records each call and answers from a script of failed findings per call. */
function fakeImport(failuresPerCall: readonly ((batch: readonly AwsSecurityFinding[]) => ImportFindingsError[])[] = []) {
  const calls: AwsSecurityFinding[][] = [];
  const importBatch: ImportBatch = async (findings) => {
    calls.push([...findings]);
    return failuresPerCall[calls.length - 1]?.(findings) ?? [];
  };
  return { calls, importBatch };
}
const logs: { message: string; fields: Record<string, unknown> }[] = [];
const log = (message: string, fields: Record<string, unknown>) => {
  logs.push({ message, fields });
};
const bucket = (i: number) => ({ type: 'AWS::S3::Bucket', id: `example-bucket-${i}` });

describe('exportLogEvents', () => {
  it('imports one finding per record line, and skips a line that is not a record with a log naming it', async () => {
    logs.length = 0;
    const { calls, importBatch } = fakeImport();
    const event = logsEvent([
      { message: logLine(record({ outcome: 'would-remediate', controls: ['S3.8'] }), T0), at: T0 },
      { message: '{"level":"INFO","message":"trailguard remediation","outcome":"nonsense"}', at: T0 },
      { message: 'not json at all', at: T0 },
    ]);

    const summary = await exportLogEvents(event, TARGET, hubCalls(importBatch), log);

    expect(summary).toMatchObject({ lines: 3, records: 1, skipped: 2, imported: 1 });
    expect(calls).toHaveLength(1);
    expect(calls[0]?.[0]).toMatchObject({ GeneratorId: 'trailguard/public-bucket', Compliance: { Status: 'FAILED', SecurityControlId: 'S3.8' } });
    expect(logs.filter((l) => l.message === 'not a remediation record: skipped').map((l) => l.fields.logEventId)).toEqual(['1', '2']);
  });

  it('sends more than 100 findings in calls of at most 100', async () => {
    const { calls, importBatch } = fakeImport();
    const lines = Array.from({ length: 250 }, (_, i) => ({ message: logLine(record({ outcome: 'failed', resources: [bucket(i)] }), T0), at: T0 }));

    const summary = await exportLogEvents(logsEvent(lines), TARGET, hubCalls(importBatch), log);

    expect(calls.map((c) => c.length)).toEqual([100, 100, 50]);
    expect(summary.imported).toBe(250);
  });

  it('keeps the newest decision per finding when a delivery holds two, whatever their order', async () => {
    const { calls, importBatch } = fakeImport();
    const newer = { message: logLine(record({ outcome: 'reverted', trigger: 'undo' }), T0 + 60_000), at: T0 + 60_000 };
    const older = { message: logLine(record({ outcome: 'remediated' }), T0), at: T0 };

    await exportLogEvents(logsEvent([newer, older]), TARGET, hubCalls(importBatch), log);

    expect(calls).toHaveLength(1);
    expect(calls[0]).toHaveLength(1);
    expect(calls[0]?.[0]).toMatchObject({ UpdatedAt: new Date(T0 + 60_000).toISOString(), Compliance: { Status: 'FAILED' } });
  });

  it('exports nothing for a CONTROL_MESSAGE (CloudWatch Logs checking its destination)', async () => {
    const { calls, importBatch } = fakeImport();
    const event = {
      awslogs: {
        data: gzipSync(
          JSON.stringify({
            messageType: 'CONTROL_MESSAGE',
            logGroup: '',
            logEvents: [{ id: '', timestamp: T0, message: 'CWL CONTROL MESSAGE: Checking health of destination' }],
          }),
        ).toString('base64'),
      },
    };

    const summary = await exportLogEvents(event, TARGET, hubCalls(importBatch), log);

    expect(summary).toMatchObject({ records: 0, imported: 0 });
    expect(calls).toEqual([]);
  });

  it('exports a transient failure that names its resource (the last word when retries run out)', async () => {
    const { calls, importBatch } = fakeImport();
    const throttled = record({ outcome: 'failed', resources: [bucket(2)], error: { kind: 'transient', code: 'SlowDown', message: 'throttled' } });
    const summary = await exportLogEvents(logsEvent([{ message: logLine(throttled, T0), at: T0 }]), TARGET, hubCalls(importBatch), log);
    expect(summary).toMatchObject({ records: 1, transient: 0, imported: 1 });
    expect(calls.flat().map((f) => f.Compliance?.Status)).toEqual(['FAILED']);
  });

  it('skips a transient failure that names no resource (a retried fault, not a decision) with a log naming it, and exports the decisions around it', async () => {
    logs.length = 0;
    const { calls, importBatch } = fakeImport();
    const transient = record({
      outcome: 'failed',
      resources: [],
      error: { kind: 'transient', code: 'ConfigUnreadable\u001b[31m', message: 'the parameter store could not be read' },
    });
    const denied = record({ outcome: 'failed', resources: [bucket(1)], error: { kind: 'denied', code: 'AccessDenied', message: 'denied' } });
    const event = logsEvent([
      { message: logLine(transient, T0), at: T0 },
      { message: logLine(denied, T0), at: T0 },
    ]);

    const summary = await exportLogEvents(event, TARGET, hubCalls(importBatch), log);

    expect(summary).toMatchObject({ lines: 2, records: 1, transient: 1, skipped: 0, imported: 1 });
    expect(calls.flat().map((f) => f.ProductFields?.['trailguard/error'])).toEqual(['denied AccessDenied']);
    expect(logs).toContainEqual({
      message: 'transient failure: not exported',
      fields: { logGroup: '/aws/lambda/trailguard-test-publicBucket', logEventId: '0', errorCode: 'ConfigUnreadable [31m' },
    });
  });

  it('refuses an event that is not a CloudWatch Logs delivery', () => {
    expect(() => decodeLogsEvent({ Records: [] })).toThrow();
    expect(decodeLogsEvent(logsEvent([{ message: 'x', at: T0 }])).logEvents).toHaveLength(1);
  });
});

describe('importFindings: failed findings', () => {
  const findings = (n: number) => Array.from({ length: n }, (_, i) => ({ Id: `f-${i}`, UpdatedAt: '2026-11-20T09:15:03.000Z' }) as AwsSecurityFinding);

  it('logs each failed finding with its error code and sends the transient ones again, alone', async () => {
    logs.length = 0;
    const { calls, importBatch } = fakeImport([() => [{ Id: 'f-1', ErrorCode: 'InternalException', ErrorMessage: 'try again' }], () => []]);

    const result = await importFindings(importBatch, findings(3), log);

    expect(calls.map((c) => c.map((f) => f.Id))).toEqual([['f-0', 'f-1', 'f-2'], ['f-1']]);
    expect(result.imported.map((f) => f.Id)).toEqual(['f-0', 'f-2', 'f-1']);
    expect(logs).toContainEqual({
      message: 'security hub rejected a finding',
      fields: { findingId: 'f-1', errorCode: 'InternalException', errorMessage: 'try again', attempt: 1 },
    });
  });

  it('fails the invocation when a finding is refused for good, after importing the others, and does not resend it', async () => {
    const { calls, importBatch } = fakeImport([() => [{ Id: 'f-0', ErrorCode: 'InvalidInput', ErrorMessage: 'bad Title' }]]);

    const done = importFindings(importBatch, findings(2), log);

    await expect(done).rejects.toThrow(FindingsNotImportedError);
    await expect(done).rejects.toThrow('f-0 InvalidInput');
    expect(calls).toHaveLength(1);
  });

  it('fails the invocation when a transient failure outlasts the retries', async () => {
    const always = () => [{ Id: 'f-0', ErrorCode: 'InternalException', ErrorMessage: 'internal' }];
    const { calls, importBatch } = fakeImport([always, always, always, always]);

    await expect(importFindings(importBatch, findings(1), log)).rejects.toThrow(FindingsNotImportedError);
    expect(calls).toHaveLength(3);
  });

  it('drops a finding over 240 KB with a log, and imports the rest', async () => {
    logs.length = 0;
    const { calls, importBatch } = fakeImport();
    const big = { Id: 'big', UpdatedAt: 'x', Description: 'x'.repeat(BATCH_LIMITS.findingBytes) } as AwsSecurityFinding;

    const result = await importFindings(importBatch, [big, ...findings(1)], log);

    expect(result).toEqual({ imported: findings(1), tooLarge: ['big'] });
    expect(calls.flat().map((f) => f.Id)).toEqual(['f-0']);
    expect(logs.map((l) => l.message)).toContain('security hub finding over 240 KB: not imported');
  });
});

describe('importBatchWith: a throttled call', () => {
  it("is retried by the SDK's retry strategy until Security Hub takes it", async () => {
    const answers = [
      { statusCode: 429, headers: { 'x-amzn-errortype': 'TooManyRequestsException' }, body: '{"message":"Rate exceeded"}' },
      { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"FailedCount":0,"SuccessCount":1,"FailedFindings":[]}' },
    ];
    let requests = 0;
    const client = new SecurityHubClient({
      region: 'eu-west-1',
      retryMode: 'adaptive',
      maxAttempts: 4,
      credentials: async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }),
      requestHandler: {
        handle: async () => {
          const answer = answers[Math.min(requests++, 1)]!;
          return { response: { ...answer, body: Readable.from([Buffer.from(answer.body)]) } as never };
        },
      } as never,
    });

    const failed = await importBatchWith(client)([{ Id: 'f-0' } as AwsSecurityFinding]);

    expect(failed).toEqual([]);
    expect(requests).toBe(2);
  });
});

describe('hubTargetOf', () => {
  it('takes the account, Region and partition from the function ARN', () => {
    expect(hubTargetOf('arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:x')).toEqual({
      partition: 'aws-us-gov',
      region: 'us-gov-west-1',
      account: '111122223333',
    });
    expect(() => hubTargetOf('arn:aws:lambda:eu-west-1:evil:function:x')).toThrow();
  });
});

describe('exporterConfigOf', () => {
  it('reads the endpoint only, and names the variable of a bad one', () => {
    expect(exporterConfigOf({})).toEqual({});
    expect(exporterConfigOf({ AWS_ENDPOINT_URL: ' http://127.0.0.1:5000 ', TRAILGUARD_RULES: 'not even json' })).toEqual({ endpoint: 'http://127.0.0.1:5000' });
    expect(() => exporterConfigOf({ AWS_ENDPOINT_URL: 'not a url' })).toThrow(/AWS_ENDPOINT_URL/);
  });
});
