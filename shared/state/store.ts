import { randomUUID } from 'node:crypto';
import type { Outcome } from '../remediation-log.js';
import type { PlannedAction, ResourceRef, Severity } from '../rule.js';

/**
 * What a live run is about to do, written into its claim before the first write: if the write lands but its
 * response is lost, the retry finds this, reads the resource back, and records and tells the fix it made.
 */
export interface Intent {
  /** Names this intent in the resources' fix markers (`markFix`): a retry checks that no later fix superseded it. */
  readonly id: string;
  /**
   * The planned actions, with the `previous` state each replaces (the record's way back); a retry of a half-done try
   * keeps here the earlier actions that read back as done.
   */
  readonly actions: readonly PlannedAction[];
  /** The decision's reason (the conclusion's `subject`), without the runner's words on what it did. */
  readonly reason: string;
  readonly severity: Severity | null;
  readonly resources: readonly ResourceRef[];
  /** When the first try recorded it (ISO 8601). */
  readonly at: string;
  /** The decision's finding code, for the record a retry writes (absent in intents recorded before it existed). */
  readonly finding?: string | null;
}

/** What claiming an event id found. `token` names this claim for `recordIntent`/`releaseEvent`/`concludeEvent`. */
export type Claim =
  | { readonly kind: 'claimed'; readonly token: string; readonly intent?: Intent }
  | { readonly kind: 'duplicate'; readonly status: 'done' | 'in-progress'; readonly outcome: Outcome | null; readonly at: string };

/** What taking a resource lock found: taken by this owner, or held by another until `until` (epoch ms). */
export type LockAttempt = { readonly kind: 'taken' } | { readonly kind: 'held'; readonly until: number };

/** The circuit breaker of one rule: open means the rule only reports until an operator resets it. */
export interface BreakerState {
  readonly open: boolean;
  readonly since?: string;
  readonly reason?: string;
}

/**
 * Small shared state across invocations: event-id claims (idempotency), write and notification counters
 * per fixed window, and each rule's circuit breaker. Times are epoch ms; items expire by TTL.
 */
export interface StateStore {
  /**
   * Claims an event id; an earlier claim that is done, or in progress and not yet expired, is a duplicate. An
   * in-progress claim taken under the same `invocation` (a Lambda request id: an earlier, ended try of this
   * invocation) is taken over at once.
   */
  claimEvent(key: string, nowMs: number, lockMs: number, keepMs: number, invocation?: string): Promise<Claim>;
  /**
   * Marks the claim this token holds done with its outcome (remembered for `keepMs`) and drops its intent, before
   * the run tells anyone: a redelivery is then a duplicate, never a second page. False if the claim is no longer
   * this token's (its lock lapsed and another invocation took it over: that one tells). Repeatable by its token.
   */
  concludeEvent(key: string, token: string, outcome: Outcome, nowMs: number, keepMs: number): Promise<boolean>;
  /**
   * Gives a claim back (a transient failure: the retry must be able to claim it again), keeping its intent only
   * with `keepIntent` (a write of it may have landed unseen). Does nothing if the claim is no longer this token's.
   */
  releaseEvent(key: string, token: string, keepIntent: boolean): Promise<void>;
  /** Writes the intent into the claim this token holds; false if the claim is no longer this token's. */
  recordIntent(key: string, token: string, intent: Intent): Promise<boolean>;
  /**
   * Notes, before acting, that intent `intentId` is the latest to act on a resource (`name`), kept for `keepMs`:
   * a retry of an older intent on it is superseded (another invocation acted since) and decides afresh.
   */
  markFix(name: string, intentId: string, nowMs: number, keepMs: number): Promise<void>;
  /** The intent that last acted on a resource (`markFix`), or undefined. */
  lastFixOf(name: string): Promise<string | undefined>;
  /**
   * Takes a short lock (a resource of a rule) for `owner` until `nowMs + holdMs`; while another owner holds it
   * unexpired, says until when. A holder that dies leaves it to lapse. `owner` must be unique per attempt: a lock
   * found with it is this attempt's own write whose response was lost, so it is taken.
   */
  lockResource(name: string, owner: string, nowMs: number, holdMs: number): Promise<LockAttempt>;
  /** Frees a lock this owner holds; one that lapsed and was taken by another owner is left alone. */
  unlockResource(name: string, owner: string): Promise<void>;
  /** Adds `count` to a counter of the window starting at `windowStartMs`; returns the new total. */
  addToWindow(counter: string, windowStartMs: number, count: number, expiresMs: number): Promise<number>;
  /** Reads a counter of the window starting at `windowStartMs` without adding to it (0 when absent). */
  windowTotal(counter: string, windowStartMs: number): Promise<number>;
  /** Keeps `value` as the window's first unless one is kept already; returns the kept one (a counter's first item). */
  keepFirst(counter: string, windowStartMs: number, value: string, expiresMs: number): Promise<string>;
  breakerState(rule: string): Promise<BreakerState>;
  /**
   * Opens a closed breaker; true only for the one call that opened it, false when it was already open (another
   * invocation of the same burst won), so the trip pages exactly once.
   */
  tripBreaker(rule: string, nowMs: number, reason: string): Promise<boolean>;
  resetBreaker(rule: string): Promise<void>;
}

/** An in-memory store with the same semantics, for tests and single-process runs. */
export function memoryStateStore(): StateStore & { readonly items: Map<string, Record<string, unknown>> } {
  const items = new Map<string, Record<string, unknown>>();
  return {
    items,
    async claimEvent(key, nowMs, lockMs, _keepMs, invocation) {
      const existing = items.get(`event#${key}`);
      const ours = invocation !== undefined && existing?.invocation === invocation;
      if (existing && (existing.status === 'done' || (existing.status === 'in-progress' && Number(existing.lockedUntil) > nowMs && !ours))) {
        return {
          kind: 'duplicate',
          status: existing.status as 'done' | 'in-progress',
          outcome: (existing.outcome as Outcome) ?? null,
          at: String(existing.at),
        };
      }
      const token = randomUUID();
      const intent = existing?.intent as Intent | undefined;
      items.set(`event#${key}`, {
        status: 'in-progress',
        lockedUntil: nowMs + lockMs,
        at: new Date(nowMs).toISOString(),
        token,
        ...(invocation !== undefined ? { invocation } : {}),
        ...(intent ? { intent } : {}),
      });
      return intent ? { kind: 'claimed', token, intent } : { kind: 'claimed', token };
    },
    async concludeEvent(key, token, outcome, nowMs) {
      if (items.get(`event#${key}`)?.token !== token) return false;
      items.set(`event#${key}`, { status: 'done', outcome, at: new Date(nowMs).toISOString(), token });
      return true;
    },
    async releaseEvent(key, token, keepIntent) {
      const existing = items.get(`event#${key}`);
      if (existing?.token !== token) return;
      items.set(`event#${key}`, { status: 'retryable', at: existing.at, ...(keepIntent && existing.intent ? { intent: existing.intent } : {}) });
    },
    async recordIntent(key, token, intent) {
      const existing = items.get(`event#${key}`);
      if (existing?.status !== 'in-progress' || existing.token !== token) return false;
      items.set(`event#${key}`, { ...existing, intent: structuredClone(intent) });
      return true;
    },
    async markFix(name, intentId, nowMs) {
      items.set(`fix#${name}`, { intentId, at: new Date(nowMs).toISOString() });
    },
    async lastFixOf(name) {
      const item = items.get(`fix#${name}`);
      return item ? String(item.intentId) : undefined;
    },
    async lockResource(name, owner, nowMs, holdMs) {
      const existing = items.get(`lock#${name}`);
      if (existing && existing.owner !== owner && Number(existing.lockedUntil) >= nowMs) return { kind: 'held', until: Number(existing.lockedUntil) };
      items.set(`lock#${name}`, { owner, lockedUntil: nowMs + holdMs });
      return { kind: 'taken' };
    },
    async unlockResource(name, owner) {
      if (items.get(`lock#${name}`)?.owner === owner) items.delete(`lock#${name}`);
    },
    async addToWindow(counter, windowStartMs, count) {
      const id = `count#${counter}#${windowStartMs}`;
      const total = Number(items.get(id)?.total ?? 0) + count;
      items.set(id, { total });
      return total;
    },
    async keepFirst(counter, windowStartMs, value) {
      const id = `first#${counter}#${windowStartMs}`;
      const kept = items.get(id)?.first;
      if (typeof kept === 'string') return kept;
      items.set(id, { first: value });
      return value;
    },
    async windowTotal(counter, windowStartMs) {
      return Number(items.get(`count#${counter}#${windowStartMs}`)?.total ?? 0);
    },
    async breakerState(rule) {
      const item = items.get(`breaker#${rule}`);
      return item ? { open: true, since: String(item.since), reason: String(item.reason) } : { open: false };
    },
    async tripBreaker(rule, nowMs, reason) {
      if (items.has(`breaker#${rule}`)) return false;
      items.set(`breaker#${rule}`, { since: new Date(nowMs).toISOString(), reason });
      return true;
    },
    async resetBreaker(rule) {
      items.delete(`breaker#${rule}`);
    },
  };
}
