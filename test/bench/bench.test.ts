// The benchmark's own pieces that could be silently wrong: percentiles, the generated log file, the call
// counter (against a known call list and against a real run of the public-bucket rule on the fake AWS).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { countCalls } from '../../bench/calls.js';
import { generateRecords, writeLogFile } from '../../bench/cloudtrail-log.js';
import { installFakeAws, World, type Call } from '../../bench/fake-aws.js';
import { MINIMUMS, VIOLATION_SAMPLES } from '../../bench/minimums.js';
import { percentile, spread } from '../../bench/stats.js';
import { tracePhases } from '../../bench/warm.js';
import { publicBucket } from '../../functions/public-bucket/rule.js';
import { RULES } from '../../functions/rules.js';
import { ALERT_RULE_IDS } from '../../shared/config.js';
import { matchesPattern } from '../../shared/events/pattern.js';
import { toEnvelopeJson } from '../../shared/events/schema.js';
import { loadSample, runSample } from '../helpers/samples.js';

describe('percentile (nearest rank)', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);

  it('picks measured values at the nearest rank', () => {
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile(hundred, 10)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 99)).toBe(11);
    expect(percentile([7], 1)).toBe(7);
  });

  it('refuses no values and out-of-range percentiles', () => {
    expect(() => percentile([], 50)).toThrow();
    expect(() => percentile(hundred, 0)).toThrow();
    expect(() => percentile(hundred, 101)).toThrow();
  });

  it('spread sorts its input', () => {
    expect(spread([9, 1, 5, 3, 7, 2, 8, 4, 6, 10])).toEqual({ n: 10, median: 5, p10: 1, p90: 9 });
  });
});

describe('the generated CloudTrail log file', () => {
  // The log is generated from the remediation rules' samples (what the bench measures), and its "irrelevant"
  // calls are irrelevant to them only: the audit alerts match some on purpose (ConsoleLogin; root-activity a
  // root CreateBucket of public-bucket's samples).
  const remediationRules = RULES.filter((rule) => !(ALERT_RULE_IDS as readonly string[]).includes(rule.id));
  const rules = remediationRules.map((rule) => rule.id);

  it('holds the requested number of records, as a gzipped {"Records": [...]} file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
    try {
      const log = generateRecords(3000, rules, 7);
      const sizes = writeLogFile(join(dir, 'log.json.gz'), log);
      const parsed = JSON.parse(gunzipSync(readFileSync(join(dir, 'log.json.gz'))).toString('utf8')) as { Records: Record<string, unknown>[] };
      expect(parsed.Records).toHaveLength(3000);
      expect(sizes.bytes).toBeGreaterThan(sizes.gzipBytes);
      expect(new Set(parsed.Records.map((r) => r.eventID)).size).toBe(3000);
      for (const record of parsed.Records) expect(record).toMatchObject({ eventSource: expect.any(String), eventName: expect.any(String), eventTime: expect.any(String) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is mostly irrelevant calls, and each rule sees only records taken from its samples', () => {
    const log = generateRecords(5000, rules, 3);
    let matchedAny = 0;
    for (const record of log.records) {
      if (remediationRules.some((rule) => matchesPattern(rule.pattern, toEnvelopeJson(record)))) matchedAny += 1;
    }
    for (const rule of remediationRules) {
      const matching = log.records.filter((record) => matchesPattern(rule.pattern, toEnvelopeJson(record))).length;
      // Some samples are calls EventBridge would not deliver (failed calls, dry-run probes): at most all of them match.
      expect(matching, rule.id).toBeLessThanOrEqual(log.fromRule[rule.id] ?? 0);
      expect(matching, rule.id).toBeGreaterThan((log.fromRule[rule.id] ?? 0) / 2);
    }
    const relevant = Object.values(log.fromRule).reduce((a, b) => a + b, 0);
    expect(matchedAny).toBeLessThanOrEqual(relevant); // no irrelevant call matches a rule
    expect(relevant / 5000).toBeLessThan(0.08);
  });

  it('is the same for the same seed', () => {
    expect(generateRecords(50, rules, 5).records).toEqual(generateRecords(50, rules, 5).records);
  });
});

describe('the call counter', () => {
  const call = (service: string, operation: string, read: boolean, phase: string): Call => ({ service, operation, read, phase });

  it('counts a known call list by phase and names what is beyond the minimum', () => {
    const live = [
      call('DynamoDB', 'PutItem', false, 'runner'),
      call('EC2', 'DescribeInstances', true, 'inspect'),
      call('EC2', 'DescribeTags', true, 'inspect'),
      call('DynamoDB', 'GetItem', true, 'runner'),
      call('EC2', 'DescribeTags', true, 'act'),
      call('EC2', 'CreateTags', false, 'act'),
      call('EC2', 'DescribeTags', true, 'verify'),
      call('SNS', 'Publish', false, 'runner'),
    ];
    const count = countCalls('untagged-instance', 'x', { offline: [call('SNS', 'Publish', false, 'runner')], 'dry-run': live.slice(0, 4), live }, MINIMUMS['untagged-instance']);
    expect(count).toMatchObject({
      offline: 0, dryRunReads: 2, dryRunWrites: 0,
      live: { inspectReads: 2, actReads: 1, writes: 1, verifyReads: 1 },
      runnerBeforeWrite: ['DynamoDB.PutItem', 'DynamoDB.GetItem'], runnerAfterWrite: ['SNS.Publish'], verdict: 'MISSED',
    });
    expect(count.extra).toHaveLength(2);
  });

  it('counts a real live remediation of public-bucket on the fake AWS: 1 read, 1 write, 1 read-back', async () => {
    const sample = VIOLATION_SAMPLES['public-bucket'];
    const event = loadSample('public-bucket', sample) as { account: string; region: string };
    const fake = installFakeAws(() => world);
    const world = new World(event.account, event.region, event);
    fake.phase = 'runner';
    const untrace = tracePhases(publicBucket, fake);
    try {
      const { record } = await runSample(publicBucket, sample, { mode: 'live' });
      expect(record.outcome).toBe('remediated');
    } finally {
      untrace();
    }
    const count = countCalls('public-bucket', sample, { offline: [], 'dry-run': [], live: fake.calls }, MINIMUMS['public-bucket']);
    expect(count.live.sequence).toEqual(['S3.GetPublicAccessBlock', 'S3.PutPublicAccessBlock', 'S3.GetPublicAccessBlock']);
    expect(count.verdict).toBe('MET');
  });
});
