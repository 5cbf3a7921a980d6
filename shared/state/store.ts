import type { Outcome } from '../remediation-log.js';

/** What claiming an event id found. */
export type Claim =
  | { readonly kind: 'claimed' }
  | { readonly kind: 'duplicate'; readonly status: 'done' | 'in-progress'; readonly outcome: Outcome | null; readonly at: string };

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
  /** Claims an event id; an earlier claim that is done, or in progress and not yet expired, is a duplicate. */
  claimEvent(key: string, nowMs: number, lockMs: number, keepMs: number): Promise<Claim>;
  /** Marks a claimed event done with its outcome, remembered for `keepMs`. */
  completeEvent(key: string, outcome: Outcome, nowMs: number, keepMs: number): Promise<void>;
  /** Gives a claim back (a transient failure: the retry must be able to claim it again). */
  releaseEvent(key: string): Promise<void>;
  /** Adds `count` to a counter of the window starting at `windowStartMs`; returns the new total. */
  addToWindow(counter: string, windowStartMs: number, count: number, expiresMs: number): Promise<number>;
  breakerState(rule: string): Promise<BreakerState>;
  tripBreaker(rule: string, nowMs: number, reason: string): Promise<void>;
  resetBreaker(rule: string): Promise<void>;
}

/** An in-memory store with the same semantics, for tests and single-process runs. */
export function memoryStateStore(): StateStore & { readonly items: Map<string, Record<string, unknown>> } {
  const items = new Map<string, Record<string, unknown>>();
  return {
    items,
    async claimEvent(key, nowMs, lockMs) {
      const existing = items.get(`event#${key}`);
      if (existing && (existing.status === 'done' || Number(existing.lockedUntil) > nowMs)) {
        return { kind: 'duplicate', status: existing.status as 'done' | 'in-progress', outcome: (existing.outcome as Outcome) ?? null, at: String(existing.at) };
      }
      items.set(`event#${key}`, { status: 'in-progress', lockedUntil: nowMs + lockMs, at: new Date(nowMs).toISOString() });
      return { kind: 'claimed' };
    },
    async completeEvent(key, outcome, nowMs) {
      items.set(`event#${key}`, { status: 'done', outcome, at: new Date(nowMs).toISOString() });
    },
    async releaseEvent(key) {
      items.delete(`event#${key}`);
    },
    async addToWindow(counter, windowStartMs, count) {
      const id = `count#${counter}#${windowStartMs}`;
      const total = Number(items.get(id)?.total ?? 0) + count;
      items.set(id, { total });
      return total;
    },
    async breakerState(rule) {
      const item = items.get(`breaker#${rule}`);
      return item ? { open: true, since: String(item.since), reason: String(item.reason) } : { open: false };
    },
    async tripBreaker(rule, nowMs, reason) {
      if (!items.has(`breaker#${rule}`)) items.set(`breaker#${rule}`, { since: new Date(nowMs).toISOString(), reason });
    },
    async resetBreaker(rule) {
      items.delete(`breaker#${rule}`);
    },
  };
}
