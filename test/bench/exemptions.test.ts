// The exemption bench's list must be what it claims (1,000 realistic exemptions, the matching-last resource matched
// by the last one only, the other by none), and its measure must run and report sane figures.
import { describe, expect, it } from 'vitest';
import { BENCH_RULE, BENCH_TODAY, benchExemptions, MATCHING_LAST, MATCHING_NONE, measureExemptions, measureReadCost } from '../../bench/exemptions.js';
import { RULE_IDS } from '../../shared/config.js';
import { findExemption } from '../../shared/exemptions.js';

describe('the exemption bench', () => {
  const list = benchExemptions(1000);

  it('holds 1,000 exemptions of every rule and *, literal ids, prefix and ? globs, some expired', () => {
    expect(list).toHaveLength(1000);
    expect(new Set(list.map((e) => e.rule))).toEqual(new Set([...RULE_IDS, '*']));
    expect(list.filter((e) => !/[*?]/.test(e.resource)).length).toBeGreaterThan(300);
    expect(list.filter((e) => /^[^*?]+\*$/.test(e.resource)).length).toBeGreaterThan(100);
    expect(list.filter((e) => e.resource.includes('?')).length).toBeGreaterThan(100);
    expect(list.filter((e) => e.expires !== undefined && e.expires < BENCH_TODAY).length).toBeGreaterThan(50);
    expect(benchExemptions(1000)).toEqual(list);
  });

  it('matches the matching-last resource by the last exemption alone, and the other by none', () => {
    expect(findExemption(list, BENCH_RULE, MATCHING_LAST, BENCH_TODAY)?.reason).toBe('SEC-9999: the one that matches');
    expect(findExemption(list.slice(0, -1), BENCH_RULE, MATCHING_LAST, BENCH_TODAY)).toBeUndefined();
    expect(findExemption(list, BENCH_RULE, MATCHING_NONE, BENCH_TODAY)).toBeUndefined();
  });

  it('measures both cases and the floor, p50 ≤ p99, the ratio from the medians', () => {
    const result = measureExemptions(1000, 500, 100);
    for (const c of [result.floor, result.matchingLast, result.matchingNone]) {
      expect(c.p50Us).toBeGreaterThan(0);
      expect(c.p99Us).toBeGreaterThanOrEqual(c.p50Us);
    }
    expect(result.ratioP50).toBeCloseTo(Math.max(result.matchingLast.p50Us, result.matchingNone.p50Us) / result.floor.p50Us, 0);
  });

  it('counts the SSM calls of a cold read: one page per 10 exemptions in the folder, plus the rules and the all folder', async () => {
    const costs = await measureReadCost([10, 11, 100], 0);
    expect(costs.map((c) => [c.exemptions, c.calls])).toEqual([
      [10, 3],
      [11, 4],
      [100, 12],
    ]);
    for (const c of costs) expect(c.ms).toBeGreaterThanOrEqual(0);
  });
});
