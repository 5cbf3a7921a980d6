// Order statistics for the benchmark: nearest-rank percentiles (no interpolation, so every figure
// reported is a value that was actually measured).

/** The p-th percentile (0 < p ≤ 100) of ascending `sorted` values, nearest-rank: the ⌈p/100·n⌉-th value. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('percentile of no values');
  if (!(p > 0 && p <= 100)) throw new Error(`percentile must be in (0, 100], got ${p}`);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** Median and spread (p10, p90) of unsorted values. */
export interface Spread {
  readonly n: number;
  readonly median: number;
  readonly p10: number;
  readonly p90: number;
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, median: percentile(sorted, 50), p10: percentile(sorted, 10), p90: percentile(sorted, 90) };
}

export const round = (value: number, digits = 1): number => Number(value.toFixed(digits));

/**
 * A JavaScript expression, for a child's script, that is the child's own peak resident set in KiB: its VmHWM.
 * Not `process.resourceUsage().maxRSS`: on Linux that keeps, across exec, the high-water mark of the parent's
 * copy the child was forked from, so a child of a 340 MiB bench reports ~310 MiB. maxRSS only where /proc is absent.
 */
export const PEAK_RSS_KIB_EXPRESSION = `(() => { try { return Number(/^VmHWM:\\s*(\\d+) kB/m.exec(process.getBuiltinModule('node:fs').readFileSync('/proc/self/status', 'utf8'))[1]); } catch { return process.resourceUsage().maxRSS; } })()`;
