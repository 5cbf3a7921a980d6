/**
 * The Security Hub exporter: CloudWatch Logs delivers, through a subscription filter on every function's log group,
 * the remediation-log lines (`{ $.message = "trailguard remediation" }`); each record becomes its findings
 * (shared/security-hub/finding.ts), they are imported in batches, and those that passed, once Security Hub shows them
 * as this delivery left them (confirm.ts), are resolved (workflow.ts).
 * The rule functions know nothing of it: a Security Hub fault never touches their record or notification. The record
 * carries what the exporter cannot compute without the rules (their controls, the reverse commands).
 */
import { gunzipSync } from 'node:zlib';
import type { AwsSecurityFinding } from '@aws-sdk/client-securityhub';
import * as v from 'valibot';
import { isAccountId, isRegionName } from '../aws/names.js';
import { parseRecordLine } from '../report/records.js';
import { findingsOf, findingText, type HubTarget } from './finding.js';
import { confirmResolvable, type GetBatch } from './confirm.js';
import { FindingsNotImportedError, importFindings, type ImportBatch, type ImportLog } from './import.js';
import { updateWorkflows, workflowUpdatesOf, type UpdateBatch, type WorkflowResult } from './workflow.js';

/** The payload CloudWatch Logs delivers to a subscribed Lambda (base64 of gzip of this JSON). */
const LogsPayload = v.object({
  messageType: v.string(),
  logGroup: v.string(),
  logEvents: v.array(v.object({ id: v.string(), timestamp: v.number(), message: v.string() })),
});
/** The Lambda event of a CloudWatch Logs subscription. */
const LogsEvent = v.object({ awslogs: v.object({ data: v.string() }) });

/** Decodes a subscription event; CONTROL_MESSAGE (CloudWatch Logs checking the destination) has no log events. */
export function decodeLogsEvent(event: unknown): v.InferOutput<typeof LogsPayload> {
  const { awslogs } = v.parse(LogsEvent, event);
  return v.parse(LogsPayload, JSON.parse(gunzipSync(Buffer.from(awslogs.data, 'base64')).toString('utf8')));
}

/** The account, Region and partition the exporter imports into: its own, from its function ARN. */
export function hubTargetOf(functionArn: string): HubTarget {
  const [, partition, , region, account] = functionArn.split(':');
  if (!partition || !region || !isRegionName(region) || !account || !isAccountId(account)) throw new Error(`not a Lambda function ARN: ${functionArn}`);
  return { partition, region, account };
}

/**
 * What one delivery did: lines read, records exported, lines skipped (not a record), transient failures skipped,
 * findings imported and resolved; `stale`: passed findings not resolved because a newer decision is their state.
 */
export interface ExportSummary extends WorkflowResult {
  readonly lines: number;
  readonly records: number;
  readonly skipped: number;
  readonly transient: number;
  readonly stale: number;
  readonly imported: number;
  /** Findings dropped before sending (over 240 KB), by id. */
  readonly tooLarge: readonly string[];
}

/** The three Security Hub calls the exporter makes. */
export interface HubCalls {
  readonly importBatch: ImportBatch;
  readonly getBatch: GetBatch;
  readonly updateBatch: UpdateBatch;
}

/** Resolves what this delivery imported and Security Hub shows as it left it; what is not confirmed counts as not resolved. */
async function resolvePassed(
  calls: HubCalls,
  imported: readonly AwsSecurityFinding[],
  log: ImportLog,
  sleep?: (ms: number) => Promise<void>,
): Promise<WorkflowResult & { readonly stale: number }> {
  const { confirmed, stale, unconfirmed } = await confirmResolvable(calls.getBatch, imported, log, sleep);
  const workflow = await updateWorkflows(calls.updateBatch, workflowUpdatesOf(confirmed), log, sleep);
  return { resolved: workflow.resolved, notResolved: workflow.notResolved + unconfirmed, stale };
}

/**
 * Exports one delivery: each record line to its findings, the newest per finding, imported in batches; then the
 * imported ones that passed are resolved. Throws only when findings could not be imported (Lambda retries).
 */
export async function exportLogEvents(
  event: unknown,
  target: HubTarget,
  calls: HubCalls,
  log: ImportLog,
  sleep?: (ms: number) => Promise<void>,
): Promise<ExportSummary> {
  const payload = decodeLogsEvent(event);
  const findings: AwsSecurityFinding[] = [];
  let records = 0;
  let skipped = 0;
  let transient = 0;
  for (const logEvent of payload.logEvents) {
    const logged = parseRecordLine(logEvent.message, payload.logGroup, logEvent.timestamp);
    if (!logged) {
      // The filter admits only record lines; anything else (a forged or truncated line) is named, never guessed at.
      skipped += 1;
      log('not a remediation record: skipped', { logGroup: payload.logGroup, logEventId: logEvent.id });
      continue;
    }
    if (logged.record.outcome === 'failed' && logged.record.error?.kind === 'transient' && logged.record.resources.length === 0) {
      // A retried fault that names no resource (an unreadable store at cold start), not a decision: as an account-wide
      // finding it would stay open for good. One that names a resource is exported: when the retries run out it is the
      // last word on that resource, and a finding resolved earlier must not stay resolved while it is exposed.
      transient += 1;
      log('transient failure: not exported', { logGroup: payload.logGroup, logEventId: logEvent.id, errorCode: findingText(logged.record.error.code, 128) });
      continue;
    }
    records += 1;
    findings.push(...findingsOf(logged.record, logged.loggedAt ?? logEvent.timestamp, target));
  }
  let result: Awaited<ReturnType<typeof importFindings>>;
  try {
    result = await importFindings(calls.importBatch, findings, log);
  } catch (error) {
    // The ones imported are resolved all the same: the retried delivery would fail on the same refused finding again.
    if (error instanceof FindingsNotImportedError) await resolvePassed(calls, error.imported, log, sleep);
    throw error;
  }
  // Only what this delivery imported: a finding Security Hub refused keeps the workflow it has.
  const workflow = await resolvePassed(calls, result.imported, log, sleep);
  return { lines: payload.logEvents.length, records, skipped, transient, imported: result.imported.length, tooLarge: result.tooLarge, ...workflow };
}
