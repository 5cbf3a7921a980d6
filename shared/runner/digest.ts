/**
 * Digests: a burst of one rule's notifications for one account is told as one. Within the limit per window each
 * is sent; the first over it becomes the burst notice; the rest are in the remediation log only. Where a
 * notification falls is all this module decides; notify.ts sends it.
 */
import type { RemediationRecord } from '../remediation-log.js';
import type { AnyRule } from '../rule.js';
import type { RunDeps } from './deps.js';

/**
 * Within the limit, the first one over it (the burst notice), past it (log only), or not counted: the store could not
 * count it, so it is sent (fail open) and its record says so.
 */
export type BurstPosition = 'normal' | 'first-over' | 'suppressed' | 'uncounted';

/**
 * Where this notification falls in its rule's digest window: within the limit, the first one over it
 * (which becomes the burst notice), or past it (log only). CRITICAL ones are never held back, and a
 * store that cannot count fails open: a person is told rather than not.
 */
export async function burstPosition(
  rule: AnyRule,
  record: RemediationRecord,
  deps: RunDeps,
): Promise<{ readonly position: BurstPosition; readonly windowEnd: number }> {
  const { maxPerWindow, windowMinutes } = deps.config.reliability.digest;
  const windowMs = windowMinutes * 60_000;
  const start = Math.floor(deps.now() / windowMs) * windowMs;
  const windowEnd = start + windowMs;
  // A fix that did not land (failed) must reach a person whatever the noise, as must anything CRITICAL.
  if (!deps.store || record.severity === 'CRITICAL' || record.outcome === 'failed' || rule.neverDigested) return { position: 'normal', windowEnd };
  // Per account too: one account's Terraform apply must not silence another account's alerts (org mode).
  const count = await deps.store.addToWindow(`notifications#${rule.id}#${record.account ?? 'unknown'}`, start, 1, start + 2 * windowMs).catch(() => undefined);
  if (count === undefined) return { position: 'uncounted', windowEnd };
  if (count <= maxPerWindow) return { position: 'normal', windowEnd };
  return { position: count === maxPerWindow + 1 ? 'first-over' : 'suppressed', windowEnd };
}
