/**
 * Resolving what trailguard fixed: after an import, a finding that passed (a verified `remediated`, or `compliant`)
 * gets Workflow.Status RESOLVED and a Note through BatchUpdateFindings, the customer's API (BatchImportFindings may not
 * change Workflow once a finding exists). Nothing sets NEW: Security Hub itself resets RESOLVED or NOTIFIED to NEW
 * when Compliance.Status goes from PASSED to FAILED or RecordState from ARCHIVED to ACTIVE (API reference,
 * "WorkflowUpdate"), which is what a `reverted` import does. A failure here is logged and never fails the import.
 */
import {
  type AwsSecurityFinding,
  type AwsSecurityFindingIdentifier,
  BatchUpdateFindingsCommand,
  type BatchUpdateFindingsUnprocessedFinding,
  type SecurityHubClient,
} from '@aws-sdk/client-securityhub';
import { findingText } from './finding.js';
import type { ImportLog } from './import.js';

/** BatchUpdateFindings takes at most 100 findings per call, and one Note for all of them; Note.Text is 1 to 512 characters. */
export const UPDATE_LIMITS = { findings: 100, noteText: 512 } as const;
/** In-process retries of findings the answer lists as unprocessed with an error that may pass, and the wait before each. */
export const UPDATE_RETRY_DELAYS_MS = [1_000, 3_000] as const;
/** Who the Note says wrote it. */
export const NOTE_AUTHOR = 'trailguard';

/** One call: the findings to resolve, with the Note for all of them. */
export interface WorkflowUpdate {
  readonly findings: readonly AwsSecurityFindingIdentifier[];
  readonly note: string;
}

/** One call out, the answer's unprocessed findings back (the SDK throws for a call that failed as a whole). */
export type UpdateBatch = (update: WorkflowUpdate) => Promise<readonly BatchUpdateFindingsUnprocessedFinding[]>;

/** A BatchUpdateFindings call through a client: Workflow.Status RESOLVED and the Note, nothing else (the role allows no more). */
export function updateBatchWith(client: SecurityHubClient): UpdateBatch {
  return async ({ findings, note }) =>
    (
      await client.send(
        new BatchUpdateFindingsCommand({
          FindingIdentifiers: [...findings],
          Workflow: { Status: 'RESOLVED' },
          Note: { Text: note, UpdatedBy: NOTE_AUTHOR },
        }),
      )
    ).UnprocessedFindings ?? [];
}

/**
 * The calls that resolve the findings a delivery imported and that passed: one Note per decision (it names the
 * record's outcome and event id, from ProductFields, already cleaned), so one call per event, of at most 100 findings.
 */
export function workflowUpdatesOf(imported: readonly AwsSecurityFinding[]): WorkflowUpdate[] {
  const byNote = new Map<string, AwsSecurityFindingIdentifier[]>();
  for (const finding of imported) {
    if (finding.Compliance?.Status !== 'PASSED' || !finding.Id || !finding.ProductArn) continue;
    const fields = finding.ProductFields ?? {};
    const outcome = fields['trailguard/outcome'] === 'remediated' ? 'remediated and verified' : 'found compliant';
    const note = findingText(`Resolved by trailguard: ${outcome} on event ${fields['trailguard/eventId'] ?? '-'}`, UPDATE_LIMITS.noteText);
    byNote.set(note, [...(byNote.get(note) ?? []), { Id: finding.Id, ProductArn: finding.ProductArn }]);
  }
  return [...byNote].flatMap(([note, findings]) => {
    const calls: WorkflowUpdate[] = [];
    for (let i = 0; i < findings.length; i += UPDATE_LIMITS.findings) calls.push({ findings: findings.slice(i, i + UPDATE_LIMITS.findings), note });
    return calls;
  });
}

// May pass on a later attempt: a finding imported a moment ago and not yet visible, an import of the same finding
// still in progress ("ConcurrentUpdateError … may also occur if you call BatchUpdateFindings and BatchImportFindings
// at the same time"), an internal failure. InvalidInput, DuplicatedFindingIdentifier, FindingSizeExceeded do not.
const TRANSIENT = new Set(['ConcurrentUpdateError', 'FindingNotFound', 'InternalFailure']);
/** True when an unprocessed finding may be updated on a later attempt. */
export const isTransientUpdateFailure = (failure: BatchUpdateFindingsUnprocessedFinding): boolean => TRANSIENT.has(failure.ErrorCode ?? '');

/** How many findings were resolved, and how many were not (each logged). */
export interface WorkflowResult {
  readonly resolved: number;
  readonly notResolved: number;
}

/**
 * Sends the updates: each unprocessed finding logged with its ErrorCode and the transient ones sent again after a
 * wait (UPDATE_RETRY_DELAYS_MS); a call that fails as a whole (after the SDK's own retries) is logged. Never throws:
 * the findings are imported, and the next decision on the resource updates its workflow again.
 */
export async function updateWorkflows(
  updateBatch: UpdateBatch,
  updates: readonly WorkflowUpdate[],
  log: ImportLog,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<WorkflowResult> {
  let resolved = 0;
  let notResolved = 0;
  for (const update of updates) {
    let pending = update.findings;
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      let failures: readonly BatchUpdateFindingsUnprocessedFinding[];
      try {
        failures = await updateBatch({ findings: pending, note: update.note });
      } catch (error) {
        log('security hub workflow not updated', {
          findings: pending.length,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        });
        notResolved += pending.length;
        break;
      }
      const failedIds = new Set(failures.map((f) => f.FindingIdentifier?.Id));
      resolved += pending.filter((f) => !failedIds.has(f.Id)).length;
      for (const failure of failures) {
        log("security hub did not update a finding's workflow", {
          findingId: failure.FindingIdentifier?.Id,
          errorCode: failure.ErrorCode,
          errorMessage: failure.ErrorMessage,
          attempt: attempt + 1,
        });
      }
      const retryIds = new Set(failures.filter(isTransientUpdateFailure).map((f) => f.FindingIdentifier?.Id));
      const delay = UPDATE_RETRY_DELAYS_MS[attempt];
      notResolved += failures.length - (delay === undefined ? 0 : retryIds.size);
      if (delay === undefined || retryIds.size === 0) break;
      pending = pending.filter((f) => retryIds.has(f.Id));
      await sleep(delay);
    }
  }
  return { resolved, notResolved };
}
