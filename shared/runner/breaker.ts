/**
 * The circuit breaker: more writes than allowed per rule in a fixed window open it, and it stays open (the rule
 * reports, never writes) until an operator resets it (`trailguard breaker reset`). A bug or a hostile flood must
 * not revoke an estate's security groups. Which breaker a run counts against, counting and tripping it, and the
 * conclusion of a run it holds back.
 */
import type { Conclusion } from './conclusion.js';
import type { RunDeps, Trigger } from './deps.js';

/**
 * The breaker a run counts against: the rule's, or for a reconciliation sweep the rule's sweep breaker
 * (`public-bucket:sweep`). A first live sweep of an estate's legacy findings may well exceed the limit; it
 * must stop itself, not the rule's real-time remediation of new violations.
 */
export function breakerOf(ruleId: string, trigger: Trigger): string {
  return trigger === 'sweep' ? `${ruleId}:sweep` : ruleId;
}

/** The fixed window a breaker counts writes in at `nowMs`, and the name of its counter (`trailguard breaker status` reads it). */
export function breakerWindow(
  breaker: string,
  nowMs: number,
  windowMinutes: number,
): { readonly counter: string; readonly start: number; readonly windowMs: number } {
  const windowMs = windowMinutes * 60_000;
  return { counter: `writes#${breaker}`, start: Math.floor(nowMs / windowMs) * windowMs, windowMs };
}

/** Why a breaker holds this run's writes back; `tripped`: this run's writes opened it. */
export interface BreakerHold {
  readonly breaker: string;
  readonly reason: string;
  readonly tripped: boolean;
}

/**
 * Counts this run's writes against the breaker and returns why they must not be made (it is open, or they
 * trip it), or undefined. Without a store there is no breaker.
 */
export async function checkBreaker(breaker: string, writes: number, deps: RunDeps): Promise<BreakerHold | undefined> {
  if (!deps.store) return undefined;
  const reset = `reset with: trailguard breaker reset ${breaker}`;
  const { maxWrites, windowMinutes } = deps.config.reliability.breaker;
  const { counter, start, windowMs } = breakerWindow(breaker, deps.now(), windowMinutes);
  // One round trip inside the exposure window: counting a write the open breaker then refuses is harmless.
  const [state, total] = await Promise.all([deps.store.breakerState(breaker), deps.store.addToWindow(counter, start, writes, start + 2 * windowMs)]);
  if (state.open) return { breaker, reason: `the ${breaker} circuit breaker is open since ${state.since} (${state.reason}); ${reset}`, tripped: false };
  if (total <= maxWrites) return undefined;
  const reason = `${total} writes in ${windowMinutes} min exceed the limit of ${maxWrites}`;
  // Several invocations of one burst pass the limit before the breaker exists: only the one whose conditional
  // write opens it pages the trip; the others report an open breaker, digested like any other report.
  if (await deps.store.tripBreaker(breaker, deps.now(), reason)) {
    return { breaker, reason: `the ${breaker} circuit breaker tripped: ${reason}; ${reset}`, tripped: true };
  }
  return { breaker, reason: `the ${breaker} circuit breaker is open: a concurrent invocation tripped it (${reason}); ${reset}`, tripped: false };
}

/**
 * A planned remediation the breaker holds back: still `would-remediate`, no longer planned, skipped for the
 * breaker. The trip itself pages (CRITICAL); reports while the breaker stays open keep their own severity, so
 * the digest can fold a flood into one notice instead of hundreds of pages.
 */
export function heldByBreaker(planned: Conclusion, hold: BreakerHold): Conclusion {
  return {
    ...planned,
    plan: null,
    skipped: { why: 'breaker', breaker: hold.breaker, tripped: hold.tripped },
    severity: hold.tripped ? 'CRITICAL' : planned.severity,
    reason: `${planned.subject}; NOT remediated: ${hold.reason}`,
  };
}
