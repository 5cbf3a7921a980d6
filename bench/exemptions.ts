// The exemptions part of `npm run bench`: 1,000 exemptions (the parameter store allows many, issue 18) must decide an
// event in well under a millisecond. Times findExemption (shared/exemptions.ts) per call for a resource only the
// last exemption matches (the whole list is scanned, and the match found at the end) and one none matches, next to a
// floor measured in the same run: one string equality check per exemption, the least any scan of the list does.
// (A Map lookup would be a floor only for literal ids; globs cannot be hashed, so a scan is the honest baseline.)
import { RULE_IDS, type Exemption, type RuleId } from '../shared/config.js';
import { findExemption } from '../shared/exemptions.js';
import type { ResourceRef } from '../shared/rule.js';
import { percentile } from './stats.js';

/** The UTC day the exemptions are judged on. */
export const BENCH_TODAY = '2026-12-07';
/** The rule the timed events are of: the registry's first (the exemptions spread over every rule alike). */
export const BENCH_RULE = RULE_IDS[0] as RuleId;
/** The resource only the last exemption matches, and one no exemption matches. */
export const MATCHING_LAST: ResourceRef = { type: 'AWS::S3::Bucket', id: 'zz-last-exempt-bucket' };
export const MATCHING_NONE: ResourceRef = { type: 'AWS::S3::Bucket', id: 'customer-data-eu-west-1-prod' };

/** A small deterministic generator (mulberry32): the same list every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const hex = (next: () => number, length: number) => Array.from({ length }, () => Math.floor(next() * 16).toString(16)).join('');

/**
 * `count` exemptions as a security team's store holds them: every rule and `*`, literal ids (sg-…, i-…, bucket
 * names, trail ARNs), prefix globs (`team-42-*`), `?` globs, some with an expiry (a tenth already past), and as
 * the last one the only exemption that matches MATCHING_LAST. None matches MATCHING_NONE.
 */
export function benchExemptions(count: number, seed = 18): Exemption[] {
  const next = random(seed);
  const rules: readonly (RuleId | '*')[] = [...RULE_IDS, '*'];
  const list: Exemption[] = [];
  for (let i = 0; i < count - 1; i += 1) {
    const rule = rules[Math.floor(next() * rules.length)] ?? '*';
    const kind = next();
    const resource =
      kind < 0.3
        ? `team-${i}-bucket-${hex(next, 6)}`
        : kind < 0.45
          ? `sg-${hex(next, 17)}`
          : kind < 0.6
            ? `i-${hex(next, 16)}?`
            : kind < 0.8
              ? `team-${i}-*`
              : kind < 0.9
                ? `arn:aws:cloudtrail:eu-west-1:111122223333:trail/audit-${i}`
                : `*-sandbox-${i}-*`;
    const expiry = next();
    const expires = expiry < 0.1 ? '2026-11-30' : expiry < 0.5 ? `2027-0${1 + Math.floor(next() * 9)}-15` : undefined;
    list.push({ rule, resource, reason: `SEC-${1000 + i}: approved exception`, ...(expires ? { expires } : {}) });
  }
  list.push({ rule: BENCH_RULE, resource: 'zz-last-exempt-*', reason: 'SEC-9999: the one that matches' });
  return list;
}

export interface TimedCase {
  readonly p50Us: number;
  readonly p99Us: number;
}

export interface ExemptionsBench {
  readonly exemptions: number;
  readonly calls: number;
  readonly matchingLast: TimedCase;
  readonly matchingNone: TimedCase;
  /** One `===` per exemption over the same list: the cost of merely visiting each entry. */
  readonly floor: TimedCase;
  /** The timer's own cost (two hrtime reads around nothing), included in every figure above. */
  readonly timerUs: number;
  readonly ratioP50: number;
}

/** Per-call times (µs) of `work`, after `warmup` calls, nearest-rank p50 and p99. */
function timed(calls: number, warmup: number, work: () => unknown): TimedCase {
  const samples = new Float64Array(calls);
  let sink = 0;
  for (let i = 0; i < warmup; i += 1) sink += work() ? 1 : 0;
  for (let i = 0; i < calls; i += 1) {
    const start = process.hrtime.bigint();
    sink += work() ? 1 : 0;
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  if (sink < 0) throw new Error('unreachable: keeps the work from being optimised away');
  const sorted = Array.from(samples).sort((a, b) => a - b);
  return { p50Us: percentile(sorted, 50), p99Us: percentile(sorted, 99) };
}

/** Times findExemption over `count` exemptions against the floor, `calls` timed calls per case. */
export function measureExemptions(count = 1000, calls = 20_000, warmup = 2_000): ExemptionsBench {
  const exemptions = benchExemptions(count);
  const last = findExemption(exemptions, BENCH_RULE, MATCHING_LAST, BENCH_TODAY);
  if (last?.reason !== 'SEC-9999: the one that matches') throw new Error('the matching-last resource is not matched by the last exemption');
  if (findExemption(exemptions, BENCH_RULE, MATCHING_NONE, BENCH_TODAY)) throw new Error('the non-matching resource is exempt');
  const id = MATCHING_NONE.id;
  const floor = timed(calls, warmup, () => {
    let hits = 0;
    for (const exemption of exemptions) if (exemption.resource === id) hits += 1;
    return hits;
  });
  const matchingLast = timed(calls, warmup, () => findExemption(exemptions, BENCH_RULE, MATCHING_LAST, BENCH_TODAY));
  const matchingNone = timed(calls, warmup, () => findExemption(exemptions, BENCH_RULE, MATCHING_NONE, BENCH_TODAY));
  const timer = timed(calls, warmup, () => 0);
  const round = (x: number) => Number(x.toFixed(2));
  const r = (c: TimedCase): TimedCase => ({ p50Us: round(c.p50Us), p99Us: round(c.p99Us) });
  return {
    exemptions: count,
    calls,
    matchingLast: r(matchingLast),
    matchingNone: r(matchingNone),
    floor: r(floor),
    timerUs: round(timer.p50Us),
    ratioP50: round(Math.max(matchingLast.p50Us, matchingNone.p50Us) / floor.p50Us),
  };
}

/** One cold read of the live configuration with `count` exemptions in the rule's own folder. */
export interface ReadCost {
  readonly exemptions: number;
  readonly calls: number;
  readonly ms: number;
}

/** The per-call latency the read-cost figure assumes: an in-region SSM round trip, optimistic (measure yours). */
export const READ_COST_LATENCY_MS = 15;

/**
 * The cold read's cost (shared/live-config): SSM calls and wall time of one `liveConfigSource.read` with 10, 100
 * and 1,000 exemptions in one folder, through the real reader (signing, HTTP, paging) against a local SSM double
 * that answers each call after `latencyMs` (an assumed in-region round trip; SSM's own is not measured here).
 * GetParametersByPath pages by 10 and each page needs the last one's token, so a folder costs ceil(n / 10) calls in
 * sequence, the rules and the `all` folder one each alongside.
 */
export async function measureReadCost(counts: readonly number[] = [10, 100, 1000], latencyMs = READ_COST_LATENCY_MS): Promise<ReadCost[]> {
  const { createServer } = await import('node:http');
  const { parseConfig } = await import('../shared/config.js');
  const { exemptionFolder, exemptionParameter } = await import('../shared/live-config/layout.js');
  const { liveConfigSource } = await import('../shared/live-config/live-config.js');
  const { ssmReader, PAGE_SIZE } = await import('../shared/live-config/ssm-reader.js');
  const prefix = '/trailguard/bench';
  let folder: { name: string; value: string; version: number }[] = [];
  let calls = 0;
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      calls += 1;
      const input = JSON.parse(body) as { Path?: string; NextToken?: string };
      const target = String(request.headers['x-amz-target']);
      let answer: object = { Parameters: [], InvalidParameters: [] };
      if (target.endsWith('GetParametersByPath') && input.Path === exemptionFolder(prefix, BENCH_RULE)) {
        const start = Number(input.NextToken ?? 0);
        const page = folder.slice(start, start + PAGE_SIZE).map((p) => ({ Name: p.name, Value: p.value, Version: p.version }));
        answer = { Parameters: page, ...(start + PAGE_SIZE < folder.length ? { NextToken: String(start + PAGE_SIZE) } : {}) };
      }
      setTimeout(() => response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(answer)), latencyMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  try {
    const results: ReadCost[] = [];
    for (const count of counts) {
      folder = benchExemptions(count).map((e, i) => ({
        name: exemptionParameter(prefix, BENCH_RULE, `${e.resource}-${i}`),
        value: JSON.stringify({ resource: e.resource, reason: e.reason }),
        version: 1,
      }));
      const reader = ssmReader({
        region: 'us-east-1',
        endpoint: `http://127.0.0.1:${port}`,
        credentials: async () => ({ accessKeyId: 'bench', secretAccessKey: 'bench' }),
      });
      const source = liveConfigSource(parseConfig({ parameterPrefix: prefix }), BENCH_RULE, {
        reader,
        logger: { error: () => {}, warn: () => {} },
        ruleOverrides: [],
      });
      calls = 0;
      const start = performance.now();
      const config = await source.read(Date.now());
      const ms = performance.now() - start;
      if (config.exemptions.length !== count) throw new Error(`read ${config.exemptions.length} of ${count} exemptions`);
      results.push({ exemptions: count, calls, ms: Math.round(ms) });
    }
    return results;
  } finally {
    server.close();
  }
}
