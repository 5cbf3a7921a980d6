import { CloudWatchLogsClient, DescribeLogGroupsCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Progress } from '../../cli/progress.js';
import { RECORD_FILTER_PATTERN, report, type ReportOptions } from '../../cli/report.js';
import type { reportJson } from '../../shared/report/render.js';
import { colourFor, Terminal } from '../../cli/terminal.js';
import { liveRecords, record } from '../helpers/records.js';

const logs = mockClient(CloudWatchLogsClient);
const NOW = Date.parse('2026-11-21T00:00:00Z');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trailguard-report-'));
});
beforeEach(() => {
  logs.reset();
  logs.rejects(new Error('unexpected CloudWatch Logs call'));
});
afterEach(() => logs.reset());

async function reported(sources: string[], options: Partial<ReportOptions> = {}) {
  let out = '';
  let err = '';
  const exit = await report({
    sources,
    format: 'json',
    since: undefined,
    region: 'eu-west-1',
    endpoint: undefined,
    now: () => NOW,
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    progress: { isTTY: false, write: () => true },
    ...options,
  });
  return { exit, out, err, json: options.format && options.format !== 'json' ? undefined : (JSON.parse(out) as ReturnType<typeof reportJson>) };
}

const lambdaLine = (r: object, timestamp: string) => JSON.stringify({ level: 'INFO', message: 'trailguard remediation', timestamp, ...r });

describe('trailguard report: file sources', () => {
  it('reads replay JSON lines, Lambda log lines and CloudWatch exports, from files and folders (gzip too)', async () => {
    const live = liveRecords();
    const folder = join(dir, 'logs');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'replay.jsonl'), `${JSON.stringify(record({ eventId: 'dry', outcome: 'would-remediate', mode: 'dry-run' }))}\n`);
    writeFileSync(
      join(folder, 'lambda.log'),
      [
        'START RequestId: 1 Version: $LATEST',
        lambdaLine(live.bucket, '2026-11-20T09:15:04.000Z'),
        JSON.stringify({ level: 'INFO', message: 'another message', outcome: 'failed' }),
        'END RequestId: 1',
      ].join('\n'),
    );
    writeFileSync(join(folder, 'export.txt.gz'), gzipSync(`2026-11-20T09:16:00.000Z\t${lambdaLine(live.group, '2026-11-20T09:16:00.000Z')}\n`));
    const single = join(dir, 'single.jsonl');
    writeFileSync(single, `${JSON.stringify(live.trail)}\n`);
    const { exit, json } = await reported([folder, single]);
    expect(exit).toBe(0);
    expect(json?.summary.records).toBe(4);
    expect(json?.counts.rules.map((c) => [c.rule, c.total])).toEqual([
      ['open-security-group', 1],
      ['public-bucket', 2],
      ['trail-logging', 1],
    ]);
    expect(json?.exposure.byRule.map((e) => [e.rule, e.maxMs])).toEqual([
      ['open-security-group', 2_000],
      ['public-bucket', 4_000],
      ['trail-logging', 3_000],
    ]);
  });

  it('applies --since to files by log time, else event time', async () => {
    const path = join(dir, 'window.jsonl');
    writeFileSync(
      path,
      [
        lambdaLine(record({ eventId: 'recent' }), '2026-11-20T12:00:00.000Z'),
        lambdaLine(record({ eventId: 'old' }), '2026-11-01T12:00:00.000Z'),
        JSON.stringify(record({ eventId: 'no-log-time', eventTime: '2026-11-20T13:00:00Z' })),
      ].join('\n'),
    );
    const { json } = await reported([path], { since: NOW - 86_400_000 });
    expect(json?.summary.records).toBe(2);
  });

  it('names a missing source on stderr and exits 2', async () => {
    const { exit, err } = await reported([join(dir, 'nope.jsonl')]);
    expect(exit).toBe(2);
    expect(err).toContain('no such file or folder');
  });

  it('prints text and html', async () => {
    const path = join(dir, 'one.jsonl');
    writeFileSync(path, `${JSON.stringify(liveRecords().instance)}\n`);
    expect((await reported([path], { format: 'text' })).out).toContain('aws ec2 delete-tags');
    expect((await reported([path], { format: 'html' })).out).toMatch(/^<!doctype html>\n<html lang="en">/);
  });
});

describe('trailguard report: logs: sources (CloudWatch Logs)', () => {
  it('describes the groups by prefix and filters each, following every page', async () => {
    const live = liveRecords();
    logs
      .on(DescribeLogGroupsCommand, { logGroupNamePrefix: '/aws/lambda/trailguard-prod-' })
      .resolvesOnce({ logGroups: [{ logGroupName: '/aws/lambda/trailguard-prod-publicBucket' }], nextToken: 'g2' })
      .resolvesOnce({ logGroups: [{ logGroupName: '/aws/lambda/trailguard-prod-openSecurityGroup' }] });
    const since = NOW - 86_400_000;
    logs
      .on(FilterLogEventsCommand, { logGroupName: '/aws/lambda/trailguard-prod-publicBucket' })
      .resolvesOnce({
        events: [{ timestamp: since + 1000, message: lambdaLine(live.bucket, '2026-11-20T09:15:04.000Z'), logStreamName: 's1' }],
        nextToken: 'p2',
      })
      .resolvesOnce({ events: [], nextToken: 'p3' }) // empty pages with a token are normal: keep going
      .resolvesOnce({
        events: [
          { timestamp: since + 2000, message: lambdaLine(record({ eventId: 'f', outcome: 'failed', reason: 'AccessDenied' }), '2026-11-20T10:00:00.000Z') },
        ],
      });
    logs
      .on(FilterLogEventsCommand, { logGroupName: '/aws/lambda/trailguard-prod-openSecurityGroup' })
      .resolves({ events: [{ timestamp: since + 3000, message: lambdaLine(live.group, '2026-11-20T11:00:00.000Z') }] });

    const { exit, json } = await reported(['logs:/aws/lambda/trailguard-prod-'], { since });
    expect(exit).toBe(0);
    expect(json?.summary.records).toBe(3);
    expect(json?.failures.map((f) => f.reason)).toEqual(['AccessDenied']);
    expect(logs).toHaveReceivedCommandTimes(DescribeLogGroupsCommand, 2);
    expect(logs).toHaveReceivedCommandTimes(FilterLogEventsCommand, 4);
    expect(logs.commandCalls(FilterLogEventsCommand)[1]?.args[0].input).toEqual({
      logGroupName: '/aws/lambda/trailguard-prod-publicBucket',
      filterPattern: RECORD_FILTER_PATTERN,
      startTime: since,
      nextToken: 'p2',
    });
    expect(RECORD_FILTER_PATTERN).toBe('{ $.message = "trailguard remediation" }');
    expect(logs).toHaveReceivedCommandWith(DescribeLogGroupsCommand, { nextToken: 'g2' });
  });

  it('says so when no group matches the prefix', async () => {
    logs.on(DescribeLogGroupsCommand).resolves({ logGroups: [] });
    const { exit, err } = await reported(['logs:/aws/lambda/nothing-'], { since: NOW - 1000 });
    expect(exit).toBe(2);
    expect(err).toContain('no log group starts with /aws/lambda/nothing- in eu-west-1');
  });
});

describe('trailguard report: findings, filters and forms', () => {
  const HOUR = 3_600_000;
  /** A day of records: a CRITICAL alert, live fixes, a finding of the longest rule id, unmatched events, a hostile actor. */
  function dayLog(): string {
    const path = join(dir, 'day.jsonl');
    const lines = [
      lambdaLine(
        record({
          eventId: 'crit',
          rule: 'iam-policy-change',
          severity: 'CRITICAL',
          outcome: 'alerted',
          reason: 'privilege escalation: AttachUserPolicy gave ITSELF (user mallory) the administrator policy',
        }),
        new Date(NOW - 3 * HOUR).toISOString(),
      ),
      lambdaLine(record({ eventId: 'fix-1', exposureMs: 9_000, actions: [] }), new Date(NOW - 5 * HOUR).toISOString()),
      lambdaLine(record({ eventId: 'fix-2', exposureMs: 23 * 60_000, actions: [] }), new Date(NOW - 4 * HOUR).toISOString()),
      lambdaLine(
        record({
          eventId: 'mfa',
          rule: 'console-signin-without-mfa',
          severity: 'MEDIUM',
          outcome: 'alerted',
          resources: [{ type: 'AWS::IAM::User', id: 'arn:aws:iam::111122223333:user/a-user-with-a-rather-long-name-for-a-narrow-terminal' }],
        }),
        new Date(NOW - 2 * HOUR).toISOString(),
      ),
      lambdaLine(record({ eventId: 'evil', severity: 'LOW', outcome: 'alerted', actor: 'evil\u001b]0;pwned\u0007' }), new Date(NOW + 600_000).toISOString()),
      ...Array.from({ length: 3 }, (_, i) =>
        lambdaLine(record({ eventId: `u-${i}`, rule: null, severity: null, outcome: 'ignored' }), new Date(NOW - 6 * HOUR).toISOString()),
      ),
    ];
    writeFileSync(path, `${lines.join('\n')}\n`);
    return path;
  }

  async function text(terminal: { colour: boolean; width: number | undefined }, options: Partial<ReportOptions> = {}) {
    let out = '';
    const exit = await report({
      sources: [dayLog()],
      format: 'text',
      since: undefined,
      region: 'eu-west-1',
      endpoint: undefined,
      now: () => NOW + 1_800_000,
      terminal: new Terminal(terminal.colour, terminal.width, (t) => {
        out += t;
      }),
      err: () => undefined,
      progress: { isTTY: false, write: () => true },
      ...options,
    });
    return { exit, out };
  }

  it("--format json: only JSON on stdout, with the page's sections", async () => {
    const { exit, out, err, json } = await reported([dayLog()], { since: NOW - 86_400_000, now: () => NOW + 1_800_000 });
    expect(exit).toBe(0);
    expect(err).toBe('');
    expect(() => JSON.parse(out)).not.toThrow();
    expect(Object.keys(json ?? {})).toEqual(['summary', 'findings', 'chart', 'counts', 'exposure', 'failures', 'actors', 'actions']);
    expect(json?.summary).toMatchObject({ records: 8, findings: 5, bySeverity: { CRITICAL: 1, HIGH: 2, MEDIUM: 1, LOW: 1, none: 0 }, filter: null });
    expect(json?.findings.rows.map((f) => f.eventId)).toEqual(['crit', 'fix-2', 'fix-1', 'mfa', 'evil']);
    expect(json?.exposure.overall).toEqual({ count: 2, p50Ms: 9_000, p95Ms: 23 * 60_000, maxMs: 23 * 60_000 });
    expect(json?.counts.unmatched).toMatchObject({ total: 3, outcomes: { ignored: 3 } });
    expect(json?.counts.rules.map((c) => c.rule)).not.toContain('(no rule)');
    expect(json?.chart.bucket).toBe('hour');
    // The window runs to now: its last hour is partial, and holds the latest finding.
    expect(json?.chart.buckets.at(-1)).toMatchObject({ start: '2026-11-21T00:00:00.000Z', partial: true, findings: { alerted: 1 } });
    expect(json?.chart.buckets.filter((b) => b.partial)).toHaveLength(1);
  });

  it('applies only: { severities, rules } (what --severity and --rule pass) to every section', async () => {
    const critical = (await reported([dayLog()], { only: { severities: ['CRITICAL', 'HIGH'] } })).json;
    expect(critical?.findings.rows.map((f) => f.eventId)).toEqual(['crit', 'fix-2', 'fix-1']);
    expect(critical?.summary).toMatchObject({ records: 3, filteredOut: 5, filter: { severities: ['CRITICAL', 'HIGH'] } });
    const rule = (await reported([dayLog()], { only: { rules: ['console-signin-without-mfa'] } })).json;
    expect(rule?.findings.rows.map((f) => f.eventId)).toEqual(['mfa']);
    expect(rule?.exposure.overall).toBeNull();
    const html = (await reported([dayLog()], { format: 'html', only: { severities: ['LOW'] } })).out;
    expect(html).toContain('Filtered to severity LOW: 7 other records left out.');
  });

  it('--format text: the sections, fitted to the width, with every rule id whole', async () => {
    for (const width of [60, 80, 120]) {
      const { exit, out } = await text({ colour: false, width });
      expect(exit).toBe(0);
      const lines = out.split('\n');
      // Reverse commands are never cut (there are none here): every line fits.
      expect(
        lines.filter((l) => [...l].length > width),
        `width ${width}`,
      ).toEqual([]);
      expect(lines.filter((l) => /^[A-Z]/.test(l)).map((l) => l.replace(/ \(.*$/, ''))).toEqual([
        'Summary',
        'Findings by severity',
        'Findings per hour by outcome',
        'Counts per rule and outcome',
        'Exposure per rule',
        'Failures',
        'Actors behind violations',
        'Writes made and how to reverse them',
      ]);
      expect(lines[0]).toMatch(/^trailguard report: 8 records, all records;/);
      const findingLines = lines.filter((l) => /^ {2}(CRITICAL|HIGH|MEDIUM|LOW) +\d{4}-/.test(l));
      expect(findingLines.map((l) => l.slice(2).split(/\s+/)[3])).toEqual([
        'iam-policy-change',
        'public-bucket',
        'public-bucket',
        'console-signin-without-mfa',
        'public-bucket',
      ]);
    }
    const narrow = (await text({ colour: false, width: 60 })).out;
    // At 60 columns the resource takes its own line, cut; the rule id before it never is.
    expect(narrow).toMatch(/\n {2}MEDIUM {3}2026-11-20 22:00 console-signin-without-mfa\n {11}arn:aws:iam::111122223333:user\/a-user-with-a-ra[a-z-]*…\n/);
    // Our own sentences wrap at spaces instead of being cut.
    expect(narrow).toContain('  exposure (change to verified fix): p50 9.0 s, p95 23m 0s,\n    max 23m 0s over 2 live fixes\n');
    expect(narrow).toContain('  not in the table: 3 events no rule matched (3 ignored)');
    expect(narrow).toMatch(/\(partial\)/);
    // Piped (no width): nothing is cut.
    const piped = (await text({ colour: false, width: undefined })).out;
    expect(piped).toContain('arn:aws:iam::111122223333:user/a-user-with-a-rather-long-name-for-a-narrow-terminal');
    expect(piped).not.toContain('…');
  });

  it('--format text: severity coloured on a TTY, no colour with NO_COLOR or when piped, hostile values inert, plurals right', async () => {
    const coloured = (await text({ colour: colourFor(true, {}), width: 100 })).out;
    expect(coloured).toContain('\u001b[1;31mCRITICAL\u001b[0m');
    expect(coloured).toContain('\u001b[33mMEDIUM\u001b[0m');
    for (const colour of [colourFor(true, { NO_COLOR: '1' }), colourFor(false, {})]) {
      const plain = (await text({ colour, width: 100 })).out;
      expect(plain).not.toContain('\u001b');
      expect(plain).toContain('  CRITICAL 2026-11-20 21:00 iam-policy-change');
    }
    // The only ESC bytes are our colours: the actor's own sequence is shown, escaped.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: our colour sequences out, then no control may be left
    expect(coloured.replace(/\u001b\[[0-9;]*m/g, '')).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(coloured).toContain('evil\\u001b]0;pwned\\u0007');
    const one = join(dir, 'one-finding.jsonl');
    writeFileSync(one, `${JSON.stringify(record({ outcome: 'alerted', actions: [] }))}\n`);
    const single = (await text({ colour: false, width: 100 }, { sources: [one] })).out;
    expect(single).toContain('trailguard report: 1 record, all records');
    expect(single).toContain('  1 finding: 0 CRITICAL, 1 HIGH, 0 MEDIUM, 0 LOW');
    expect(single).toContain('Actors behind violations (1)');
  });
});

describe('progress', () => {
  it('draws on a TTY and clears the line at the end; silent when piped', async () => {
    const path = join(dir, 'progress.jsonl');
    writeFileSync(path, `${JSON.stringify(record())}\n${JSON.stringify(record({ eventId: 'two' }))}\n`);
    let tty = '';
    await reported([path], {
      progress: {
        isTTY: true,
        write: (t: string) => {
          tty += t;
          return true;
        },
      },
    });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the progress line's own CR and erase-line sequence
    expect(tty).toMatch(/^\r\u001b\[2Ktrailguard report: \d+ records read, \d+ events matched/);
    expect(tty.endsWith('\r\u001b[2K')).toBe(true);
    let piped = '';
    await reported([path], {
      progress: {
        isTTY: false,
        write: (t: string) => {
          piped += t;
          return true;
        },
      },
    });
    expect(piped).toBe('');
  });

  it('redraws at most once per interval', () => {
    let now = 0;
    const lines: string[] = [];
    const progress = new Progress('x', { stream: { isTTY: true, write: (t) => lines.push(t) }, now: () => now, intervalMs: 100 });
    progress.record(true);
    progress.record(false);
    now = 150;
    progress.record(true);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('3 records read, 2 events matched');
  });

  it('shows a hostile file or key name in its note as text, never as terminal sequences', () => {
    const lines: string[] = [];
    const progress = new Progress('x', { stream: { isTTY: true, write: (t) => lines.push(t) }, now: () => 0 });
    progress.at('logs/\u001b]0;pwned\u0007\u001b[2J\u009b6n.json.gz');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the progress line's own CR and erase-line sequence
    const note = lines[0]?.replace(/^\r\u001b\[2K/, '') ?? '';
    expect(note).toContain('logs/\\u001b]0;pwned\\u0007\\u001b[2J\\u009b6n.json.gz');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no control may be left in the note
    expect(note).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
});
