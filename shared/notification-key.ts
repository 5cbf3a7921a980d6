import { createHash } from 'node:crypto';
import type { RemediationRecord } from './remediation-log.js';

// One event can be told more than once: SNS delivers at least once, and a Publish whose answer was lost may have
// gone out (shared/aws/sns.ts). Every copy carries the same key, so an incident tool folds them into one alert:
// PagerDuty's `dedup_key`, Opsgenie's `alias`. The event id and account come from the event (attacker-controlled),
// so they are hashed: the key is short, printable and the same length whatever the event holds. The rule and the
// outcome are our own literals and stay readable. The account is in the hash so that an event forged in one
// account cannot name another account's event id and fold its page away.

const digest = (parts: readonly (string | null)[]) => createHash('sha256').update(JSON.stringify(parts)).digest('hex');

/**
 * The key every copy of a record's notification carries: `trailguard:<rule>:<outcome>:<sha256>` over the rule,
 * account, event id and outcome. The same for every try and redelivery of one event that ends the same way.
 */
export function dedupKeyOf(record: Pick<RemediationRecord, 'rule' | 'account' | 'eventId' | 'outcome'>): string {
  const rule = record.rule ?? 'none';
  return `trailguard:${rule}:${record.outcome}:${digest([rule, record.account, record.eventId, record.outcome])}`;
}

/** The key of a burst notice: one per rule, account and digest window, whichever event crossed the limit. */
export function burstDedupKey(rule: string, account: string | null, windowEnd: string): string {
  return `trailguard:${rule}:burst:${digest([rule, account, windowEnd])}`;
}
