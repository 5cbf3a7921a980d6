import { DescribeLogGroupsCommand, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import type { Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { logsClient } from '../shared/aws/logs.js';
import { consoleOut } from '../shared/log.js';
import { RECORD_MESSAGE } from '../shared/remediation-log.js';
import { aggregate } from '../shared/report/aggregate.js';
import { parseRecordLine, recordTime, type LoggedRecord } from '../shared/report/records.js';
import { renderReport, type ReportFormat } from '../shared/report/render.js';
import type { Severity } from '../shared/rule.js';
import { terminalSafe } from './output.js';
import { Progress, type ProgressStream } from './progress.js';
import { EXIT } from './replay.js';
import { reportText } from './report-text.js';
import { Terminal, terminalOf } from './terminal.js';

export interface ReportOptions {
  readonly sources: readonly string[];
  readonly format: ReportFormat;
  /** Epoch ms: the window's start (`--since`); undefined reads everything in the files. */
  readonly since: number | undefined;
  /** Report only these severities and/or rules (`--severity CRITICAL,HIGH`, `--rule a,b`); an empty or absent list keeps all. */
  readonly only?: { readonly severities?: readonly Severity[]; readonly rules?: readonly string[] };
  /** Region and endpoint of the CloudWatch Logs client for `logs:` sources. */
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly now?: () => number;
  /** Where JSON and HTML go (and text, uncoloured and never cut, when no `terminal` is given). @default stdout */
  readonly out?: (text: string) => void;
  /** Where text goes, with its width and colour. @default standard output's (see terminalOf) */
  readonly terminal?: Terminal;
  readonly err?: (text: string) => void;
  /** Where progress goes (shown only when it is a TTY). @default process.stderr */
  readonly progress?: ProgressStream;
  /** The CloudWatch Logs filter pattern for `logs:` sources. @default RECORD_FILTER_PATTERN */
  readonly filterPattern?: string;
}

/** A `logs:` source: the log groups whose names start with the prefix. */
export const LOGS_PREFIX = 'logs:';

/** The filter pattern that selects remediation-log lines server-side (JSON lines with the record message). */
export const RECORD_FILTER_PATTERN = `{ $.message = "${RECORD_MESSAGE}" }`;

const RECORD_FILE = /\.(jsonl|ndjson|json|log|txt)(\.gz)?$|\.gz$/;

/** An input that could not be read, reported on stderr. */
interface SourceProblem {
  readonly problem: string;
  readonly source: string;
}

type Item = { readonly kind: 'record'; readonly logged: LoggedRecord } | { readonly kind: 'line' } | ({ readonly kind: 'error' } & SourceProblem);

async function* walk(folder: string): AsyncGenerator<string> {
  const entries = (await readdir(folder, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile() && RECORD_FILE.test(entry.name)) yield path;
  }
}

async function* readRecordFile(path: string): AsyncGenerator<Item> {
  let text: string;
  try {
    const bytes = await readFile(path);
    text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (error) {
    yield { kind: 'error', source: path, problem: `cannot read: ${(error as Error).message}` };
    return;
  }
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    const logged = parseRecordLine(line, `${path}:${index + 1}`);
    yield logged ? { kind: 'record', logged } : { kind: 'line' };
  }
}

async function* readFileSource(source: string): AsyncGenerator<Item> {
  let info: Stats;
  try {
    info = await stat(source);
  } catch {
    yield { kind: 'error', source, problem: 'no such file or folder' };
    return;
  }
  if (!info.isDirectory()) {
    yield* readRecordFile(source);
    return;
  }
  for await (const path of walk(source)) yield* readRecordFile(path);
}

/**
 * `logs:<prefix>`: every log group whose name starts with the prefix (DescribeLogGroups, all pages), each
 * read with FilterLogEvents (all pages) filtered server-side to remediation-log lines since `since`.
 */
async function* readLogsSource(source: string, options: ReportOptions, progress: Progress): AsyncGenerator<Item> {
  const prefix = source.slice(LOGS_PREFIX.length);
  if (!prefix) {
    yield { kind: 'error', source, problem: 'logs: needs a log group name prefix, such as logs:/aws/lambda/trailguard-prod-' };
    return;
  }
  const client = logsClient({ region: options.region, endpoint: options.endpoint });
  const groups: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: prefix, ...(token ? { nextToken: token } : {}) }));
    for (const group of page.logGroups ?? []) if (group.logGroupName) groups.push(group.logGroupName);
    token = page.nextToken;
  } while (token);
  if (groups.length === 0) {
    yield { kind: 'error', source, problem: `no log group starts with ${prefix} in ${options.region}` };
    return;
  }
  for (const group of groups) {
    let next: string | undefined;
    let pages = 0;
    do {
      pages += 1;
      progress.at(`${group} page ${pages}`);
      const page = await client.send(
        new FilterLogEventsCommand({
          logGroupName: group,
          filterPattern: options.filterPattern ?? RECORD_FILTER_PATTERN,
          ...(options.since !== undefined ? { startTime: Math.floor(options.since) } : {}),
          ...(next ? { nextToken: next } : {}),
        }),
      );
      for (const event of page.events ?? []) {
        const logged = event.message ? parseRecordLine(event.message, `${group}/${event.logStreamName ?? '-'}`, event.timestamp) : undefined;
        yield logged ? { kind: 'record', logged } : { kind: 'line' };
      }
      next = page.nextToken;
    } while (next);
  }
}

/** Reads every source's records (files, folders, `logs:` prefixes), counting them on the progress line. */
export async function collectRecords(
  options: ReportOptions,
  progress: Progress,
  err: (text: string) => void,
): Promise<{ records: LoggedRecord[]; problems: number }> {
  const records: LoggedRecord[] = [];
  let problems = 0;
  for (const source of options.sources) {
    const items = source.startsWith(LOGS_PREFIX) ? readLogsSource(source, options, progress) : readFileSource(source);
    if (!source.startsWith(LOGS_PREFIX)) progress.at(source);
    for await (const item of items) {
      if (item.kind === 'error') {
        err(`trailguard: ${item.source}: ${item.problem}\n`);
        problems += 1;
        continue;
      }
      if (item.kind === 'line') continue;
      const at = recordTime(item.logged);
      const inWindow = options.since === undefined || (at !== undefined && at >= options.since);
      progress.record(inWindow);
      records.push(item.logged);
    }
  }
  return { records, problems };
}

/** `trailguard report`: findings by severity, the chart, counts, exposure, failures, actors and reversals from the remediation log. */
export async function report(options: ReportOptions): Promise<number> {
  const out = terminalSafe(options.out ?? consoleOut.stdout);
  const err = terminalSafe(options.err ?? consoleOut.stderr);
  const now = options.now ?? Date.now;
  const progress = new Progress('trailguard report', { stream: options.progress ?? process.stderr, now });
  let collected: Awaited<ReturnType<typeof collectRecords>>;
  try {
    collected = await collectRecords(options, progress, (text) => {
      progress.done();
      err(text);
    });
  } finally {
    progress.done();
  }
  const summary = aggregate(collected.records, { since: options.since, now: now(), sources: options.sources, only: options.only });
  if (options.format === 'text') {
    const terminal = options.terminal ?? (options.out ? new Terminal(false, undefined, options.out) : terminalOf(process.stdout));
    terminal.write(reportText(summary, terminal));
  } else {
    out(renderReport(summary, options.format));
  }
  return collected.problems > 0 ? EXIT.badInput : EXIT.ok;
}
