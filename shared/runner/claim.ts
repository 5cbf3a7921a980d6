/**
 * Idempotency: EventBridge delivers at least once, so an event that may act or notify is claimed once, by
 * rule and event id, in the state store. A duplicate ends as `ignored`; a claim another invocation holds is
 * retried; the claim is settled (concluded, or given back on a transient error) before anything is told.
 * What a claim keeps for a retry whose write may have landed unseen is intent.ts's.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AwsCallError } from '../errors.js';
import type { AnyRule } from '../rule.js';
import type { Intent } from '../state/store.js';
import { conclude, type Conclusion } from './conclusion.js';
import { claimLockMs } from './deadline.js';
import type { RunDeps } from './deps.js';

/** How long a claim holds without a deadline (replay, CLI); in Lambda it holds for the invocation's remaining time. */
export const CLAIM_LOCK_MS = 90_000;

/**
 * The event's claim, once taken: its key and token, and the intent in it while a write of that intent may have
 * landed unseen (an earlier try's, until read back; this try's, from before its first write). A transient
 * failure gives the claim back with the intent only while it is set here.
 */
export interface ClaimRef {
  key: string | undefined;
  token?: string;
  intent?: Intent | undefined;
}

/** Claims the event (or finding) id (when a store is configured); a duplicate ends as `ignored`, else `next` decides. */
export async function claimThen(rule: AnyRule, id: string, deps: RunDeps, claim: ClaimRef, next: () => Promise<Conclusion>): Promise<Conclusion> {
  if (!deps.store) return next();
  const key = `${rule.id}#${id}`;
  const keepMs = deps.config.reliability.idempotencyHours * 3_600_000;
  const found = await deps.store.claimEvent(key, deps.now(), claimLockMs(deps, CLAIM_LOCK_MS), keepMs, deps.invocationId);
  if (found.kind === 'duplicate' && found.status === 'done') {
    return conclude('ignored', `duplicate delivery of event ${id}: already handled as ${found.outcome ?? 'unknown'} at ${found.at}`);
  }
  if (found.kind === 'duplicate') {
    // Another invocation holds the claim: it may finish, or it may have timed out or crashed (its lock then
    // lapses). Ignoring this delivery would lose the event in the second case, so it is retried: by then the
    // first has finished (a duplicate, ignored) or its lock has expired (this one acts).
    throw new AwsCallError(
      'DynamoDB.UpdateItem',
      key,
      'transient',
      'ClaimInProgress',
      `event ${id} is being handled by another invocation since ${found.at}: retried once its claim is settled or lapses`,
    );
  }
  claim.key = key;
  claim.token = found.token;
  if (found.intent) claim.intent = found.intent;
  return next();
}

/** Attempts at concluding a claim before telling, 100 ms then 200 ms apart (within the settle margin in Lambda). */
const CONCLUDE_ATTEMPTS = 3;
const CONCLUDE_RETRY_MS = 100;

/**
 * Settles the claim before anything is told. A transient failure gives it back so the retry can act (with the
 * intent while a write of it may have landed). Anything else concludes it first: a redelivery is then a
 * duplicate, never a second page. Returns why this run must not tell, when its lapsed claim was taken over.
 */
export async function settleClaim(claim: ClaimRef, conclusion: Conclusion, deps: RunDeps): Promise<string | undefined> {
  const { key, token } = claim;
  if (!key || !token || !deps.store) return undefined;
  if (conclusion.error?.kind === 'transient') {
    // Best effort: if this write is lost, the lock lapses and the retry takes the claim over with its intent.
    await deps.store.releaseEvent(key, token, claim.intent !== undefined).catch(() => undefined);
    return undefined;
  }
  const keepMs = deps.config.reliability.idempotencyHours * 3_600_000;
  for (let attempt = 1; ; attempt += 1) {
    try {
      if (await deps.store.concludeEvent(key, token, conclusion.outcome, deps.now(), keepMs)) return undefined;
      return `the claim on ${key} lapsed and another invocation took it over: that one records and tells this event`;
    } catch {
      // Still unsettled after the attempts: tell anyway. A page told twice (should the event be redelivered)
      // is better than a fix nobody hears of.
      if (attempt === CONCLUDE_ATTEMPTS) return undefined;
      await sleep(CONCLUDE_RETRY_MS * attempt);
    }
  }
}
