/**
 * Before resolving, the exporter reads back what Security Hub holds. BatchImportFindings ignores an update whose
 * UpdatedAt is not after the finding's without listing it in FailedFindings, so "imported" does not mean "is the
 * finding's state": a late or replayed `remediated` delivery after a `reverted` or `failed` one would otherwise resolve
 * a finding that is open. A finding is resolved only when GetFindings shows this delivery's UpdatedAt and PASSED.
 * An import takes a while to become visible (BatchUpdateFindings: "it can take several minutes for Security Hub to
 * process your request"), so a finding not yet seen is read again after a wait, and never resolved unseen.
 */
import {
  type AwsSecurityFinding,
  type AwsSecurityFindingIdentifier,
  GetFindingsCommand,
  type SecurityHubClient,
  type StringFilter,
} from '@aws-sdk/client-securityhub';
import type { ImportLog } from './import.js';

/**
 * GetFindings: "For each attribute, you can provide up to 20 filter values" (API reference, Filters); MaxResults 1 to
 * 100. `pages` bounds the pages read for one call of 20 ids, which Security Hub answers in one.
 */
export const GET_LIMITS = { idsPerCall: 20, maxResults: 100, pages: 5 } as const;
/** Waits before reading again the findings not yet visible: about 17 s in all, within the exporter's 60 s timeout. */
export const CONFIRM_RETRY_DELAYS_MS = [2_000, 5_000, 10_000] as const;

/** One read: the findings Security Hub holds of these identifiers (the SDK throws for a call that failed as a whole). */
export type GetBatch = (ids: readonly AwsSecurityFindingIdentifier[]) => Promise<readonly AwsSecurityFinding[]>;

/** A GetFindings call through a client: Id EQUALS each id, ProductArn EQUALS each product, all pages (bounded). */
export function getBatchWith(client: SecurityHubClient): GetBatch {
  return async (ids) => {
    const equals = (values: readonly string[]): StringFilter[] => [...new Set(values)].map((Value) => ({ Value, Comparison: 'EQUALS' }));
    const Filters = { Id: equals(ids.map((i) => i.Id ?? '')), ProductArn: equals(ids.map((i) => i.ProductArn ?? '')) };
    const found: AwsSecurityFinding[] = [];
    let NextToken: string | undefined;
    for (let page = 0; page < GET_LIMITS.pages; page += 1) {
      const answer = await client.send(new GetFindingsCommand({ Filters, MaxResults: GET_LIMITS.maxResults, NextToken }));
      found.push(...(answer.Findings ?? []));
      NextToken = answer.NextToken;
      if (!NextToken) break;
    }
    return found;
  };
}

/** What the read-back decided: the findings to resolve, and how many were not (each logged with its reason). */
export interface Confirmation {
  readonly confirmed: readonly AwsSecurityFinding[];
  /** A newer decision, or a different one, is the finding's state: resolving it would be wrong. */
  readonly stale: number;
  /** Not seen with this delivery's state after the waits, or not readable: left as it is. */
  readonly unconfirmed: number;
}

const timeOf = (value: string | undefined) => (value ? Date.parse(value) : Number.NaN);
const keyOf = (finding: AwsSecurityFindingIdentifier) => JSON.stringify([finding.Id, finding.ProductArn]);

/**
 * Reads back the PASSED findings this delivery imported: resolved only when Security Hub shows the same UpdatedAt and
 * Compliance.Status PASSED; a newer or different state is skipped (logged); one not yet visible (absent, or still
 * older) is read again after each wait, then logged as not resolved. Never throws.
 */
export async function confirmResolvable(
  getBatch: GetBatch,
  imported: readonly AwsSecurityFinding[],
  log: ImportLog,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<Confirmation> {
  const confirmed: AwsSecurityFinding[] = [];
  let stale = 0;
  let unconfirmed = 0;
  let pending = imported.filter((f) => f.Compliance?.Status === 'PASSED' && f.Id && f.ProductArn && Number.isFinite(timeOf(f.UpdatedAt)));
  for (let attempt = 0; pending.length > 0; attempt += 1) {
    const notVisible: AwsSecurityFinding[] = [];
    for (let i = 0; i < pending.length; i += GET_LIMITS.idsPerCall) {
      const chunk = pending.slice(i, i + GET_LIMITS.idsPerCall);
      let held: readonly AwsSecurityFinding[];
      try {
        held = await getBatch(chunk.map((f) => ({ Id: f.Id, ProductArn: f.ProductArn })));
      } catch (error) {
        log('security hub findings not read back: not resolved', {
          findings: chunk.length,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        });
        unconfirmed += chunk.length;
        continue;
      }
      // Matched on Id and ProductArn here too: an answer is never trusted to have applied the filter.
      const byKey = new Map<string, AwsSecurityFinding>();
      for (const finding of held) {
        const kept = byKey.get(keyOf(finding));
        if (!kept || timeOf(finding.UpdatedAt) > timeOf(kept.UpdatedAt)) byKey.set(keyOf(finding), finding);
      }
      for (const ours of chunk) {
        const current = byKey.get(keyOf(ours));
        const ourTime = timeOf(ours.UpdatedAt);
        const theirTime = timeOf(current?.UpdatedAt);
        if (!current || !(theirTime >= ourTime)) {
          notVisible.push(ours);
        } else if (theirTime === ourTime && current.Compliance?.Status === 'PASSED') {
          confirmed.push(ours);
        } else {
          stale += 1;
          log('security hub finding not resolved: a newer or different decision is its state', {
            findingId: ours.Id,
            ours: ours.UpdatedAt,
            held: current.UpdatedAt,
            compliance: current.Compliance?.Status,
          });
        }
      }
    }
    const delay = CONFIRM_RETRY_DELAYS_MS[attempt];
    if (delay === undefined || notVisible.length === 0) {
      for (const finding of notVisible)
        log('security hub finding not resolved: not yet visible after the waits', { findingId: finding.Id, ours: finding.UpdatedAt });
      unconfirmed += notVisible.length;
      break;
    }
    pending = notVisible;
    await sleep(delay);
  }
  return { confirmed, stale, unconfirmed };
}
