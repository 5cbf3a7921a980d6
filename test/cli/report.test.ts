import { CloudWatchLogsClient, DescribeLogGroupsCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Progress } from '../../cli/progress.js';
import { RECORD_FILTER_PATTERN, report, type ReportOptions } from '../../cli/report.js';
import type { Report } from '../../shared/report/aggregate.js';
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
    sources, format: 'json', since: undefined, region: 'eu-west-1', endpoint: undefined, now: () => NOW,
    out: (t) => { out += t; }, err: (t) => { err += t; }, progress: { isTTY: false, write: () => true }, ...options,
  });
  return { exit, out, err, json: options.format && options.format !== 'json' ? undefined : (JSON.parse(out) as Report) };
}

const lambdaLine = (r: object, timestamp: string) => JSON.stringify({ level: 'INFO', message: 'trailguard remediation', timestamp, ...r });

describe('trailguard report: file sources', () => {
  it('reads replay JSON lines, Lambda log lines and CloudWatch exports, from files and folders (gzip too)', async () => {
    const live = liveRecords();
    const folder = join(dir, 'logs');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'replay.jsonl'), `${JSON.stringify(record({ eventId: 'dry', outcome: 'would-remediate', mode: 'dry-run' }))}\n`);
    writeFileSync(join(folder, 'lambda.log'), [
      'START RequestId: 1 Version: $LATEST',
      lambdaLine(live.bucket, '2026-11-20T09:15:04.000Z'),
      JSON.stringify({ level: 'INFO', message: 'another message', outcome: 'failed' }),
      'END RequestId: 1',
    ].join('\n'));
    writeFileSync(join(folder, 'export.txt.gz'), gzipSync(`2026-11-20T09:16:00.000Z\t${lambdaLine(live.group, '2026-11-20T09:16:00.000Z')}\n`));
    const single = join(dir, 'single.jsonl');
    writeFileSync(single, `${JSON.stringify(live.trail)}\n`);
    const { exit, json } = await reported([folder, single]);
    expect(exit).toBe(0);
    expect(json?.total).toBe(4);
    expect(json?.counts.map((c) => [c.rule, c.total])).toEqual([['open-security-group', 1], ['public-bucket', 2], ['trail-logging', 1]]);
    expect(json?.exposure.map((e) => [e.rule, e.maxMs])).toEqual([['open-security-group', 2_000], ['public-bucket', 4_000], ['trail-logging', 3_000]]);
  });

  it('applies --since to files by log time, else event time', async () => {
    const path = join(dir, 'window.jsonl');
    writeFileSync(path, [
      lambdaLine(record({ eventId: 'recent' }), '2026-11-20T12:00:00.000Z'),
      lambdaLine(record({ eventId: 'old' }), '2026-11-01T12:00:00.000Z'),
      JSON.stringify(record({ eventId: 'no-log-time', eventTime: '2026-11-20T13:00:00Z' })),
    ].join('\n'));
    const { json } = await reported([path], { since: NOW - 86_400_000 });
    expect(json?.total).toBe(2);
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
    expect((await reported([path], { format: 'html' })).out).toMatch(/^<!DOCTYPE html>/);
  });
});

describe('trailguard report: logs: sources (CloudWatch Logs)', () => {
  it('describes the groups by prefix and filters each, following every page', async () => {
    const live = liveRecords();
    logs.on(DescribeLogGroupsCommand, { logGroupNamePrefix: '/aws/lambda/trailguard-prod-' })
      .resolvesOnce({ logGroups: [{ logGroupName: '/aws/lambda/trailguard-prod-publicBucket' }], nextToken: 'g2' })
      .resolvesOnce({ logGroups: [{ logGroupName: '/aws/lambda/trailguard-prod-openSecurityGroup' }] });
    const since = NOW - 86_400_000;
    logs.on(FilterLogEventsCommand, { logGroupName: '/aws/lambda/trailguard-prod-publicBucket' })
      .resolvesOnce({ events: [{ timestamp: since + 1000, message: lambdaLine(live.bucket, '2026-11-20T09:15:04.000Z'), logStreamName: 's1' }], nextToken: 'p2' })
      .resolvesOnce({ events: [], nextToken: 'p3' }) // empty pages with a token are normal: keep going
      .resolvesOnce({ events: [{ timestamp: since + 2000, message: lambdaLine(record({ eventId: 'f', outcome: 'failed', reason: 'AccessDenied' }), '2026-11-20T10:00:00.000Z') }] });
    logs.on(FilterLogEventsCommand, { logGroupName: '/aws/lambda/trailguard-prod-openSecurityGroup' })
      .resolves({ events: [{ timestamp: since + 3000, message: lambdaLine(live.group, '2026-11-20T11:00:00.000Z') }] });

    const { exit, json } = await reported(['logs:/aws/lambda/trailguard-prod-'], { since });
    expect(exit).toBe(0);
    expect(json?.total).toBe(3);
    expect(json?.failures.map((f) => f.reason)).toEqual(['AccessDenied']);
    expect(logs).toHaveReceivedCommandTimes(DescribeLogGroupsCommand, 2);
    expect(logs).toHaveReceivedCommandTimes(FilterLogEventsCommand, 4);
    expect(logs.commandCalls(FilterLogEventsCommand)[1]?.args[0].input).toEqual({
      logGroupName: '/aws/lambda/trailguard-prod-publicBucket', filterPattern: RECORD_FILTER_PATTERN, startTime: since, nextToken: 'p2',
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

describe('progress', () => {
  it('draws on a TTY and clears the line at the end; silent when piped', async () => {
    const path = join(dir, 'progress.jsonl');
    writeFileSync(path, `${JSON.stringify(record())}\n${JSON.stringify(record({ eventId: 'two' }))}\n`);
    let tty = '';
    await reported([path], { progress: { isTTY: true, write: (t: string) => { tty += t; return true; } } });
    expect(tty).toMatch(/^\r\u001b\[2Ktrailguard report: \d+ records read, \d+ events matched/);
    expect(tty.endsWith('\r\u001b[2K')).toBe(true);
    let piped = '';
    await reported([path], { progress: { isTTY: false, write: (t: string) => { piped += t; return true; } } });
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
    const note = lines[0]?.replace(/^\r\u001b\[2K/, '') ?? '';
    expect(note).toContain('logs/\\u001b]0;pwned\\u0007\\u001b[2J\\u009b6n.json.gz');
    // eslint-disable-next-line no-control-regex
    expect(note).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
  });
});
