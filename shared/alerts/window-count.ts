import type { WindowCounter } from '../rule.js';

/** One counter around one event: its fixed window, that window's total, the previous window's, and the sliding estimate. */
export interface WindowTally {
  /** Start (epoch ms) of the fixed window the event falls in. */
  readonly windowStart: number;
  /** The fixed window's total, this event included. */
  readonly current: number;
  /** The previous fixed window's total. */
  readonly previous: number;
  /** About how many fell within one window length up to the event: `floor(previous × overlap + current)`. */
  readonly estimate: number;
}

/**
 * Adds `step` to `counter` at `timeMs` and estimates the count over the window length ending there: the fixed
 * window's total plus the previous window's, weighted by how much of it still lies within that length (the
 * usual two-window approximation; it assumes the previous window's events were spread evenly). Two counter
 * calls, in parallel; windows go by event time, so a late or redelivered event counts where it happened.
 */
export async function tallyInWindow(add: WindowCounter, counter: string, timeMs: number, windowMs: number, step: number): Promise<WindowTally> {
  const windowStart = Math.floor(timeMs / windowMs) * windowMs;
  const [current, previous] = await Promise.all([
    add(counter, windowStart, step, windowStart + 2 * windowMs),
    add(counter, windowStart - windowMs, 0, windowStart + windowMs),
  ]);
  const overlap = 1 - (timeMs - windowStart) / windowMs;
  return { windowStart, current, previous, estimate: Math.floor(previous * overlap + current) };
}

/**
 * Whether this event raises the counter's one alert of its fixed window: the estimate is at or past the
 * threshold and this is the first claim (a marker counter), so a count that jumps past the threshold (an
 * update applied twice by a retry) still alerts, and only once. After a window that alerted, the next one
 * alerts only on its own count: a burst across the boundary is one alert, a sustained one is one per window.
 */
export async function claimWindowAlert(add: WindowCounter, counter: string, tally: WindowTally, windowMs: number, threshold: number): Promise<boolean> {
  if (tally.estimate < threshold) return false;
  const marker = `${counter}#alerted`;
  if (tally.current < threshold && (await add(marker, tally.windowStart - windowMs, 0, tally.windowStart + windowMs)) > 0) return false;
  return (await add(marker, tally.windowStart, 1, tally.windowStart + 2 * windowMs)) === 1;
}
