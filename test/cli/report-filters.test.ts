import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import type { ReportOptions } from '../../cli/report.js';
import { consoleOut } from '../../shared/log.js';

// The report itself is helper-tested in report.test.ts: here only what the command line hands it.
const calls: ReportOptions[] = [];
vi.mock('../../cli/report.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../cli/report.js')>()),
  report: async (options: ReportOptions) => {
    calls.push(options);
    return 0;
  },
}));

function capture() {
  const err: string[] = [];
  vi.spyOn(consoleOut, 'stderr').mockImplementation((text) => void err.push(text));
  return { err: () => err.join('') };
}

afterEach(() => {
  calls.length = 0;
  vi.restoreAllMocks();
});

describe('trailguard report --severity and --rule', () => {
  it('passes the severities, in any case, and the rules on to the report', async () => {
    expect(await main(['report', '--severity', 'critical,High', '--rule', 'public-bucket,iam-policy-change', 'log.jsonl'], {})).toBe(0);
    expect(calls).toEqual([
      expect.objectContaining({ sources: ['log.jsonl'], only: { severities: ['CRITICAL', 'HIGH'], rules: ['public-bucket', 'iam-policy-change'] } }),
    ]);
  });

  it('passes no filter when none is given', async () => {
    expect(await main(['report', 'log.jsonl'], {})).toBe(0);
    expect(calls).toHaveLength(1);
    expect(calls[0]).not.toHaveProperty('only');
  });

  it('refuses an unknown severity with exit 2, naming the choices and calling no report', async () => {
    const { err } = capture();
    expect(await main(['report', '--severity', 'CRITICAL,urgent', 'log.jsonl'], {})).toBe(2);
    expect(err()).toContain('--severity: unknown value "urgent"; one of CRITICAL, HIGH, MEDIUM, LOW');
    expect(calls).toEqual([]);
  });

  it('refuses an unknown rule id, guessing the one meant', async () => {
    const { err } = capture();
    expect(await main(['report', '--rule', 'public-buckets', 'log.jsonl'], {})).toBe(2);
    expect(err()).toContain('--rule: unknown value "public-buckets" (did you mean public-bucket?)');
    expect(calls).toEqual([]);
  });

  it('refuses an empty list', async () => {
    const { err } = capture();
    expect(await main(['report', '--severity', ',', 'log.jsonl'], {})).toBe(2);
    expect(err()).toContain('--severity needs one or more of CRITICAL, HIGH, MEDIUM, LOW');
  });
});
