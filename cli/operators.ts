/**
 * Argument handling of the operators' commands (`report`, `undo`, and replay's backtest sources), kept out
 * of `main.ts` so its switch only dispatches. Each returns an exit code, or a problem for `main` to print.
 */
import { RULE_IDS, type Config, type RuleId } from '../shared/config.js';
import { parseDuration } from '../shared/report/records.js';
import type { ReportFormat } from '../shared/report/render.js';
import {
  LOOKUP_HISTORY_DAYS,
  lookupClient,
  lookupEvents,
  logBucketClient,
  parseS3Url,
  ruleLookupPlan,
  ruleLookupUsernames,
  s3LogEvents,
  type Clock,
} from './backtest.js';
import type { InputItem } from './inputs.js';
import { readInputs } from './inputs.js';
import { LOGS_PREFIX, report } from './report.js';
import { undo } from './undo.js';
import { listOption, UsageProblem } from './usage.js';
import { SEVERITIES, standardOutput } from './output.js';
import { athenaBacktest, queryScope, type WarehouseBacktest } from './athena.js';
import { lakeBacktest } from './lake.js';
import { REGION_NAME } from './backtest-sql.js';
import { consoleOut } from '../shared/log.js';
import { terminalValue } from '../shared/safe-text.js';

type Env = Readonly<Record<string, string | undefined>>;

/** What `main` parsed for these commands. */
export interface OperatorArgs {
  readonly since?: string | undefined;
  readonly format?: string | undefined;
  readonly region?: string | undefined;
  readonly log?: string[] | undefined;
  readonly apply?: boolean | undefined;
  readonly yes?: boolean | undefined;
  readonly force?: boolean | undefined;
  readonly lookup?: boolean | undefined;
  readonly 'lookup-all'?: boolean | undefined;
  readonly s3?: string[] | undefined;
  readonly severity?: string | undefined;
  readonly rule?: string | undefined;
  readonly athena?: string | undefined;
  readonly lake?: string | undefined;
  readonly database?: string | undefined;
  readonly workgroup?: string | undefined;
  readonly catalog?: string | undefined;
  readonly output?: string | undefined;
  readonly layout?: string | undefined;
  readonly until?: string | undefined;
  readonly account?: string | undefined;
  readonly 'print-sql'?: boolean | undefined;
}

const DEFAULT_SINCE = '24h';

function sinceMs(text: string | undefined, now: number): number {
  const ms = parseDuration(text ?? DEFAULT_SINCE);
  if (ms === undefined) throw new UsageProblem(`--since must be a duration such as 24h, 7d, 90d or 30m, got "${text}"`);
  return now - ms;
}

function regionOf(args: OperatorArgs, config: Config | undefined, env: Env): string {
  const region = args.region ?? config?.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  if (!REGION_NAME.test(region)) throw new UsageProblem(`--region must be a region such as eu-west-1, got "${terminalValue(region)}"`);
  return region;
}

/**
 * `trailguard report [--since 24h] [--format text|json|html] [--region R] SOURCE...`. Files are read whole
 * unless --since is given; `logs:` sources always read a window (default 24 h).
 */
export async function reportCommand(args: OperatorArgs, sources: readonly string[], env: Env, now = Date.now()): Promise<number> {
  if (sources.length === 0) throw new UsageProblem('report needs a SOURCE: a remediation-log file or folder, or logs:<log group prefix>', true);
  const format = (args.format ?? 'text') as ReportFormat;
  if (!['text', 'json', 'html'].includes(format)) throw new UsageProblem(`report --format must be text, json or html, got "${args.format}"`);
  const windowed = args.since !== undefined || sources.some((s) => s.startsWith(LOGS_PREFIX));
  const since = windowed ? sinceMs(args.since, now) : undefined;
  const only = {
    ...(args.severity !== undefined ? { severities: listOption('--severity', args.severity, SEVERITIES, { caseInsensitive: true }) } : {}),
    ...(args.rule !== undefined ? { rules: listOption('--rule', args.rule, RULE_IDS) } : {}),
  };
  return report({
    sources,
    format,
    since,
    region: regionOf(args, undefined, env),
    endpoint: env.AWS_ENDPOINT_URL || undefined,
    now: () => now,
    ...(only.severities || only.rules ? { only } : {}),
  });
}

/** `trailguard undo EVENT_ID --log SOURCE [--apply [--yes] [--force]] [--mode offline|dry-run] [--since 30d] [--config FILE]`. */
export async function undoCommand(
  args: OperatorArgs & { readonly mode?: string | undefined },
  positionals: readonly string[],
  config: Config,
  env: Env,
  ruleOverrides?: readonly RuleId[],
): Promise<number> {
  const [eventId, ...extra] = positionals;
  if (!eventId || extra.length > 0) throw new UsageProblem("undo needs exactly one EVENT_ID (the record's eventId)", true);
  if (!args.log || args.log.length === 0)
    throw new UsageProblem("undo needs --log SOURCE: the remediation-log file, folder or logs:<log group prefix> holding the event's record", true);
  if (args.apply && args.mode !== undefined && args.mode !== 'live')
    throw new UsageProblem('--apply acts (live): leave out --mode, or use --mode dry-run without --apply to preview');
  const mode = args.apply ? 'live' : (args.mode ?? 'offline');
  if (mode !== 'offline' && mode !== 'dry-run' && mode !== 'live') throw new UsageProblem(`undo --mode must be offline or dry-run, got "${args.mode}"`);
  if (mode === 'live' && !args.apply) throw new UsageProblem('undo acts only with --apply');
  if ((args.yes || args.force) && !args.apply) throw new UsageProblem('--yes and --force go with --apply');
  const now = Date.now();
  return undo({
    eventId,
    sources: args.log,
    apply: args.apply === true,
    mode,
    config,
    region: regionOf(args, config, env),
    since: args.log.some((s) => s.startsWith(LOGS_PREFIX)) ? sinceMs(args.since ?? '30d', now) : undefined,
    yes: args.yes === true,
    force: args.force === true,
    width: standardOutput(env).width,
    ...(ruleOverrides ? { ruleOverrides } : {}),
  });
}

async function* chain(parts: readonly (() => AsyncIterable<InputItem>)[]): AsyncGenerator<InputItem> {
  for (const part of parts) yield* part();
}

/**
 * The events replay reads: INPUT files, then `--lookup` (LookupEvents in --region, filtered by the rules'
 * event sources unless --lookup-all), then each `--s3 s3://bucket/prefix`; undefined when neither is given.
 */
export function backtestEvents(
  args: OperatorArgs,
  inputs: readonly string[],
  config: Config,
  env: Env,
  { now = Date.now(), clock, progressNote }: { now?: number; clock?: Clock; progressNote?: (note: string) => void } = {},
): AsyncIterable<InputItem> | undefined {
  const warehouse = warehouseBacktest(args, inputs, config, env, { now, ...(clock ? { clock } : {}), ...(progressNote ? { progressNote } : {}) });
  if (warehouse) return warehouse.events;
  const s3 = args.s3 ?? [];
  if (!args.lookup && s3.length === 0) {
    if (args['lookup-all']) throw new UsageProblem('--lookup-all goes with --lookup');
    return undefined;
  }
  const since = sinceMs(args.since, now);
  // Refused rather than clamped: a backtest that quietly read 90 of 180 days would report a clean history for
  // days it never saw. The trail's log files in S3 reach further back.
  if (args.lookup && now - since > LOOKUP_HISTORY_DAYS * 86_400_000) {
    throw new UsageProblem(
      `--since ${args.since}: LookupEvents keeps only the last ${LOOKUP_HISTORY_DAYS} days of management events; use --since ${LOOKUP_HISTORY_DAYS}d or less, or read the trail's log files with --s3 s3://bucket/prefix (without --lookup) for older events`,
    );
  }
  const region = regionOf(args, config, env);
  const parts: (() => AsyncIterable<InputItem>)[] = [];
  if (inputs.length > 0) parts.push(() => readInputs(inputs));
  if (args.lookup) {
    const client = lookupClient(region, config.endpoint, { ...(clock ? { clock } : {}), ...(progressNote ? { onRetry: progressNote } : {}) });
    parts.push(() =>
      lookupEvents({
        client,
        startTime: new Date(since),
        endTime: new Date(now),
        ...(args['lookup-all'] ? { eventSources: undefined } : ruleLookupPlan()),
        usernames: ruleLookupUsernames(),
        ...(progressNote ? { onPage: progressNote } : {}),
      }),
    );
  }
  for (const url of s3) {
    const target = parseS3Url(url);
    if (!target) throw new UsageProblem(`--s3 must be s3://bucket/prefix, got "${url}"`);
    const client = logBucketClient(region, config.endpoint);
    parts.push(() =>
      s3LogEvents({
        client,
        ...target,
        since,
        until: now,
        region: args.region,
        ...(progressNote ? { onFile: progressNote } : {}),
      }),
    );
  }
  return chain(parts);
}

/** A line on stderr that replaces the progress line when one is drawn there (a TTY), so the two never share a line. */
const reportLine = (line: string): void => consoleOut.stderr(process.stderr.isTTY ? `\r\u001b[2K${line}` : line);

const WAREHOUSE_OPTIONS = ['database', 'workgroup', 'catalog', 'output', 'layout', 'until', 'account', 'print-sql'] as const;

/**
 * `--athena TABLE` or `--lake EVENT_DATA_STORE`: the query and the events replay reads from it; undefined when
 * neither is given. One source per backtest: INPUT, --lookup or --s3 beside it is refused, not merged.
 */
export function warehouseBacktest(
  args: OperatorArgs,
  inputs: readonly string[],
  config: Config,
  env: Env,
  {
    now = Date.now(),
    clock,
    progressNote,
    report = reportLine,
  }: { now?: number; clock?: Clock; progressNote?: (note: string) => void; report?: (line: string) => void } = {},
): WarehouseBacktest | undefined {
  if (args.athena === undefined && args.lake === undefined) {
    const stray = WAREHOUSE_OPTIONS.find((option) => args[option] !== undefined);
    if (stray) throw new UsageProblem(`--${stray} goes with --athena or --lake`);
    return undefined;
  }
  const sources = [
    ...(args.athena !== undefined ? ['--athena'] : []),
    ...(args.lake !== undefined ? ['--lake'] : []),
    ...(args.lookup ? ['--lookup'] : []),
    // --lookup-all widens --lookup's filter: with a warehouse it would be silently ignored.
    ...(args['lookup-all'] ? ['--lookup-all'] : []),
    ...((args.s3 ?? []).length > 0 ? ['--s3'] : []),
    ...(inputs.length > 0 ? ['INPUT'] : []),
  ];
  if (sources.length > 1) throw new UsageProblem(`${sources.join(' and ')} cannot be combined: a warehouse backtest reads only its query's results`, true);
  const scope = queryScope(args, now);
  // --region filters the data here; the client goes to the configured Region, where the workgroup (or the store) is.
  const hooks = {
    region: config.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoint: config.endpoint,
    ...(clock ? { clock } : {}),
    ...(progressNote ? { onProgress: progressNote } : {}),
    report,
  };
  if (args.lake !== undefined) {
    const glueOnly = (['database', 'workgroup', 'catalog', 'output', 'layout'] as const).find((option) => args[option] !== undefined);
    if (glueOnly) throw new UsageProblem(`--${glueOnly} goes with --athena, not --lake`);
    return lakeBacktest(args.lake, scope, hooks);
  }
  return athenaBacktest(args.athena as string, args, scope, hooks);
}

/** `--print-sql`: the warehouse query, with what it filters and what is left to the rules' own matching as SQL comments. */
export function printWarehouseSql(args: OperatorArgs, inputs: readonly string[], config: Config, env: Env): number {
  const warehouse = warehouseBacktest(args, inputs, config, env);
  if (!warehouse) throw new UsageProblem('--print-sql goes with --athena or --lake');
  const notes = [...warehouse.pushedDown.map((note) => `-- in the query: ${note}`), ...warehouse.residual.map((note) => `-- checked here: ${note}`)];
  const lines = [...notes, ...warehouse.sql.split('\n')];
  consoleOut.stdout(`${lines.map(terminalValue).join('\n')}\n`);
  return 0;
}
