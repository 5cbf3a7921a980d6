/**
 * `trailguard replay --athena TABLE`: an organisation-scale backtest on the engine that already holds the trail.
 * The rules' patterns are compiled into one SELECT (cli/backtest-sql.ts), Athena runs it over the CloudTrail
 * table, and only the candidate rows come back, each rebuilt into its CloudTrail record and decided locally by
 * the same rules as a replayed file. The helpers the Lake backtest shares (window, cost, polling) live here too.
 */
import {
  AthenaClient,
  GetQueryExecutionCommand,
  type GetQueryExecutionCommandOutput,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  GetTableMetadataCommand,
  type QueryExecutionState,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import type { MiddlewareStack } from '@smithy/types';
import { addReadOnlyGuard, baseClientConfig } from '../shared/aws/client-options.js';
import { parseDuration } from '../shared/report/records.js';
import { terminalValue } from '../shared/safe-text.js';
import { callFailed, type Clock, LOOKUP_MAX_ATTEMPTS, parseS3Url, realClock } from './backtest.js';
import { compileBacktestQuery, lakeRowToRecord, REGION_NAME, rowProblem, rowToRecord, type SqlDialect } from './backtest-sql.js';
import { athenaTableName, type TableLayout } from './cloudtrail-table.js';
import type { InputItem } from './inputs.js';
import { InputProblem, UsageProblem } from './usage.js';

/**
 * Athena's price (aws.amazon.com/athena/pricing, SQL queries): $5 per TB scanned, rounded up to the nearest MB,
 * 10 MB minimum per query. Decimal units throughout (1 MB = 10^6 bytes, 1 TB = 10^12), as formatBytes shows them.
 */
export const ATHENA_USD_PER_TB = 5;
const MB = 1e6;
const TB = 1e12;
export const ATHENA_MIN_BYTES = 10 * MB;
/** Rows per GetQueryResults page: Athena's maximum. */
const ATHENA_PAGE_ROWS = 1000;
/** Polling of a running query: the first wait, then 1.5x longer each time up to the cap (the cap bounds how late Ctrl-C is seen). */
export const POLL_FIRST_MS = 250;
export const POLL_MAX_MS = 2_000;
/**
 * Per attempt: a result page is up to 1,000 full records (megabytes), far more than the 4 s the functions'
 * clients allow a small control-plane answer.
 */
const RESULT_PAGE_TIMEOUT_MS = 30_000;

/** The window of a warehouse backtest, and the data filters `--region`/`--account` add to its query. */
export interface QueryScope {
  readonly since: Date;
  readonly until: Date;
  readonly regions?: readonly string[];
  readonly accounts?: readonly string[];
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** `--since`/`--until`: a duration back from now (24h, 7d), a UTC day (2026-01-01) or an ISO instant with its zone. */
export function pointInTime(option: string, text: string, now: number): Date {
  const back = parseDuration(text);
  if (back !== undefined) return new Date(now - back);
  const ms = DAY.test(text) ? Date.parse(`${text}T00:00:00Z`) : INSTANT.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(ms))
    throw new UsageProblem(
      `${option} must be a duration (24h, 7d), a day (2026-01-01) or a time with its zone (2026-01-01T12:00:00Z), got "${terminalValue(text)}"`,
    );
  return new Date(ms);
}

/** The window and filters from the command line: since (default 24h) before until (default now), regions and accounts checked. */
export function queryScope(
  args: { since?: string | undefined; until?: string | undefined; region?: string | undefined; account?: string | undefined },
  now: number,
): QueryScope {
  const since = pointInTime('--since', args.since ?? '24h', now);
  const until = args.until === undefined ? new Date(now) : pointInTime('--until', args.until, now);
  if (since.getTime() >= until.getTime()) throw new UsageProblem(`--since (${since.toISOString()}) must be before --until (${until.toISOString()})`);
  const regions = args.region === undefined ? undefined : idList('--region', args.region, REGION_NAME, 'a region such as eu-west-1');
  const accounts = args.account === undefined ? undefined : idList('--account', args.account, /^\d{12}$/, 'a 12-digit account id');
  return { since, until, ...(regions ? { regions } : {}), ...(accounts ? { accounts } : {}) };
}

function idList(option: string, text: string, shape: RegExp, what: string): string[] {
  const values = text.split(',').map((value) => value.trim());
  const bad = values.find((value) => !shape.test(value));
  if (bad !== undefined) throw new UsageProblem(`${option} takes ${what} (comma-separated for several), got "${terminalValue(bad)}"`);
  return [...new Set(values)];
}

/** Bytes for a person: 1.4 GB, 812 MB (decimal units, as AWS bills). */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** What an Athena query of this many bytes costs: the bytes rounded up to a whole MB, at least 10 MB, at $5 per TB. */
export function athenaCostUsd(bytesScanned: number): number {
  const billed = Math.max(Math.ceil(bytesScanned / MB) * MB, ATHENA_MIN_BYTES);
  return (billed / TB) * ATHENA_USD_PER_TB;
}

/** Dollars for a person: sums under a dollar keep two significant digits ($0.016, $0.000048), larger ones cents. */
export function formatUsd(usd: number): string {
  return usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toPrecision(2)}`;
}

/** Ctrl-C while a query runs: the hook calls `handler` on the interrupt and returns a function that removes it. */
export type InterruptHook = (handler: () => void) => () => void;

export const sigint: InterruptHook = (handler) => {
  process.once('SIGINT', handler);
  return () => {
    process.off('SIGINT', handler);
  };
};

/**
 * A Ctrl-C seen by a running backtest: `interrupted` is set, a sleeping poll wakes up at once, and a call given
 * `signal` (a result page in flight) is aborted.
 */
export class Interrupt {
  interrupted = false;
  private wake: () => void = () => undefined;
  private readonly remove: () => void;
  private readonly abort = new AbortController();
  readonly signal = this.abort.signal;

  constructor(hook: InterruptHook) {
    this.remove = hook(() => {
      this.interrupted = true;
      this.wake();
      this.abort.abort();
    });
  }

  /** Waits `ms` by the clock, or less when interrupted. */
  async sleep(clock: Clock, ms: number): Promise<void> {
    if (this.interrupted) return;
    await Promise.race([
      clock.sleep(ms),
      new Promise<void>((resolve) => {
        this.wake = resolve;
      }),
    ]);
  }

  release(): void {
    this.remove();
  }
}

/** Polls `poll` with growing pauses until `isFinal` says the query ended, or until Ctrl-C (then undefined). */
export async function pollUntilFinal<T>(
  poll: () => Promise<T>,
  isFinal: (answer: T) => boolean,
  { clock, interrupt }: { readonly clock: Clock; readonly interrupt: Interrupt },
): Promise<T | undefined> {
  let pause = POLL_FIRST_MS;
  for (;;) {
    await interrupt.sleep(clock, pause);
    if (interrupt.interrupted) return undefined;
    const answer = await poll();
    if (isFinal(answer)) return answer;
    pause = Math.min(Math.round(pause * 1.5), POLL_MAX_MS);
  }
}

/**
 * Every row of a finished query's results, page after page (NextToken): Ctrl-C is checked before each page, each
 * row (the rules take their time over each) and after the last, and ends the backtest with `interrupted()`; a
 * page in flight is aborted by it. `call` names the page call in a failure.
 */
export async function* resultRows<Page extends { readonly NextToken?: string | undefined }, Row>(options: {
  readonly interrupt: Interrupt;
  readonly interrupted: () => Error;
  readonly call: string;
  readonly fetch: (token: string | undefined, signal: AbortSignal) => Promise<Page>;
  /** The page's rows, by its number (from 1). */
  readonly rowsOf: (page: Page, number: number) => readonly Row[];
  readonly onPage?: (number: number) => void;
}): AsyncGenerator<Row> {
  const { interrupt, interrupted } = options;
  let token: string | undefined;
  let number = 0;
  do {
    if (interrupt.interrupted) throw interrupted();
    number += 1;
    const page = await options.fetch(token, interrupt.signal).catch((error: unknown) => {
      if (interrupt.interrupted) throw interrupted();
      throw callFailed(options.call, error);
    });
    for (const row of options.rowsOf(page, number)) {
      if (interrupt.interrupted) throw interrupted();
      yield row;
    }
    options.onPage?.(number);
    token = page.NextToken;
  } while (token);
  // A Ctrl-C during the last row is still an interrupt: the operator asked to stop, and is told it was seen.
  if (interrupt.interrupted) throw interrupted();
}

/**
 * Refuses a query that is not one SELECT: the read-only guard lets StartQueryExecution/StartQuery through,
 * and this keeps it to the compiled query's kind, whatever builds the text (no CTAS, INSERT or DDL).
 */
export function addSelectOnlyGuard(
  // biome-ignore lint/suspicious/noExplicitAny: fits every client's stack, as shared/aws/client-options.ts's guards
  client: { readonly middlewareStack: MiddlewareStack<any, any> },
  command: string,
  field: string,
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === command) {
        const text = (args.input as Record<string, unknown>)[field];
        // One statement per call is the API's own rule; the first word keeps it a query.
        if (typeof text !== 'string' || !/^\s*SELECT\s/i.test(text)) throw new InputProblem(`${command}: refused a query that is not a single SELECT`);
      }
      return next(args);
    },
    { step: 'initialize', name: 'trailguardSelectOnlyGuard', priority: 'high' },
  );
}

/** An Athena client for a backtest: read-only but for starting and stopping the SELECT, the SDK's retries as LookupEvents'. */
export function athenaClient(region: string, endpoint: string | undefined): AthenaClient {
  const base = baseClientConfig({ region, endpoint, readOnly: true });
  const client = new AthenaClient({
    ...base,
    maxAttempts: LOOKUP_MAX_ATTEMPTS,
    requestHandler: { ...base.requestHandler, requestTimeout: RESULT_PAGE_TIMEOUT_MS },
  });
  addReadOnlyGuard(client, 'Athena', ['StartQueryExecutionCommand', 'StopQueryExecutionCommand']);
  addSelectOnlyGuard(client, 'StartQueryExecutionCommand', 'QueryString');
  return client;
}

export interface AthenaBacktestOptions {
  readonly client: AthenaClient;
  /** The compiled query (compileBacktestQuery's `sql`), or how to compile it once the table's columns are read. */
  readonly sql: string | (() => Promise<string>);
  readonly database?: string | undefined;
  readonly catalog?: string | undefined;
  readonly workgroup?: string | undefined;
  /** `--output s3://…/`: where Athena writes the result, for a workgroup without a result location. */
  readonly outputLocation?: string | undefined;
  /** @default realClock */
  readonly clock?: Clock;
  /** @default sigint */
  readonly onInterrupt?: InterruptHook;
  /** The progress line: the query's state, then pages read. */
  readonly onProgress?: (note: string) => void;
  /** Lines an operator needs whatever the output format (query id, state, bytes scanned, cost): stderr. */
  readonly report: (line: string) => void;
}

const FINAL_STATES: readonly (QueryExecutionState | undefined)[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];

/** The closing line: query id, state, bytes scanned and their cost, engine time, rows. */
function athenaSummary(id: string, execution: GetQueryExecutionCommandOutput['QueryExecution'], rows: number | undefined): string {
  const state = execution?.Status?.State ?? 'UNKNOWN';
  const bytes = execution?.Statistics?.DataScannedInBytes ?? 0;
  const engineMs = execution?.Statistics?.EngineExecutionTimeInMillis;
  const parts = [
    `athena: query ${id} ${state}`,
    `${formatBytes(bytes)} scanned (${formatUsd(athenaCostUsd(bytes))} at $${ATHENA_USD_PER_TB}/TB, whole MB, 10 MB minimum)`,
    ...(engineMs !== undefined ? [`engine time ${(engineMs / 1000).toFixed(1)} s`] : []),
    ...(rows !== undefined ? [`${rows} rows`] : []),
  ];
  return `${parts.join(', ')}\n`;
}

/** A result row's values (Athena gives every value as a string, SQL NULL as no VarCharValue). */
function rowValues(row: { Data?: { VarCharValue?: string }[] } | undefined): (string | null)[] {
  return (row?.Data ?? []).map((datum) => datum.VarCharValue ?? null);
}

/** One row as the item replay reads: its record, or why it cannot be one (never a crash, never a lost row). */
export function rowItem(dialect: SqlDialect, source: string, columns: readonly string[], values: readonly (string | null)[]): InputItem {
  if (values.length !== columns.length) return { kind: 'error', source, problem: `row has ${values.length} values for ${columns.length} columns` };
  try {
    const value = dialect === 'lake' ? lakeRowToRecord(columns, values) : rowToRecord(dialect, columns, values);
    // A column that did not read (JSON text that is not JSON) is named for the person, as a file's bad line is.
    const problem = rowProblem(value);
    return problem === undefined ? { kind: 'event', source, value } : { kind: 'error', source, problem: `row is not a CloudTrail record: ${problem}` };
  } catch (error) {
    return { kind: 'error', source, problem: `row is not a CloudTrail record: ${(error as Error).message}` };
  }
}

/**
 * Runs the query and yields each result row as an event: StartQueryExecution, GetQueryExecution polled with
 * growing pauses until it ends, then every GetQueryResults page (NextToken). A failed or cancelled query is an
 * InputProblem naming its reason; the summary line is reported when the query ended. Ctrl-C while the query runs
 * stops it (it is billed for what it scanned: the summary says how much); while the results are read, it ends the
 * backtest at the next row with an InputProblem (exit 2), after the rows already decided. A second Ctrl-C, no
 * longer listened to, ends the process.
 */
export async function* athenaEvents(options: AthenaBacktestOptions): AsyncGenerator<InputItem> {
  const { client, report } = options;
  const clock = options.clock ?? realClock;
  // Listening before the start: a Ctrl-C while StartQueryExecution is in flight still stops the query it started.
  const interrupt = new Interrupt(options.onInterrupt ?? sigint);
  let rows = 0;
  try {
    const sql = typeof options.sql === 'string' ? options.sql : await options.sql();
    if (interrupt.interrupted) throw new InputProblem('interrupted before the Athena query started');
    const started = await client
      .send(
        new StartQueryExecutionCommand({
          QueryString: sql,
          ...(options.database || options.catalog
            ? {
                QueryExecutionContext: {
                  ...(options.database ? { Database: options.database } : {}),
                  ...(options.catalog ? { Catalog: options.catalog } : {}),
                },
              }
            : {}),
          ...(options.workgroup ? { WorkGroup: options.workgroup } : {}),
          ...(options.outputLocation ? { ResultConfiguration: { OutputLocation: options.outputLocation } } : {}),
        }),
      )
      .catch((error: unknown) => {
        const problem = callFailed('Athena StartQueryExecution', error);
        // The workgroup names no result location: the one fix is on the command line.
        if (/output location/i.test(problem.message) && !options.outputLocation)
          throw new InputProblem(`${problem.message} (give --output s3://bucket/prefix/ for the query results)`, { cause: error });
        throw problem;
      });
    const id = started.QueryExecutionId;
    if (!id) throw new InputProblem('Athena StartQueryExecution answered without a QueryExecutionId');
    report(`athena: query ${id} started${options.workgroup ? ` in workgroup ${options.workgroup}` : ''}\n`);
    const describe = async () => {
      const answer = await client.send(new GetQueryExecutionCommand({ QueryExecutionId: id })).catch((error: unknown) => {
        throw callFailed(`Athena GetQueryExecution of query ${id}`, error);
      });
      return answer.QueryExecution;
    };
    const ended = await pollUntilFinal(
      async () => {
        const execution = await describe();
        options.onProgress?.(`athena query ${id}: ${execution?.Status?.State ?? 'UNKNOWN'}`);
        return execution;
      },
      (answer) => FINAL_STATES.includes(answer?.Status?.State),
      { clock, interrupt },
    );
    if (ended === undefined) {
      await client.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch((error: unknown) => {
        throw callFailed(`Athena StopQueryExecution of query ${id} (stop it in the console)`, error);
      });
      // A stopped query is billed for what it scanned before it stopped: the line says how much, when Athena can.
      const stopped = await describe().catch(() => undefined);
      if (stopped) report(athenaSummary(id, stopped, undefined));
      throw new InputProblem(`interrupted: Athena query ${id} stopped`);
    }
    const execution = ended;
    const state = execution?.Status?.State;
    if (state !== 'SUCCEEDED') {
      report(athenaSummary(id, execution, undefined));
      const reason = execution?.Status?.StateChangeReason ?? execution?.Status?.AthenaError?.ErrorMessage;
      // The reason can quote the data (HIVE_BAD_DATA names a field's value): attacker-chosen text, shown, not obeyed.
      throw new InputProblem(`Athena query ${id} ${state}${reason ? `: ${terminalValue(reason)}` : ''}`);
    }
    const interrupted = () => {
      report(athenaSummary(id, execution, rows));
      return new InputProblem(`interrupted after ${rows} rows of Athena query ${id} (the query had finished: nothing to stop)`);
    };
    let columns: string[] = [];
    for await (const row of resultRows({
      interrupt,
      interrupted,
      call: `Athena GetQueryResults of query ${id}`,
      fetch: (token, abortSignal): Promise<GetQueryResultsCommandOutput> =>
        client.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: ATHENA_PAGE_ROWS, ...(token ? { NextToken: token } : {}) }), {
          abortSignal,
        }),
      rowsOf: (answer, page) => {
        if (page === 1) columns = (answer.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((column) => column.Name ?? '');
        const found = answer.ResultSet?.Rows ?? [];
        // A SELECT's first row of the first page holds the column names, not data. Only a row that equals them is
        // skipped, so a result without that row (another engine, an emulator) never loses its first record.
        return page === 1 && found.length > 0 && sameValues(rowValues(found[0]), columns) ? found.slice(1) : found;
      },
      onPage: (page) => options.onProgress?.(`athena query ${id}: page ${page}, ${rows} rows`),
    })) {
      rows += 1;
      yield rowItem('athena', `athena:${id}#${rows}`, columns, rowValues(row));
    }
    report(athenaSummary(id, execution, rows));
  } finally {
    interrupt.release();
  }
}

function sameValues(values: readonly (string | null)[], columns: readonly string[]): boolean {
  return values.length === columns.length && values.every((value, index) => value === columns[index]);
}

/** The compiled query a warehouse backtest sends (compileBacktestQuery's answer), and the events it yields once read. */
export interface WarehouseBacktest {
  readonly sql: string;
  readonly pushedDown: readonly string[];
  readonly residual: readonly string[];
  readonly events: AsyncIterable<InputItem>;
}

/** What runs a warehouse backtest besides its arguments: where the client goes, the clock, Ctrl-C, the progress line and stderr. */
export interface WarehouseHooks {
  /** The client's Region when the source does not name one: AWS_REGION, never `--region` (a data filter here). */
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly clock?: Clock;
  readonly onInterrupt?: InterruptHook;
  readonly onProgress?: (note: string) => void;
  readonly report: (line: string) => void;
}

/** The table's partitions (cli/cloudtrail-table.ts): the single-account DDL, the organization trail's, one region's. */
const TABLE_LAYOUTS: readonly TableLayout[] = ['account', 'organization', 'region'];
const DATABASE = /^[A-Za-z0-9_]{1,255}$/;
const WORKGROUP = /^[A-Za-z0-9._-]{1,128}$/;
const CATALOG = /^[A-Za-z0-9_@-]{1,256}$/;

function checked(option: string, value: string | undefined, shape: RegExp, what: string): string | undefined {
  if (value !== undefined && !shape.test(value)) throw new UsageProblem(`${option} must be ${what}, got "${terminalValue(value)}"`);
  return value;
}

/** Athena's own catalog, and the database a query without one runs in. */
const DEFAULT_CATALOG = 'AwsDataCatalog';
const DEFAULT_DATABASE = 'default';

/**
 * The table's column names (lower case), from GetTableMetadata: a table made from an older AWS DDL lacks the newer
 * columns, and the query selects only the columns it has. TABLE is `table` or `database.table`, each part maybe
 * backquoted (athenaTableName checked it); the catalog keeps names in lower case.
 */
export async function athenaTableColumns(
  client: AthenaClient,
  table: string,
  where: { readonly database?: string | undefined; readonly catalog?: string | undefined; readonly workgroup?: string | undefined },
): Promise<string[]> {
  athenaTableName(table);
  const parts = table.split('.').map((part) => part.replace(/^`|`$/g, '').toLowerCase());
  const [database, name] = parts.length === 2 ? parts : [where.database?.toLowerCase() ?? DEFAULT_DATABASE, parts[0]];
  const catalog = where.catalog ?? DEFAULT_CATALOG;
  const answer = await client
    .send(
      new GetTableMetadataCommand({
        CatalogName: catalog,
        DatabaseName: database,
        TableName: name,
        ...(where.workgroup ? { WorkGroup: where.workgroup } : {}),
      }),
    )
    .catch((error: unknown) => {
      throw callFailed(`Athena GetTableMetadata of ${catalog}.${database}.${name}`, error);
    });
  const columns = (answer.TableMetadata?.Columns ?? []).flatMap((column) => (column.Name ? [column.Name.toLowerCase()] : []));
  if (columns.length === 0) throw new InputProblem(`Athena GetTableMetadata of ${catalog}.${database}.${name} answered without columns`);
  return columns;
}

/**
 * `--athena TABLE [--database DB] [--workgroup WG] [--catalog C] [--output s3://…/] [--layout L]`: the compiled query and
 * its events (lazy: nothing is called before replay reads the first one, so `--print-sql` calls nothing). The
 * compiler checks TABLE, which it writes into the SQL; the other names go to the API as parameters.
 */
export function athenaBacktest(
  table: string,
  args: {
    readonly database?: string | undefined;
    readonly workgroup?: string | undefined;
    readonly catalog?: string | undefined;
    readonly output?: string | undefined;
    readonly layout?: string | undefined;
  },
  scope: QueryScope,
  hooks: WarehouseHooks,
): WarehouseBacktest {
  const database = checked('--database', args.database, DATABASE, 'a Glue database name (letters, digits, _)');
  const workgroup = checked('--workgroup', args.workgroup, WORKGROUP, 'an Athena workgroup name (letters, digits, . _ -)');
  const catalog = checked('--catalog', args.catalog, CATALOG, 'a data catalog name (letters, digits, _ @ -)');
  if (args.output !== undefined && !parseS3Url(args.output))
    throw new UsageProblem(`--output must be s3://bucket/prefix/, got "${terminalValue(args.output)}"`);
  const layout = TABLE_LAYOUTS.find((known) => known === (args.layout ?? 'account'));
  if (!layout) throw new UsageProblem(`--layout must be one of ${TABLE_LAYOUTS.join(', ')} (docs/athena.md), got "${terminalValue(args.layout ?? '')}"`);
  // Without AWS (`--print-sql`): every column of the newest AWS DDL. The run selects those the table has.
  const query = compileBacktestQuery({ dialect: 'athena', table, layout, ...scope });
  const client = athenaClient(hooks.region, hooks.endpoint);
  const compileForTable = async (): Promise<string> => {
    const tableColumns = await athenaTableColumns(client, table, { database, catalog, workgroup });
    return compileBacktestQuery({ dialect: 'athena', table, layout, ...scope, tableColumns }).sql;
  };
  return {
    ...query,
    events: athenaEvents({
      client,
      sql: compileForTable,
      database,
      catalog,
      workgroup,
      outputLocation: args.output,
      ...(hooks.clock ? { clock: hooks.clock } : {}),
      ...(hooks.onInterrupt ? { onInterrupt: hooks.onInterrupt } : {}),
      ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
      report: hooks.report,
    }),
  };
}
