import { gzipSync } from 'node:zlib';
import {
  type AwsSecurityFinding,
  BatchUpdateFindingsCommand,
  type BatchUpdateFindingsUnprocessedFinding,
  SecurityHubClient,
} from '@aws-sdk/client-securityhub';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { RECORD_MESSAGE, type RemediationRecord } from '../../../shared/remediation-log.js';
import { exportLogEvents, hubTargetOf } from '../../../shared/security-hub/exporter.js';
import { findingIdOf } from '../../../shared/security-hub/finding.js';
import type { ImportBatch } from '../../../shared/security-hub/import.js';
import {
  UPDATE_LIMITS,
  UPDATE_RETRY_DELAYS_MS,
  updateBatchWith,
  updateWorkflows,
  workflowUpdatesOf,
  type UpdateBatch,
  type WorkflowUpdate,
} from '../../../shared/security-hub/workflow.js';
import { DONE_ACTIONS, record } from '../../helpers/records.js';

// After the import, what passed is resolved with BatchUpdateFindings (Workflow.Status RESOLVED and a Note, nothing
// else); a reverted or open decision is left to Security Hub, which resets RESOLVED to NEW when a finding fails again.
const TARGET = hubTargetOf('arn:aws:lambda:eu-west-1:111122223333:function:trailguard-test-securityHubExporter');
const PRODUCT = 'arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default';
const T0 = Date.parse('2026-11-20T09:15:03.000Z');
const bucket = (id: string) => ({ type: 'AWS::S3::Bucket', id });

function delivery(records: readonly RemediationRecord[]) {
  const payload = {
    messageType: 'DATA_MESSAGE',
    owner: '111122223333',
    logGroup: '/aws/lambda/trailguard-test-publicBucket',
    logStream: 's',
    subscriptionFilters: ['f'],
    logEvents: records.map((r, i) => ({
      id: String(i),
      timestamp: T0 + i,
      message: JSON.stringify({ level: 'INFO', message: RECORD_MESSAGE, timestamp: new Date(T0 + i).toISOString(), ...r }),
    })),
  };
  return { awslogs: { data: gzipSync(JSON.stringify(payload)).toString('base64') } };
}

/** Security Hub as the exporter sees it: imports (refusing some ids), updates (answering from a script), and the log. */
function fakeHub(
  options: { refuseImport?: readonly string[]; updates?: readonly ((update: WorkflowUpdate) => BatchUpdateFindingsUnprocessedFinding[])[] } = {},
) {
  const imported: AwsSecurityFinding[] = [];
  const updates: WorkflowUpdate[] = [];
  const logs: { message: string; fields: Record<string, unknown> }[] = [];
  const sleeps: number[] = [];
  const importBatch: ImportBatch = async (findings) => {
    imported.push(...findings);
    return findings.filter((f) => options.refuseImport?.includes(f.Id ?? '')).map((f) => ({ Id: f.Id ?? '', ErrorCode: 'InvalidInput', ErrorMessage: 'bad' }));
  };
  const updateBatch: UpdateBatch = async (update) => {
    updates.push(update);
    return options.updates?.[updates.length - 1]?.(update) ?? [];
  };
  return {
    imported,
    updates,
    logs,
    sleeps,
    calls: { importBatch, updateBatch },
    log: (message: string, fields: Record<string, unknown>) => {
      logs.push({ message, fields });
    },
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
  };
}
const unprocessed = (id: string, ErrorCode: string): BatchUpdateFindingsUnprocessedFinding => ({
  FindingIdentifier: { Id: id, ProductArn: PRODUCT },
  ErrorCode,
  ErrorMessage: ErrorCode,
});
const idOf = (r: RemediationRecord) => findingIdOf(r, r.resources[0]);

describe('exportLogEvents: the workflow of what passed', () => {
  it('resolves the remediated and the compliant findings, each with a Note naming trailguard and its event, and nothing else', async () => {
    const fixed = record({ eventId: 'evt-fixed', actions: [DONE_ACTIONS.bucketHadNone], resources: [bucket('example-fixed')] });
    const clean = record({ outcome: 'compliant', eventId: 'evt-clean', resources: [bucket('example-clean')] });
    const open = record({ outcome: 'would-remediate', mode: 'dry-run', eventId: 'evt-open', resources: [bucket('example-open')] });
    const reverted = record({ outcome: 'reverted', trigger: 'undo', eventId: 'evt-undo', resources: [bucket('example-undone')] });
    const hub = fakeHub();

    const summary = await exportLogEvents(delivery([fixed, clean, open, reverted]), TARGET, hub.calls, hub.log, hub.sleep);

    expect(summary).toMatchObject({ records: 4, imported: 4, resolved: 2, notResolved: 0 });
    expect(hub.updates).toEqual([
      { findings: [{ Id: idOf(fixed), ProductArn: PRODUCT }], note: 'Resolved by trailguard: remediated and verified on event evt-fixed' },
      { findings: [{ Id: idOf(clean), ProductArn: PRODUCT }], note: 'Resolved by trailguard: found compliant on event evt-clean' },
    ]);
  });

  it('resolves no finding Security Hub refused to import, yet those it imported, then fails the invocation', async () => {
    const refused = record({ eventId: 'evt-a', resources: [bucket('example-refused')] });
    const taken = record({ eventId: 'evt-b', resources: [bucket('example-b')] });
    const hub = fakeHub({ refuseImport: [idOf(refused)] });

    await expect(exportLogEvents(delivery([refused, taken]), TARGET, hub.calls, hub.log, hub.sleep)).rejects.toThrow(`${idOf(refused)} InvalidInput`);

    expect(hub.updates.flatMap((u) => u.findings.map((f) => f.Id))).toEqual([idOf(taken)]);
  });

  it('resolves nothing when the newest decision on a resource is its undo', async () => {
    const fixed = record({ eventId: 'evt-b', resources: [bucket('example-b')] });
    const undone = record({ outcome: 'reverted', trigger: 'undo', eventId: 'evt-b', resources: [bucket('example-b')] });
    const hub = fakeHub();

    const summary = await exportLogEvents(delivery([fixed, undone]), TARGET, hub.calls, hub.log, hub.sleep);

    expect(hub.imported.map((f) => f.Compliance?.Status)).toEqual(['FAILED']);
    expect(hub.updates).toEqual([]);
    expect(summary).toMatchObject({ imported: 1, resolved: 0 });
  });

  it('resolves the findings of one event in calls of at most 100, under one Note', async () => {
    const resources = Array.from({ length: 100 }, (_, i) => ({ type: 'AWS::EC2::Instance', id: `i-${i.toString(16).padStart(17, '0')}` }));
    const launches = [
      record({ rule: 'untagged-instance', eventId: 'evt-launch', resources }),
      record({ rule: 'untagged-instance', eventId: 'evt-launch', resources: resources.map((r) => ({ ...r, region: 'us-east-1' })) }),
    ];
    const hub = fakeHub();

    const summary = await exportLogEvents(delivery(launches), TARGET, hub.calls, hub.log, hub.sleep);

    expect(hub.updates.map((u) => u.findings.length)).toEqual([100, 100]);
    expect(new Set(hub.updates.map((u) => u.note))).toEqual(new Set(['Resolved by trailguard: remediated and verified on event evt-launch']));
    expect(summary.resolved).toBe(200);
  });

  it('retries the findings Security Hub has not yet seen after a wait, and logs one refused for good without retrying it', async () => {
    const records = ['a', 'b', 'c'].map((x) => record({ eventId: 'evt-1', resources: [bucket(`example-${x}`)] }));
    const [a, b, c] = records.map(idOf) as [string, string, string];
    const hub = fakeHub({
      updates: [() => [unprocessed(a, 'FindingNotFound'), unprocessed(b, 'InvalidInput')], () => [unprocessed(a, 'ConcurrentUpdateError')], () => []],
    });

    const summary = await exportLogEvents(delivery(records), TARGET, hub.calls, hub.log, hub.sleep);

    expect(hub.updates.map((u) => u.findings.map((f) => f.Id))).toEqual([[a, b, c], [a], [a]]);
    expect(hub.sleeps).toEqual([...UPDATE_RETRY_DELAYS_MS]);
    expect(summary).toMatchObject({ imported: 3, resolved: 2, notResolved: 1 });
    expect(hub.logs).toContainEqual({
      message: "security hub did not update a finding's workflow",
      fields: { findingId: b, errorCode: 'InvalidInput', errorMessage: 'InvalidInput', attempt: 1 },
    });
  });

  it('gives up on a finding still unprocessed after the retries, and counts it', async () => {
    const r = record({ eventId: 'evt-1' });
    const always = () => [unprocessed(idOf(r), 'InternalFailure')];
    const hub = fakeHub({ updates: [always, always, always, always] });

    const summary = await exportLogEvents(delivery([r]), TARGET, hub.calls, hub.log, hub.sleep);

    expect(hub.updates).toHaveLength(1 + UPDATE_RETRY_DELAYS_MS.length);
    expect(summary).toMatchObject({ imported: 1, resolved: 0, notResolved: 1 });
  });

  it('never fails the import when BatchUpdateFindings fails as a whole: the error is logged', async () => {
    const hub = fakeHub();
    const calls = {
      ...hub.calls,
      updateBatch: async () => {
        throw Object.assign(new Error('not authorized to perform securityhub:BatchUpdateFindings'), { name: 'AccessDeniedException' });
      },
    };

    const summary = await exportLogEvents(delivery([record({ eventId: 'evt-1' })]), TARGET, calls, hub.log, hub.sleep);

    expect(summary).toMatchObject({ imported: 1, resolved: 0, notResolved: 1 });
    expect(hub.logs).toContainEqual({
      message: 'security hub workflow not updated',
      fields: { findings: 1, error: 'AccessDeniedException: not authorized to perform securityhub:BatchUpdateFindings' },
    });
  });
});

describe('workflowUpdatesOf', () => {
  it('keeps the Note one printable line within 512 characters, whatever the event id', () => {
    const finding = {
      Id: 'f-1',
      ProductArn: PRODUCT,
      Compliance: { Status: 'PASSED' },
      ProductFields: { 'trailguard/outcome': 'remediated', 'trailguard/eventId': `evt\r\n\u001b[31m\u202e${'x'.repeat(600)}` },
    } as unknown as AwsSecurityFinding;

    const [update] = workflowUpdatesOf([finding]);

    expect(Array.from(update?.note ?? '').length).toBeLessThanOrEqual(UPDATE_LIMITS.noteText);
    expect(update?.note).toMatch(/^Resolved by trailguard: remediated and verified on event evt \[31mx+\.\.\.$/);
  });
});

describe('updateBatchWith', () => {
  const hub = mockClient(SecurityHubClient);
  afterEach(() => hub.reset());

  it("sends the identifiers, Workflow.Status RESOLVED and the Note by trailguard: exactly what the exporter's role allows", async () => {
    hub
      .on(BatchUpdateFindingsCommand)
      .resolves({ ProcessedFindings: [{ Id: 'f-1', ProductArn: PRODUCT }], UnprocessedFindings: [unprocessed('f-2', 'FindingNotFound')] });

    const failed = await updateBatchWith(new SecurityHubClient({ region: 'eu-west-1' }))({
      findings: [
        { Id: 'f-1', ProductArn: PRODUCT },
        { Id: 'f-2', ProductArn: PRODUCT },
      ],
      note: 'Resolved by trailguard: found compliant on event evt-1',
    });

    expect(failed).toEqual([unprocessed('f-2', 'FindingNotFound')]);
    expect(hub.commandCalls(BatchUpdateFindingsCommand).map((call) => call.args[0].input)).toEqual([
      {
        FindingIdentifiers: [
          { Id: 'f-1', ProductArn: PRODUCT },
          { Id: 'f-2', ProductArn: PRODUCT },
        ],
        Workflow: { Status: 'RESOLVED' },
        Note: { Text: 'Resolved by trailguard: found compliant on event evt-1', UpdatedBy: 'trailguard' },
      },
    ]);
  });
});

describe('updateWorkflows', () => {
  it('makes no call when nothing passed', async () => {
    let calls = 0;
    expect(
      await updateWorkflows(
        async () => {
          calls += 1;
          return [];
        },
        [],
        () => undefined,
      ),
    ).toEqual({ resolved: 0, notResolved: 0 });
    expect(calls).toBe(0);
  });
});
