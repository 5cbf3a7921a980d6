/**
 * Imports findings into Security Hub within BatchImportFindings' limits ("Guidelines for using the
 * BatchImportFindings API", Security Hub partner guide): at most 100 findings and 6 MB per call, 240 KB per finding,
 * 10 calls per second per account and Region (burst 30). Throttled calls are retried by the SDK's adaptive retry
 * strategy (client-side rate limiting after a throttle); findings the answer lists as failed are retried when the
 * error may pass, and whatever still failed is thrown, so the caller's retry (Lambda's async retry) gets it.
 */
import { type AwsSecurityFinding, BatchImportFindingsCommand, type ImportFindingsError, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { baseClientConfig, cachedClient, type ClientOptions } from '../aws/client-options.js';
import { TrailguardError } from '../errors.js';

/** Findings per call, and bytes per call and per finding (JSON), with room for the request's envelope. */
export const BATCH_LIMITS = { findings: 100, bytes: 6 * 1024 * 1024 - 64 * 1024, findingBytes: 240 * 1024 } as const;
/** In-process retries of findings the answer lists as failed with an error that may pass. */
export const FAILED_FINDING_RETRIES = 2;

const clients = new Map<string, SecurityHubClient>();

/** The Security Hub client for a Region: the shared settings, adaptive retries included. */
export function securityHubClient(options: ClientOptions): SecurityHubClient {
  return cachedClient(clients, 'securityhub', options, () => new SecurityHubClient(baseClientConfig(options)));
}

/** One call: the findings in, the answer's failed findings out (the SDK throws for a call that failed as a whole). */
export type ImportBatch = (findings: readonly AwsSecurityFinding[]) => Promise<readonly ImportFindingsError[]>;

/** A BatchImportFindings call through a client. */
export function importBatchWith(client: SecurityHubClient): ImportBatch {
  return async (findings) => (await client.send(new BatchImportFindingsCommand({ Findings: [...findings] }))).FailedFindings ?? [];
}

/** What happened to the findings: those imported, and the ids dropped before sending (over 240 KB). */
export interface ImportResult {
  readonly imported: readonly AwsSecurityFinding[];
  readonly tooLarge: readonly string[];
}

/** Findings that could not be imported after the retries (`imported`: those that were): the invocation fails, so it is retried, then kept. */
export class FindingsNotImportedError extends TrailguardError {
  override readonly name = 'FindingsNotImportedError';
  constructor(
    readonly failed: readonly ImportFindingsError[],
    readonly imported: readonly AwsSecurityFinding[] = [],
  ) {
    super(
      `${failed.length} finding(s) not imported: ${failed
        .slice(0, 5)
        .map((f) => `${f.Id ?? '?'} ${f.ErrorCode ?? '?'}`)
        .join(', ')}`,
    );
  }
}

// An error code that says the finding itself is wrong or not allowed: sending it again gives the same answer.
const PERMANENT = /invalid|denied|notfound|validation|malformed|unauthori[sz]ed|forbidden/i;
/** True when a failed finding's error may pass on a later attempt (an internal error, a throttle). */
export const isTransientFailure = (failure: ImportFindingsError): boolean => !PERMANENT.test(failure.ErrorCode ?? '');

/** The newest finding per id: of two decisions on one resource in one delivery, the later one is the state. */
export function newestPerId(findings: readonly AwsSecurityFinding[]): AwsSecurityFinding[] {
  const newest = new Map<string, AwsSecurityFinding>();
  for (const finding of findings) {
    const id = finding.Id ?? '';
    const kept = newest.get(id);
    if (!kept || (finding.UpdatedAt ?? '') >= (kept.UpdatedAt ?? '')) newest.set(id, finding);
  }
  return [...newest.values()];
}

/** Splits findings into calls of at most 100 findings and 6 MB. */
export function batchesOf(findings: readonly AwsSecurityFinding[]): AwsSecurityFinding[][] {
  const batches: AwsSecurityFinding[][] = [];
  let current: AwsSecurityFinding[] = [];
  let bytes = 0;
  for (const finding of findings) {
    const size = Buffer.byteLength(JSON.stringify(finding));
    if (current.length >= BATCH_LIMITS.findings || (current.length > 0 && bytes + size > BATCH_LIMITS.bytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(finding);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** What the import reports as it goes: each failed finding with its error code, for the operator. */
export type ImportLog = (message: string, fields: Record<string, unknown>) => void;

/**
 * Imports the findings: newest per id, in batches, each failed finding logged with its ErrorCode and the transient
 * ones sent again (up to FAILED_FINDING_RETRIES times). Throws FindingsNotImportedError when any failed for good.
 */
export async function importFindings(importBatch: ImportBatch, findings: readonly AwsSecurityFinding[], log: ImportLog): Promise<ImportResult> {
  const tooLarge: string[] = [];
  const sendable = newestPerId(findings).filter((finding) => {
    if (Buffer.byteLength(JSON.stringify(finding)) <= BATCH_LIMITS.findingBytes) return true;
    tooLarge.push(finding.Id ?? '');
    return false;
  });
  for (const id of tooLarge) log('security hub finding over 240 KB: not imported', { findingId: id });
  const imported: AwsSecurityFinding[] = [];
  const failedForGood: ImportFindingsError[] = [];
  for (const batch of batchesOf(sendable)) {
    let pending = batch;
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      const failures = await importBatch(pending);
      const failedIds = new Set(failures.map((f) => f.Id));
      imported.push(...pending.filter((f) => !failedIds.has(f.Id)));
      for (const failure of failures) {
        log('security hub rejected a finding', {
          findingId: failure.Id,
          errorCode: failure.ErrorCode,
          errorMessage: failure.ErrorMessage,
          attempt: attempt + 1,
        });
      }
      const retry = failures.filter(isTransientFailure);
      failedForGood.push(...failures.filter((f) => !isTransientFailure(f)));
      if (attempt >= FAILED_FINDING_RETRIES) {
        failedForGood.push(...retry);
        break;
      }
      const retryIds = new Set(retry.map((f) => f.Id));
      pending = pending.filter((f) => retryIds.has(f.Id));
    }
  }
  if (failedForGood.length > 0) throw new FindingsNotImportedError(failedForGood, imported);
  return { imported, tooLarge };
}
