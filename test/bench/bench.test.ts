// The benchmark's own pieces that could be silently wrong: percentiles, the generated log file, the call
// counter (against a known call list and against a real run of the public-bucket rule on the fake AWS), the
// per-rule table of samples, outcomes and minimums (every rule of RULES has one), and a smoke run of the warm
// measure for every rule in each mode, through the same child process `npm run bench` starts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { countCalls, type CallCount } from '../../bench/calls.js';
import { generateRecords, RULE_SHARE, writeLogFile } from '../../bench/cloudtrail-log.js';
import { installFakeAws, worldFor, type Call } from '../../bench/fake-aws.js';
import { BENCH_SAMPLES, expectedOutcome, isAlertRule, MINIMUMS } from '../../bench/minimums.js';
import { percentile, spread } from '../../bench/stats.js';
import { tracePhases, type RuleRun } from '../../bench/warm.js';
import { publicBucket } from '../../functions/public-bucket/rule.js';
import { RULES } from '../../functions/rules.js';
import { MODES, type Mode, type RuleId } from '../../shared/config.js';
import { matchesPattern } from '../../shared/events/pattern.js';
import { toEnvelopeJson } from '../../shared/events/schema.js';
import type { AnyRule } from '../../shared/rule.js';
import { EVENTS_DIR, expectedOutcome as sampleOutcome, loadSample, runSample } from '../helpers/samples.js';

const ROOT = join(import.meta.dirname, '..', '..');
const RULE_IDS = RULES.map((rule) => rule.id);
const matches = (rule: AnyRule) => (record: Record<string, unknown>) => matchesPattern(rule.pattern, toEnvelopeJson(record));

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
  // Records from every rule's samples, the rest irrelevant calls. The audit alerts overlap on purpose: the
  // sign-in alerts see each other's ConsoleLogin samples and the irrelevant successful ConsoleLogin, and
  // root-activity (and iam-policy-change) root calls of other rules' samples.
  const SIGN_IN_ALERTS: readonly string[] = ['console-signin-without-mfa', 'console-signin-failures'];

  it('holds the requested number of records, as a gzipped {"Records": [...]} file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-test-'));
    try {
      const log = generateRecords(3000, RULE_IDS, 7);
      const sizes = writeLogFile(join(dir, 'log.json.gz'), log);
      const parsed = JSON.parse(gunzipSync(readFileSync(join(dir, 'log.json.gz'))).toString('utf8')) as { Records: Record<string, unknown>[] };
      expect(parsed.Records).toHaveLength(3000);
      expect(sizes.bytes).toBeGreaterThan(sizes.gzipBytes);
      expect(new Set(parsed.Records.map((r) => r.eventID)).size).toBe(3000);
      for (const record of parsed.Records)
        expect(record).toMatchObject({ eventSource: expect.any(String), eventName: expect.any(String), eventTime: expect.any(String) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("takes records from every rule's samples, and most of them match that rule", () => {
    const log = generateRecords(5000, RULE_IDS, 3);
    expect(log.origins).toHaveLength(5000);
    for (const rule of RULES) {
      const own = log.records.filter((_, index) => log.origins[index] === rule.id);
      expect(own.length, rule.id).toBe(log.fromRule[rule.id]);
      expect(own.length, rule.id).toBeGreaterThan(20);
      // Some samples are calls EventBridge would not deliver (failed calls, dry-run probes): not all of them match.
      expect(own.filter(matches(rule)).length, rule.id).toBeGreaterThan(own.length / 2);
    }
  });

  it('is mostly irrelevant calls, which only the console sign-in alerts see (a ConsoleLogin)', () => {
    const log = generateRecords(5000, RULE_IDS, 3);
    const irrelevant = log.records.filter((_, index) => log.origins[index] === undefined);
    // RULE_SHARE per rule comes from its samples, so the irrelevant share falls by that much with each new rule.
    expect(irrelevant.length / 5000).toBeGreaterThan(Math.max(0.5, 1 - RULE_SHARE * RULES.length - 0.02));
    for (const rule of RULES) {
      const seen = irrelevant.filter(matches(rule));
      if (SIGN_IN_ALERTS.includes(rule.id)) {
        expect(seen.length, rule.id).toBeGreaterThan(0);
        expect(new Set(seen.map((record) => record.eventName)), rule.id).toEqual(new Set(['ConsoleLogin']));
      } else {
        expect(seen, rule.id).toHaveLength(0);
      }
    }
  });

  it('is the same for the same seed', () => {
    expect(generateRecords(50, RULE_IDS, 5).records).toEqual(generateRecords(50, RULE_IDS, 5).records);
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
    const count = countCalls(
      'untagged-instance',
      'x',
      { offline: [call('SNS', 'Publish', false, 'runner')], 'dry-run': live.slice(0, 4), live },
      MINIMUMS['untagged-instance'],
    );
    expect(count).toMatchObject({
      offline: 0,
      dryRunReads: 2,
      dryRunWrites: 0,
      live: { inspectReads: 2, actReads: 1, writes: 1, verifyReads: 1 },
      runnerBeforeWrite: ['DynamoDB.PutItem', 'DynamoDB.GetItem'],
      runnerAfterWrite: ['SNS.Publish'],
      verdict: 'MISSED',
    });
    expect(count.extra).toHaveLength(2);
  });

  it("counts state-table calls a rule makes through its context as the runner's, not as rule writes", () => {
    const live = [
      call('DynamoDB', 'PutItem', false, 'runner'),
      call('DynamoDB', 'UpdateItem', false, 'inspect'),
      call('DynamoDB', 'UpdateItem', false, 'inspect'),
      call('SNS', 'Publish', false, 'runner'),
    ];
    const count = countCalls('console-signin-failures', 'x', { offline: [], 'dry-run': live.slice(0, 3), live }, MINIMUMS['console-signin-failures']);
    expect(count).toMatchObject({
      dryRunReads: 0,
      dryRunWrites: 0,
      live: { inspectReads: 0, writes: 0, verifyReads: 0, sequence: [] },
      runnerBeforeWrite: ['DynamoDB.PutItem', 'DynamoDB.UpdateItem', 'DynamoDB.UpdateItem', 'SNS.Publish'],
      runnerAfterWrite: [],
      verdict: 'MET',
    });
  });

  it('counts a real live remediation of public-bucket on the fake AWS: 1 read, 1 write, 1 read-back', async () => {
    const sample = BENCH_SAMPLES['public-bucket'];
    const fake = installFakeAws(() => world);
    const world = worldFor(loadSample('public-bucket', sample));
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

describe('the per-rule bench table', () => {
  it('has a sample and a minimum for every rule of RULES, and no entry for a rule that is not there', () => {
    const missingSample = RULE_IDS.filter((id) => !(id in BENCH_SAMPLES));
    const missingMinimum = RULE_IDS.filter((id) => !(id in MINIMUMS));
    expect(missingSample, 'rules without a sample in bench/minimums.ts').toEqual([]);
    expect(missingMinimum, 'rules without a minimum in bench/minimums.ts').toEqual([]);
    expect(Object.keys(BENCH_SAMPLES).sort()).toEqual([...RULE_IDS].sort());
    expect(Object.keys(MINIMUMS).sort()).toEqual([...RULE_IDS].sort());
  });

  it.each(RULE_IDS)('%s: the sample exists and its name is the outcome expected offline', (id) => {
    const sample = BENCH_SAMPLES[id];
    expect(existsSync(join(EVENTS_DIR, id, `${sample}.json`)), `events/${id}/${sample}.json`).toBe(true);
    expect(sampleOutcome(sample)).toBe(expectedOutcome(id, 'offline'));
  });

  it('expects alerted in every mode for an audit alert, remediated only live for a remediation rule', () => {
    for (const id of RULE_IDS) {
      const outcomes = MODES.map((mode) => expectedOutcome(id, mode));
      expect(outcomes, id).toEqual(isAlertRule(id) ? ['alerted', 'alerted', 'alerted'] : ['would-remediate', 'would-remediate', 'remediated']);
    }
  });

  it('gives an audit alert no write and no read-back, and a read only to the alerts with a read permission (DescribeTrails, GetParameter)', () => {
    for (const id of RULE_IDS.filter(isAlertRule)) {
      const reads = Object.keys(RULES.find((rule) => rule.id === id)?.permissions ?? {}).length;
      expect(MINIMUMS[id], id).toMatchObject({ writes: 0, verify: 0, reads: Math.min(reads, 1) });
    }
    for (const id of RULE_IDS.filter((rule) => !isAlertRule(rule))) expect(MINIMUMS[id], id).toMatchObject({ writes: 1, verify: 1 });
  });
});

describe('a smoke run of the warm measure: every rule, 5 events, each mode, as `npm run bench` runs it', () => {
  const runs = {} as Record<Mode, RuleRun[]>;

  beforeAll(() => {
    for (const mode of MODES) {
      const child = spawnSync(process.execPath, ['--import', 'tsx', 'bench/warm.ts', mode, '5'], {
        cwd: ROOT,
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
        timeout: 35_000,
      });
      if (child.error) throw new Error(`bench/warm.ts ${mode} 5 did not finish (${child.error.message}): killed after 35 s`);
      if (child.status !== 0) throw new Error(`bench/warm.ts ${mode} 5 exited ${child.status}:\n${child.stderr}`);
      runs[mode] = (JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '') as { runs: RuleRun[] }).runs;
    }
  }, 120_000);

  it.each(MODES)('%s: measures every rule, and every event ends in the expected outcome', (mode) => {
    expect(runs[mode].map((run) => run.rule)).toEqual(RULE_IDS);
    for (const run of runs[mode]) {
      expect(run, `${run.rule} ${mode}`).toMatchObject({ sample: BENCH_SAMPLES[run.rule as RuleId], outcome: run.expected, outcomesOk: 5, total: 5 });
      expect(run.expected).toBe(expectedOutcome(run.rule as RuleId, mode));
      expect(run.p50Us, `${run.rule} ${mode}`).toBeGreaterThan(0);
      expect(run.reason, `${run.rule} ${mode}`).not.toContain('BenchUnmockedCall');
    }
  });

  it('measures s3-bucket-deleted on the path that read the trails, and console-signin-failures on the one that counted', () => {
    const reasonOf = (mode: Mode, rule: string) => runs[mode].find((run) => run.rule === rule)?.reason;
    for (const mode of ['dry-run', 'live'] as const) {
      expect(reasonOf(mode, 's3-bucket-deleted')).toContain('it held the CloudTrail logs of arn:aws:cloudtrail:us-east-1:111122223333:trail/');
      expect(reasonOf(mode, 'console-signin-failures')).toContain('repeated failed console sign-ins');
    }
    expect(reasonOf('offline', 's3-bucket-deleted')).toContain('offline: no DescribeTrails');
  });

  it('counts no rule call offline, no write in dry-run, and live writes and read-backs at the minimum', () => {
    const counts: CallCount[] = runs.live.map((live) =>
      countCalls(
        live.rule,
        live.sample,
        {
          offline: runs.offline.find((run) => run.rule === live.rule)?.calls ?? [],
          'dry-run': runs['dry-run'].find((run) => run.rule === live.rule)?.calls ?? [],
          live: live.calls,
        },
        MINIMUMS[live.rule as RuleId],
      ),
    );
    expect(counts).toHaveLength(RULE_IDS.length);
    for (const count of counts) {
      expect(count, count.rule).toMatchObject({ offline: 0, dryRunWrites: 0, dryRunReads: count.live.inspectReads });
      expect(count.live.writes, count.rule).toBe(count.minimum.writes);
      expect(count.live.verifyReads, count.rule).toBe(count.minimum.verify);
      expect(count.live.inspectReads + count.live.actReads, count.rule).toBeGreaterThanOrEqual(count.minimum.reads);
      // Every event notifies: the runner's Publish is there, after the write if there is one.
      expect([...count.runnerBeforeWrite, ...count.runnerAfterWrite], count.rule).toContain('SNS.Publish');
      if (isAlertRule(count.rule)) expect(count, count.rule).toMatchObject({ verdict: 'MET', extra: [] });
    }
    expect(counts.find((count) => count.rule === 's3-bucket-deleted')?.live.sequence).toEqual(['CloudTrail.DescribeTrails']);
  });
});
