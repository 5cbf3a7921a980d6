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
import { CONFIRM_RETRY_DELAYS_MS, type GetBatch } from '../../../shared/security-hub/confirm.js';
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
  options: {
    refuseImport?: readonly string[];
    updates?: readonly ((update: WorkflowUpdate) => BatchUpdateFindingsUnprocessedFinding[])[];
    /** What the hub already holds, by id. */
    held?: readonly AwsSecurityFinding[];
    /** How many reads miss an import before it shows (Security Hub takes a while). */
    readsBeforeVisible?: number;
  } = {},
) {
  const imported: AwsSecurityFinding[] = [];
  const updates: WorkflowUpdate[] = [];
  const reads: string[][] = [];
  const logs: { message: string; fields: Record<string, unknown> }[] = [];
  const sleeps: number[] = [];
  // As Security Hub: an import whose UpdatedAt is not after the held finding's is ignored, and not reported as failed.
  const store = new Map((options.held ?? []).map((f) => [f.Id ?? '', f]));
  const visible = new Map(store);
  const importBatch: ImportBatch = async (findings) => {
    imported.push(...findings);
    const refused = findings.filter((f) => options.refuseImport?.includes(f.Id ?? ''));
    for (const f of findings) {
      const held = store.get(f.Id ?? '');
      if (!refused.includes(f) && (!held || (held.UpdatedAt ?? '') < (f.UpdatedAt ?? ''))) store.set(f.Id ?? '', f);
    }
    return refused.map((f) => ({ Id: f.Id ?? '', ErrorCode: 'InvalidInput', ErrorMessage: 'bad' }));
  };
  const getBatch: GetBatch = async (ids) => {
    reads.push(ids.map((i) => i.Id ?? ''));
    if (reads.length > (options.readsBeforeVisible ?? 0)) for (const [id, f] of store) visible.set(id, f);
    return ids.flatMap((i) => {
      const f = visible.get(i.Id ?? '');
      return f ? [f] : [];
    });
  };
  const updateBatch: UpdateBatch = async (update) => {
    updates.push(update);
    return options.updates?.[updates.length - 1]?.(update) ?? [];
  };
  return {
    imported,
    updates,
    reads,
    logs,
    sleeps,
    calls: { importBatch, getBatch, updateBatch },
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

describe('exportLogEvents: resolving only what Security Hub shows as this delivery left it', () => {
  const at = (ms: number) => new Date(ms).toISOString();
  /** A finding the hub holds for a resource: its id, state and UpdatedAt. */
  const heldFinding = (r: RemediationRecord, status: 'PASSED' | 'FAILED', updatedAt: number) =>
    ({ Id: idOf(r), ProductArn: PRODUCT, UpdatedAt: at(updatedAt), Compliance: { Status: status } }) as AwsSecurityFinding;

  it('does not resolve a late `remediated` delivery when the undo that came after it is the finding’s state', async () => {
    const fixed = record({ eventId: 'evt-fix', resources: [bucket('example-reopened')] });
    // The undo was imported a minute after the fix was logged; the fix's delivery arrives (or is replayed) afterwards.
    const hub = fakeHub({ held: [heldFinding(fixed, 'FAILED', T0 + 60_000)] });

    const summary = await exportLogEvents(delivery([fixed]), TARGET, hub.calls, hub.log, hub.sleep);

    expect(summary).toMatchObject({ imported: 1, resolved: 0, notResolved: 0, stale: 1 });
    expect(hub.updates).toEqual([]);
    expect(hub.sleeps).toEqual([]);
    expect(hub.logs).toContainEqual({
      message: 'security hub finding not resolved: a newer or different decision is its state',
      fields: { findingId: idOf(fixed), ours: at(T0), held: at(T0 + 60_000), compliance: 'FAILED' },
    });
  });

  it('does not resolve a finding held with the same UpdatedAt but not PASSED', async () => {
    const fixed = record({ eventId: 'evt-fix', resources: [bucket('example-same-time')] });
    const hub = fakeHub({ held: [heldFinding(fixed, 'FAILED', T0)] });

    const summary = await exportLogEvents(delivery([fixed]), TARGET, hub.calls, hub.log, hub.sleep);

    expect(summary).toMatchObject({ resolved: 0, stale: 1 });
    expect(hub.updates).toEqual([]);
  });

  it('resolves a fix that follows an older open decision once the read-back shows it', async () => {
    const fixed = record({ eventId: 'evt-fix', resources: [bucket('example-fixed-later')] });
    const hub = fakeHub({ held: [heldFinding(fixed, 'FAILED', T0 - 60_000)] });

    const summary = await exportLogEvents(delivery([fixed]), TARGET, hub.calls, hub.log, hub.sleep);

    expect(summary).toMatchObject({ resolved: 1, stale: 0, notResolved: 0 });
    expect(hub.updates.map((u) => u.findings)).toEqual([[{ Id: idOf(fixed), ProductArn: PRODUCT }]]);
  });

  it('reads again, after a wait, a finding not yet visible (absent, or still the older state), and resolves it once it shows', async () => {
    const fresh = record({ eventId: 'evt-1', resources: [bucket('example-fresh')] });
    const updated = record({ eventId: 'evt-1', resources: [bucket('example-updated')] });
    const hub = fakeHub({ held: [heldFinding(updated, 'FAILED', T0 - 60_000)], readsBeforeVisible: 2 });

    const summary = await exportLogEvents(delivery([fresh, updated]), TARGET, hub.calls, hub.log, hub.sleep);

    expect(hub.reads).toEqual([
      [idOf(fresh), idOf(updated)],
      [idOf(fresh), idOf(updated)],
      [idOf(fresh), idOf(updated)],
    ]);
    expect(hub.sleeps).toEqual(CONFIRM_RETRY_DELAYS_MS.slice(0, 2));
    expect(hub.updates.flatMap((u) => u.findings.map((f) => f.Id))).toEqual([idOf(fresh), idOf(updated)]);
    expect(summary).toMatchObject({ resolved: 2, notResolved: 0 });
  });

  it('never resolves a finding still not visible after the waits: it is logged and counted as not resolved', async () => {
    const fresh = record({ eventId: 'evt-1', resources: [bucket('example-slow')] });
    const hub = fakeHub({ readsBeforeVisible: 100 });

    const summary = await exportLogEvents(delivery([fresh]), TARGET, hub.calls, hub.log, hub.sleep);

    expect(hub.reads).toHaveLength(1 + CONFIRM_RETRY_DELAYS_MS.length);
    expect(hub.sleeps).toEqual([...CONFIRM_RETRY_DELAYS_MS]);
    expect(hub.updates).toEqual([]);
    expect(summary).toMatchObject({ imported: 1, resolved: 0, notResolved: 1 });
    expect(hub.logs).toContainEqual({
      message: 'security hub finding not resolved: not yet visible after the waits',
      fields: { findingId: idOf(fresh), ours: at(T0) },
    });
  });

  it('resolves nothing it could not read back (GetFindings denied), and logs why', async () => {
    const hub = fakeHub();
    const calls = {
      ...hub.calls,
      getBatch: async () => {
        throw Object.assign(new Error('not authorized to perform securityhub:GetFindings'), { name: 'AccessDeniedException' });
      },
    };

    const summary = await exportLogEvents(delivery([record({ eventId: 'evt-1' })]), TARGET, calls, hub.log, hub.sleep);

    expect(summary).toMatchObject({ imported: 1, resolved: 0, notResolved: 1 });
    expect(hub.updates).toEqual([]);
    expect(hub.logs).toContainEqual({
      message: 'security hub findings not read back: not resolved',
      fields: { findings: 1, error: 'AccessDeniedException: not authorized to perform securityhub:GetFindings' },
    });
  });
});

describe('exportLogEvents: reading back many findings', () => {
  it('splits a delivery of 45 passed findings into reads of 20, 20 and 5, and trusts only the answers of its own ids', async () => {
    const records = Array.from({ length: 45 }, (_, i) => record({ eventId: 'evt-many', resources: [bucket(`example-many-${i}`)] }));
    const reads: number[] = [];
    const imported: AwsSecurityFinding[] = [];
    const importBatch: ImportBatch = async (findings) => {
      imported.push(...findings);
      return [];
    };
    // An answer that ignores the filter (as the emulator does): every finding, and a stranger with one of our ids elsewhere.
    const getBatch: GetBatch = async (ids) => {
      reads.push(ids.length);
      return [
        ...imported,
        {
          ...(imported[0] as AwsSecurityFinding),
          ProductArn: 'arn:aws:securityhub:eu-west-1:444455556666:product/444455556666/default',
          UpdatedAt: at(T0 + 1e9),
        },
      ];
    };
    const updates: WorkflowUpdate[] = [];
    const summary = await exportLogEvents(
      delivery(records),
      TARGET,
      {
        importBatch,
        getBatch,
        updateBatch: async (u) => {
          updates.push(u);
          return [];
        },
      },
      () => undefined,
      async () => undefined,
    );

    expect(reads).toEqual([20, 20, 5]);
    expect(summary).toMatchObject({ resolved: 45, stale: 0 });
    expect(updates.flatMap((u) => u.findings)).toHaveLength(45);
  });
  const at = (ms: number) => new Date(ms).toISOString();
});
