/**
 * `trailguard replay --lake EVENT_DATA_STORE`: the backtest of cli/athena.ts on a CloudTrail Lake event data
 * store. StartQuery runs the compiled SELECT, DescribeQuery is polled until it ends, and every GetQueryResults
 * page's rows (`QueryResultRows`: one `{column: value}` map per cell, in the SELECT's order) become records.
 */
import {
  CancelQueryCommand,
  CloudTrailClient,
  DescribeQueryCommand,
  type DescribeQueryCommandOutput,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  type QueryStatus,
  StartQueryCommand,
} from '@aws-sdk/client-cloudtrail';
import { addReadOnlyGuard, baseClientConfig } from '../shared/aws/client-options.js';
import { terminalValue } from '../shared/safe-text.js';
import {
  addSelectOnlyGuard,
  formatBytes,
  formatUsd,
  Interrupt,
  type InterruptHook,
  pollUntilFinal,
  type QueryScope,
  resultRows,
  rowItem,
  sigint,
  type WarehouseBacktest,
  type WarehouseHooks,
} from './athena.js';
import { compileBacktestQuery, REGION_NAME } from './backtest-sql.js';
import { callFailed, type Clock, LOOKUP_MAX_ATTEMPTS, realClock } from './backtest.js';
import type { InputItem } from './inputs.js';
import { InputProblem, UsageProblem } from './usage.js';

/** CloudTrail Lake's query price: $0.005 per GB scanned, no minimum (aws.amazon.com/cloudtrail/pricing, Lake, US East). */
export const LAKE_USD_PER_GB = 0.005;
/** Rows per GetQueryResults page: the API's maximum MaxQueryResults. */
const LAKE_PAGE_ROWS = 1000;
const RESULT_PAGE_TIMEOUT_MS = 30_000;

const EDS_ID = /^[A-Za-z0-9][A-Za-z0-9-]{2,127}$/;
const EDS_ARN = /^arn:aws(?:-[a-z]+)*:cloudtrail:([a-z0-9-]+):(\d{12}):eventdatastore\/([A-Za-z0-9][A-Za-z0-9-]{2,127})$/;

/** `--lake` as given (an event data store's ARN or id) → the id the SQL names, and the Region the ARN puts it in. */
export function eventDataStoreOf(text: string): { readonly id: string; readonly region: string | undefined } {
  const arn = EDS_ARN.exec(text);
  if (arn && REGION_NAME.test(arn[1] as string)) return { id: arn[3] as string, region: arn[1] };
  if (EDS_ID.test(text)) return { id: text, region: undefined };
  throw new UsageProblem(
    `--lake must be an event data store ARN (arn:aws:cloudtrail:REGION:ACCOUNT:eventdatastore/ID) or its ID, got "${terminalValue(text)}"`,
  );
}

/** What a Lake query of this many bytes costs. */
export function lakeCostUsd(bytesScanned: number): number {
  return (bytesScanned / 1e9) * LAKE_USD_PER_GB;
}

/**
 * A CloudTrail client for Lake queries: read-only but for starting and cancelling the SELECT, the SDK's retries as
 * LookupEvents' unless `maxAttempts` says otherwise.
 */
export function lakeClient(region: string, endpoint: string | undefined, maxAttempts = LOOKUP_MAX_ATTEMPTS): CloudTrailClient {
  const base = baseClientConfig({ region, endpoint, readOnly: true });
  const client = new CloudTrailClient({
    ...base,
    maxAttempts,
    requestHandler: { ...base.requestHandler, requestTimeout: RESULT_PAGE_TIMEOUT_MS },
  });
  addReadOnlyGuard(client, 'CloudTrail', ['StartQueryCommand', 'CancelQueryCommand']);
  addSelectOnlyGuard(client, 'StartQueryCommand', 'QueryStatement');
  return client;
}

export interface LakeBacktestOptions {
  readonly client: CloudTrailClient;
  /**
   * The client for StartQuery: one attempt. StartQuery takes no idempotency token, so a retry after a lost answer
   * would start (and bill) a second query. @default client
   */
  readonly startClient?: CloudTrailClient;
  /** The compiled query (compileBacktestQuery's `sql`, dialect lake). */
  readonly sql: string;
  /** @default realClock */
  readonly clock?: Clock;
  /** @default sigint */
  readonly onInterrupt?: InterruptHook;
  readonly onProgress?: (note: string) => void;
  /** Lines an operator needs whatever the output format (query id, state, bytes scanned, cost): stderr. */
  readonly report: (line: string) => void;
}

const FINAL_STATES: readonly (QueryStatus | undefined)[] = ['FINISHED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

function lakeSummary(id: string, described: DescribeQueryCommandOutput | undefined, rows: number | undefined): string {
  const bytes = described?.QueryStatistics?.BytesScanned ?? 0;
  const ms = described?.QueryStatistics?.ExecutionTimeInMillis;
  const parts = [
    `lake: query ${id} ${described?.QueryStatus ?? 'UNKNOWN'}`,
    `${formatBytes(bytes)} scanned (${formatUsd(lakeCostUsd(bytes))} at $${LAKE_USD_PER_GB}/GB)`,
    ...(ms !== undefined ? [`execution time ${(ms / 1000).toFixed(1)} s`] : []),
    ...(rows !== undefined ? [`${rows} rows`] : []),
  ];
  return `${parts.join(', ')}\n`;
}

/** One result row: its cells are one-entry maps, in the SELECT's column order; a cell without its value is SQL NULL. */
function rowColumns(row: readonly Record<string, string>[]): { columns: string[]; values: (string | null)[] } {
  const entries = row.map((cell) => Object.entries(cell)[0]);
  return { columns: entries.map((entry) => entry?.[0] ?? ''), values: entries.map((entry) => entry?.[1] ?? null) };
}

/**
 * Runs the query on the event data store and yields each result row as an event: StartQuery, DescribeQuery
 * polled until it ends, then every GetQueryResults page (NextToken). Ctrl-C as in athenaEvents: it cancels a
 * running query; once the query has finished, it ends the backtest at the next row.
 */
export async function* lakeEvents(options: LakeBacktestOptions): AsyncGenerator<InputItem> {
  const { client, report } = options;
  const clock = options.clock ?? realClock;
  const interrupt = new Interrupt(options.onInterrupt ?? sigint);
  let described: DescribeQueryCommandOutput | undefined;
  let rows = 0;
  try {
    const started = await (options.startClient ?? client).send(new StartQueryCommand({ QueryStatement: options.sql })).catch((error: unknown) => {
      throw callFailed('CloudTrail Lake StartQuery', error);
    });
    const id = started.QueryId;
    if (!id) throw new InputProblem('CloudTrail Lake StartQuery answered without a QueryId');
    report(`lake: query ${id} started\n`);
    const describe = () =>
      client.send(new DescribeQueryCommand({ QueryId: id })).catch((error: unknown) => {
        throw callFailed(`CloudTrail Lake DescribeQuery of query ${id}`, error);
      });
    described = await pollUntilFinal(
      async () => {
        const answer = await describe();
        options.onProgress?.(`lake query ${id}: ${answer.QueryStatus ?? 'UNKNOWN'}`);
        return answer;
      },
      (answer) => FINAL_STATES.includes(answer.QueryStatus),
      { clock, interrupt },
    );
    if (described === undefined) {
      await client.send(new CancelQueryCommand({ QueryId: id })).catch((error: unknown) => {
        throw callFailed(`CloudTrail Lake CancelQuery of query ${id} (cancel it in the console)`, error);
      });
      // A cancelled query is billed for what it scanned: the line says how much, when Lake can.
      const cancelled = await describe().catch(() => undefined);
      if (cancelled) report(lakeSummary(id, cancelled, undefined));
      throw new InputProblem(`interrupted: CloudTrail Lake query ${id} cancelled`);
    }
    if (described.QueryStatus !== 'FINISHED') {
      report(lakeSummary(id, described, undefined));
      // The message can quote the data: shown with its control characters escaped.
      throw new InputProblem(
        `CloudTrail Lake query ${id} ${described.QueryStatus}${described.ErrorMessage ? `: ${terminalValue(described.ErrorMessage)}` : ''}`,
      );
    }
    const finished = described;
    const interrupted = () => {
      report(lakeSummary(id, finished, rows));
      return new InputProblem(`interrupted after ${rows} rows of CloudTrail Lake query ${id} (the query had finished: nothing to cancel)`);
    };
    // Lake returns no header row: every row is data.
    for await (const row of resultRows({
      interrupt,
      interrupted,
      call: `CloudTrail Lake GetQueryResults of query ${id}`,
      fetch: (token, abortSignal): Promise<GetQueryResultsCommandOutput> =>
        client.send(new GetQueryResultsCommand({ QueryId: id, MaxQueryResults: LAKE_PAGE_ROWS, ...(token ? { NextToken: token } : {}) }), { abortSignal }),
      rowsOf: (answer) => answer.QueryResultRows ?? [],
      onPage: (page) => options.onProgress?.(`lake query ${id}: page ${page}, ${rows} rows`),
    })) {
      rows += 1;
      const { columns, values } = rowColumns(row);
      yield rowItem('lake', `lake:${id}#${rows}`, columns, values);
    }
    report(lakeSummary(id, described, rows));
  } finally {
    interrupt.release();
  }
}

/** `--lake EVENT_DATA_STORE`: the compiled query and its events (lazy, as athenaBacktest's). The ARN's Region, if given, is the client's. */
export function lakeBacktest(eventDataStore: string, scope: QueryScope, hooks: WarehouseHooks): WarehouseBacktest {
  const store = eventDataStoreOf(eventDataStore);
  const query = compileBacktestQuery({ dialect: 'lake', table: store.id, ...scope });
  const client = lakeClient(store.region ?? hooks.region, hooks.endpoint);
  const startClient = lakeClient(store.region ?? hooks.region, hooks.endpoint, 1);
  return {
    ...query,
    events: lakeEvents({
      client,
      startClient,
      sql: query.sql,
      ...(hooks.clock ? { clock: hooks.clock } : {}),
      ...(hooks.onInterrupt ? { onInterrupt: hooks.onInterrupt } : {}),
      ...(hooks.onProgress ? { onProgress: hooks.onProgress } : {}),
      report: hooks.report,
    }),
  };
}
