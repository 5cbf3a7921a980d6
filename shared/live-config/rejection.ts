/**
 * A rejected live-configuration value, told once: the problem text (from the schema, never the stored value, which
 * is anyone-with-PutParameter's text), and the notification that names it, published by exactly one container
 * (a first-writer-wins claim in the state table), so fifty cold starts do not page fifty times.
 */
import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { buildSubject, displayValue, type Notification, type Notify } from '../notifier.js';
import type { StateStore } from '../state/store.js';

/** What a rejection notification says: which parameter, which version, what is wrong, what stays in force. */
export interface RejectionNotice {
  readonly parameter: string;
  readonly version: number;
  readonly problem: string;
  readonly inForce: string;
}

/** How long a rejection's claim is kept: one notification per parameter version within it. */
export const REJECTION_KEEP_MS = 90 * 24 * 3_600_000;
/** How long a claim waits for its publisher: one that died leaves it to another container after this. */
const REJECTION_LOCK_MS = 60_000;

// A schema path holds keys of the stored JSON: an unknown key is the stored value's own text, so it is made safe.
const safePath = (path: string) => path.replace(/[^A-Za-z0-9_.:*-]/g, '?').slice(0, 200);

/**
 * The problem of the first schema issue: where (the key path) and what was expected. Valibot's default message
 * quotes the received value ("… but received "x""), so only the schema's side of it is kept; our own messages
 * (`expected YYYY-MM-DD`) are kept whole.
 */
export function rejectionProblem(issue: v.BaseIssue<unknown> | undefined): string {
  if (!issue) return 'invalid';
  const path = v.getDotPath(issue);
  const where = path ? `${safePath(path)}: ` : '';
  if (!issue.message.startsWith('Invalid ')) return `${where}${issue.message}`;
  if (issue.expected === 'never') return `${where}unknown key`;
  return `${where}invalid ${issue.type}${issue.expected ? `, expected ${issue.expected.slice(0, 200)}` : ''}`;
}

/** The notification of one rejection (HIGH: an exemption or setting an operator meant is not in force). */
export function rejectionNotification(notice: RejectionNotice, rule: string, account: string | null, region: string | null): Notification {
  const parameter = displayValue(notice.parameter, 1100);
  const subject = buildSubject('HIGH', 'trailguard config rejected', account, region);
  const text = [
    subject,
    '',
    `The live configuration parameter ${parameter} (version ${notice.version}) was rejected: ${displayValue(notice.problem, 400)}.`,
    `What is in force instead: ${notice.inForce}.`,
    'Fix the value (trailguard exempt add/remove, or aws ssm put-parameter); every function reads it again within the cache time.',
    `Each function logs it as "trailguard config rejected" (key ${parameter}).`,
  ].join('\n');
  const dedupKey = `trailguard:config-rejected:${createHash('sha256').update(`${notice.parameter}#${notice.version}`).digest('hex')}`;
  return {
    subject,
    text,
    json: JSON.stringify({ subject, kind: 'config-rejected', ...notice, dedupKey }),
    dedupKey,
    attributes: { rule, severity: 'HIGH', outcome: 'failed', account: account ?? 'unknown' },
  };
}

/** Where a rejection is told from: the topic, the state table's claim, and what names the sender. */
export interface RejectionNotifierDeps {
  readonly notify: Notify;
  readonly store: StateStore | undefined;
  readonly now: () => number;
  readonly rule: string;
  readonly account: string | null;
  readonly region: string | null;
}

/**
 * Publishes a rejection once across every container and function: the first to claim
 * `config-rejected#<parameter>#<version>` publishes, the rest see a duplicate. A failed Publish gives the claim
 * back (and throws), so a later read tries again. Without a state table (a test, a one-off run) it just publishes.
 */
export function rejectionNotifier(deps: RejectionNotifierDeps): (notice: RejectionNotice) => Promise<void> {
  return async (notice) => {
    const notification = rejectionNotification(notice, deps.rule, deps.account, deps.region);
    const store = deps.store;
    if (!store) {
      await deps.notify(notification);
      return;
    }
    const key = `config-rejected#${notice.parameter}#${notice.version}`;
    const claim = await store.claimEvent(key, deps.now(), REJECTION_LOCK_MS, REJECTION_KEEP_MS);
    if (claim.kind === 'duplicate') return;
    try {
      await deps.notify(notification);
    } catch (error) {
      await store.releaseEvent(key, claim.token, false);
      throw error;
    }
    await store.concludeEvent(key, claim.token, 'failed', deps.now(), REJECTION_KEEP_MS);
  };
}
