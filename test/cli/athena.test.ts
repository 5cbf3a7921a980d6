import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  GetTableMetadataCommand,
  type QueryExecutionState,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { athenaCostUsd, athenaEvents, formatUsd, pointInTime, POLL_MAX_MS, queryScope } from '../../cli/athena.js';
import type { Clock } from '../../cli/backtest.js';
import { ATHENA_LATER_COLUMNS, compileBacktestQuery, rowToRecord } from '../../cli/backtest-sql.js';
import { ATHENA_COLUMNS } from '../../cli/cloudtrail-table.js';
import type { InputItem } from '../../cli/inputs.js';
import { main } from '../../cli/main.js';
import { replay } from '../../cli/replay.js';
import { consoleOut } from '../../shared/log.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { loadSample } from '../helpers/samples.js';

// The runner is tested apart from the table's column mapping (test/cli/backtest-sql*.test.ts): a row here is one
// column, `record`, holding the record's JSON. rowToRecord stays the real one unless a test swaps it.
vi.mock(import('../../cli/backtest-sql.js'), async (original) => {
  const actual = await original();
  return { ...actual, rowToRecord: vi.fn(actual.rowToRecord) };
});
const recordColumn = (_dialect: string, columns: readonly string[], values: readonly (string | null)[]): unknown => {
  if (columns[0] !== 'record' || values[0] === null || values[0] === undefined) throw new Error('no record column');
  return JSON.parse(values[0]);
};

const athena = mockClient(AthenaClient);
const cloudtrail = mockClient(CloudTrailClient);
const bare = (rule: Parameters<typeof loadSample>[0], name: string) => {
  const sample = loadSample(rule, name) as { detail?: Record<string, unknown> };
  return sample.detail ?? sample;
};
const PUBLIC = () => bare('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read');
const PRIVATE = () => bare('public-bucket', 'compliant.put-bucket-acl-canned-private');

const header = { Data: [{ VarCharValue: 'record' }] };
const row = (record: unknown) => ({ Data: [{ VarCharValue: typeof record === 'string' ? record : JSON.stringify(record) }] });
const page = (rows: { Data: { VarCharValue?: string }[] }[], NextToken?: string): GetQueryResultsCommandOutput => ({
  ResultSet: { Rows: rows, ResultSetMetadata: { ColumnInfo: [{ Name: 'record', Type: 'varchar' }] } },
  ...(NextToken ? { NextToken } : {}),
  $metadata: {},
});
const execution = (State: QueryExecutionState, extra: object = {}) => ({
  QueryExecution: {
    QueryExecutionId: 'q-1',
    Status: { State, ...extra },
    Statistics: { DataScannedInBytes: 3_500_000_000, EngineExecutionTimeInMillis: 12_345 },
  },
});

/** A clock whose sleeps return at once and are recorded. */
function fakeClock(): Clock & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

async function collect(items: AsyncIterable<InputItem>): Promise<InputItem[]> {
  const all: InputItem[] = [];
  for await (const item of items) all.push(item);
  return all;
}

const noInterrupt = () => () => undefined;

beforeEach(() => {
  athena.reset();
  cloudtrail.reset();
  athena.rejects(new Error('unexpected Athena call'));
  cloudtrail.rejects(new Error('unexpected CloudTrail call'));
  vi.mocked(rowToRecord).mockImplementation(recordColumn);
});
afterEach(() => {
  vi.restoreAllMocks();
  athena.reset();
  cloudtrail.reset();
});

describe('the Athena backtest runner', () => {
  it('polls with growing pauses until SUCCEEDED, skips the header row, follows NextToken, and reports scan and cost', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce(execution('QUEUED'))
      .resolvesOnce(execution('RUNNING'))
      .resolvesOnce(execution('RUNNING'))
      .resolvesOnce(execution('RUNNING'))
      .resolvesOnce(execution('RUNNING'))
      .resolvesOnce(execution('RUNNING'))
      .resolves(execution('SUCCEEDED'));
    athena.on(GetQueryResultsCommand, { NextToken: undefined }).resolves(page([header, row(PUBLIC())], 'p2'));
    athena.on(GetQueryResultsCommand, { NextToken: 'p2' }).resolves(page([row(PRIVATE()), row({ ...PUBLIC(), eventID: 'third' })]));
    const clock = fakeClock();
    const reported: string[] = [];
    const progress: string[] = [];
    const items = await collect(
      athenaEvents({
        client: new AthenaClient({ region: 'eu-west-1' }),
        sql: 'SELECT 1',
        database: 'security',
        catalog: 'AwsDataCatalog',
        workgroup: 'backtests',
        clock,
        onInterrupt: noInterrupt,
        onProgress: (note) => progress.push(note),
        report: (line) => reported.push(line),
      }),
    );
    expect(items).toEqual([
      { kind: 'event', source: 'athena:q-1#1', value: PUBLIC() },
      { kind: 'event', source: 'athena:q-1#2', value: PRIVATE() },
      { kind: 'event', source: 'athena:q-1#3', value: { ...PUBLIC(), eventID: 'third' } },
    ]);
    expect(athena).toHaveReceivedCommandWith(StartQueryExecutionCommand, {
      QueryString: 'SELECT 1',
      QueryExecutionContext: { Database: 'security', Catalog: 'AwsDataCatalog' },
      WorkGroup: 'backtests',
    });
    expect(athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input).not.toHaveProperty('ResultConfiguration');
    // 250 ms, then 1.5x each time, capped so a Ctrl-C is seen within the cap.
    expect(clock.slept).toEqual([250, 375, 563, 845, 1268, 1902, POLL_MAX_MS]);
    expect(athena).toHaveReceivedCommandTimes(GetQueryExecutionCommand, 7);
    expect(athena.commandCalls(GetQueryResultsCommand).map((call) => call.args[0].input)).toEqual([
      { QueryExecutionId: 'q-1', MaxResults: 1000 },
      { QueryExecutionId: 'q-1', MaxResults: 1000, NextToken: 'p2' },
    ]);
    expect(reported).toEqual([
      'athena: query q-1 started in workgroup backtests\n',
      'athena: query q-1 SUCCEEDED, 3.50 GB scanned ($0.018 at $5/TB, whole MB, 10 MB minimum), engine time 12.3 s, 3 rows\n',
    ]);
    expect(progress).toContain('athena query q-1: RUNNING');
    expect(progress.at(-1)).toBe('athena query q-1: page 2, 3 rows');
  });

  it('keeps a first row that is not the header (a result without one loses no record)', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    athena.on(GetQueryResultsCommand).resolves(page([row(PUBLIC())]));
    const items = await collect(
      athenaEvents({ client: new AthenaClient({}), sql: 'SELECT 1', clock: fakeClock(), onInterrupt: noInterrupt, report: () => undefined }),
    );
    expect(items).toEqual([{ kind: 'event', source: 'athena:q-1#1', value: PUBLIC() }]);
  });

  it('turns a row that is no record, or has the wrong number of values, into an error item and reads on', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    athena
      .on(GetQueryResultsCommand)
      .resolves(page([header, row('{"eventVersion": '), { Data: [{ VarCharValue: '{}' }, { VarCharValue: 'extra' }] }, { Data: [{}] }, row(PUBLIC())]));
    const items = await collect(
      athenaEvents({ client: new AthenaClient({}), sql: 'SELECT 1', clock: fakeClock(), onInterrupt: noInterrupt, report: () => undefined }),
    );
    expect(items).toEqual([
      { kind: 'error', source: 'athena:q-1#1', problem: expect.stringMatching(/^row is not a CloudTrail record: .*JSON/) },
      { kind: 'error', source: 'athena:q-1#2', problem: 'row has 2 values for 1 columns' },
      { kind: 'error', source: 'athena:q-1#3', problem: 'row is not a CloudTrail record: no record column' },
      { kind: 'event', source: 'athena:q-1#4', value: PUBLIC() },
    ]);
  });

  it.each<[QueryExecutionState, object, string]>([
    [
      'FAILED',
      { StateChangeReason: "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.security.trail' does not exist" },
      ": TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.security.trail' does not exist",
    ],
    ['CANCELLED', {}, ''],
  ])('ends a %s query with its reason and the summary line, and reads no results', async (state, status, reason) => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena.on(GetQueryExecutionCommand).resolvesOnce(execution('RUNNING')).resolves(execution(state, status));
    const reported: string[] = [];
    await expect(
      collect(athenaEvents({ client: new AthenaClient({}), sql: 'SELECT 1', clock: fakeClock(), onInterrupt: noInterrupt, report: (l) => reported.push(l) })),
    ).rejects.toThrow(`Athena query q-1 ${state}${reason}`);
    expect(reported.at(-1)).toMatch(new RegExp(`^athena: query q-1 ${state}, 3.50 GB scanned`));
    expect(athena).toHaveReceivedCommandTimes(GetQueryExecutionCommand, 2);
    expect(athena).not.toHaveReceivedCommand(GetQueryResultsCommand);
  });

  it('escapes the control characters of a failure reason that quotes the data', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena.on(GetQueryExecutionCommand).resolves(execution('FAILED', { StateChangeReason: "HIVE_BAD_DATA: value 'x\u001b[2J\nfake line'" }));
    const failure = await collect(
      athenaEvents({ client: new AthenaClient({}), sql: 'SELECT 1', clock: fakeClock(), onInterrupt: noInterrupt, report: () => undefined }),
    ).catch((error: Error) => error.message);
    expect(failure).toMatch(/^Athena query q-1 FAILED: HIVE_BAD_DATA: value 'x.*fake line'$/);
    expect(failure).not.toContain('\u001b');
    expect(failure).not.toContain('\n');
  });

  it('stops the query on Ctrl-C while it runs, reports what the stopped query scanned, and stops listening for Ctrl-C', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    let interrupt: (() => void) | undefined;
    let listening = false;
    athena.on(GetQueryExecutionCommand).callsFake(async () => {
      interrupt?.(); // the operator presses Ctrl-C while the query runs
      return execution('RUNNING');
    });
    athena.on(StopQueryExecutionCommand).resolves({});
    const hook = (handler: () => void) => {
      interrupt = handler;
      listening = true;
      return () => {
        listening = false;
      };
    };
    const clock = fakeClock();
    const reported: string[] = [];
    await expect(
      collect(athenaEvents({ client: new AthenaClient({}), sql: 'SELECT 1', clock, onInterrupt: hook, report: (line) => reported.push(line) })),
    ).rejects.toThrow('interrupted: Athena query q-1 stopped');
    expect(athena).toHaveReceivedCommandWith(StopQueryExecutionCommand, { QueryExecutionId: 'q-1' });
    // One poll, then one look at the stopped query: it is billed for what it scanned.
    expect(athena).toHaveReceivedCommandTimes(GetQueryExecutionCommand, 2);
    expect(reported.at(-1)).toMatch(/^athena: query q-1 RUNNING, 3.50 GB scanned \(\$0.018 /);
    expect(listening).toBe(false);
    expect(interrupt).toBeDefined();
  });

  it.each([
    ['on the first page, between rows', 1, 1],
    ['during the last row of the last page', 3, 3],
  ])('ends the backtest with exit-2 problem on Ctrl-C once the query finished: %s', async (_when, pressAt, decided) => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    athena.on(GetQueryResultsCommand, { NextToken: undefined }).resolves(page([header, row(PUBLIC()), row(PRIVATE())], 'p2'));
    athena.on(GetQueryResultsCommand, { NextToken: 'p2' }).resolves(page([row({ ...PUBLIC(), eventID: 'third' })]));
    let press: (() => void) | undefined;
    let listening = false;
    const hook = (handler: () => void) => {
      press = handler;
      listening = true;
      return () => {
        listening = false;
      };
    };
    const reported: string[] = [];
    const seen: InputItem[] = [];
    const run = async () => {
      for await (const item of athenaEvents({
        client: new AthenaClient({}),
        sql: 'SELECT 1',
        clock: fakeClock(),
        onInterrupt: hook,
        report: (line) => reported.push(line),
      })) {
        seen.push(item);
        if (seen.length === pressAt) press?.(); // the operator presses Ctrl-C while the rules decide this row
      }
    };
    await expect(run()).rejects.toThrow(`interrupted after ${decided} rows of Athena query q-1 (the query had finished: nothing to stop)`);
    expect(seen).toHaveLength(decided);
    expect(athena).not.toHaveReceivedCommand(StopQueryExecutionCommand);
    expect(reported.at(-1)).toMatch(new RegExp(`^athena: query q-1 SUCCEEDED, .*, ${decided} rows\n$`));
    expect(listening).toBe(false);
  });

  it('aborts a result page in flight on Ctrl-C', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    let press: (() => void) | undefined;
    athena.on(GetQueryResultsCommand).callsFake(async () => {
      press?.(); // Ctrl-C while the page is on its way
      return page([header, row(PUBLIC())]);
    });
    const hook = (handler: () => void) => {
      press = handler;
      return () => undefined;
    };
    const client = new AthenaClient({});
    const send = vi.spyOn(client, 'send');
    await expect(collect(athenaEvents({ client, sql: 'SELECT 1', clock: fakeClock(), onInterrupt: hook, report: () => undefined }))).rejects.toThrow(
      'interrupted after 0 rows of Athena query q-1',
    );
    const pageCall = send.mock.calls.find(([command]) => command instanceof GetQueryResultsCommand);
    expect((pageCall?.[1] as { abortSignal?: AbortSignal } | undefined)?.abortSignal?.aborted).toBe(true);
  });

  it('names the failed call and, for a workgroup without a result location, points to --output', async () => {
    athena.on(StartQueryExecutionCommand).rejects(
      Object.assign(
        new Error('No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.'),
        {
          name: 'InvalidRequestException',
          $metadata: {},
        },
      ),
    );
    await expect(
      collect(athenaEvents({ client: new AthenaClient({}), sql: 'SELECT 1', clock: fakeClock(), onInterrupt: noInterrupt, report: () => undefined })),
    ).rejects.toThrow(
      /^Athena StartQueryExecution failed: InvalidRequestException: No output location provided.*\(give --output s3:\/\/bucket\/prefix\/ for the query results\)$/,
    );
  });

  it('prices a query at $5 per decimal TB, the bytes rounded up to a whole MB, 10 MB minimum', () => {
    expect(athenaCostUsd(0)).toBeCloseTo((10e6 * 5) / 1e12, 15);
    expect(athenaCostUsd(1e12)).toBe(5);
    // 1.00 TB as formatBytes shows it costs $5.00, not the $4.55 of a binary TB.
    expect(formatUsd(athenaCostUsd(1e12))).toBe('$5.00');
    expect(formatUsd(athenaCostUsd(0))).toBe('$0.000050');
    // 10 MB and one byte is billed as 11 MB.
    expect(athenaCostUsd(10e6 + 1)).toBeCloseTo((11e6 * 5) / 1e12, 15);
    expect(athenaCostUsd(10e6)).toBeCloseTo((10e6 * 5) / 1e12, 15);
    expect(formatUsd(athenaCostUsd(2e12))).toBe('$10.00');
  });
});

describe('the window and filters of a warehouse backtest', () => {
  const now = Date.parse('2026-11-20T12:00:00Z');

  it('takes durations, days and instants with a zone, and refuses anything else', () => {
    expect(pointInTime('--since', '7d', now).toISOString()).toBe('2026-11-13T12:00:00.000Z');
    expect(pointInTime('--since', '2026-01-01', now).toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(pointInTime('--until', '2026-01-01T08:30:00+02:00', now).toISOString()).toBe('2026-01-01T06:30:00.000Z');
    expect(() => pointInTime('--since', '2026-01-01T08:30:00', now)).toThrow('--since must be a duration');
    expect(() => pointInTime('--since', 'yesterday', now)).toThrow('--since must be a duration');
  });

  it('checks the order of the window and every region and account of the lists', () => {
    expect(queryScope({ region: 'eu-west-1,us-east-1,eu-west-1', account: '111122223333' }, now)).toEqual({
      since: new Date('2026-11-19T12:00:00Z'),
      until: new Date(now),
      regions: ['eu-west-1', 'us-east-1'],
      accounts: ['111122223333'],
    });
    expect(() => queryScope({ since: '2026-12-01' }, now)).toThrow('--since (2026-12-01T00:00:00.000Z) must be before --until (2026-11-20T12:00:00.000Z)');
    expect(() => queryScope({ region: "eu-west-1,x' OR 1=1" }, now)).toThrow(
      `--region takes a region such as eu-west-1 (comma-separated for several), got "x' OR 1=1"`,
    );
    expect(() => queryScope({ account: '1111' }, now)).toThrow('--account takes a 12-digit account id');
  });
});

describe('trailguard replay --athena from the command line', () => {
  const ENV = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'example' };
  function capture() {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(consoleOut, 'stdout').mockImplementation((text) => void out.push(text));
    vi.spyOn(consoleOut, 'stderr').mockImplementation((text) => void err.push(text));
    return { out, err };
  }

  /** GetTableMetadata's answer for a table with these columns, and its partitions. */
  const tableWith = (names: readonly string[]) => ({
    TableMetadata: { Name: 'trail_logs', Columns: names.map((Name) => ({ Name, Type: 'string' })), PartitionKeys: [{ Name: 'timestamp', Type: 'string' }] },
  });
  const NEWEST_DDL = ATHENA_COLUMNS.map((column) => column.athena);
  // The AWS DDL before the later columns (tlsdetails, addendum, ...) were added.
  const OLDER_DDL = NEWEST_DDL.filter((name) => !ATHENA_LATER_COLUMNS.has(name));

  it('sends the compiled query, decides each row with the rules, and reports the query on stderr', async () => {
    const { out, err } = capture();
    athena.on(GetTableMetadataCommand).resolves(tableWith(NEWEST_DDL.map((name) => name.toUpperCase())));
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-7' });
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    athena.on(GetQueryResultsCommand).resolves(page([header, row(PUBLIC()), row(PRIVATE())]));
    const args = ['replay', '--athena', 'trail_logs', '--database', 'security', '--workgroup', 'primary', '--since', '2026-11-01', '--until', '2026-11-02'];
    const exit = await main([...args, '--layout', 'organization', '--region', 'eu-west-1,us-east-1', '--account', '111122223333', '--format', 'jsonl'], ENV);
    expect(exit, err.join('')).toBe(0);
    const sent = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input;
    const compiled = compileBacktestQuery({
      dialect: 'athena',
      table: 'trail_logs',
      layout: 'organization',
      since: new Date('2026-11-01T00:00:00Z'),
      until: new Date('2026-11-02T00:00:00Z'),
      regions: ['eu-west-1', 'us-east-1'],
      accounts: ['111122223333'],
    });
    expect(sent).toEqual({ QueryString: compiled.sql, QueryExecutionContext: { Database: 'security' }, WorkGroup: 'primary' });
    expect(athena).toHaveReceivedCommandWith(GetTableMetadataCommand, {
      CatalogName: 'AwsDataCatalog',
      DatabaseName: 'security',
      TableName: 'trail_logs',
      WorkGroup: 'primary',
    });
    // The organization layout's account partition is in the query: the layout reached the compiler.
    expect(compiled.sql).toMatch(/\baccountid = '111122223333'/);
    const records = out
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as RemediationRecord);
    expect(records.map((r) => [r.rule, r.outcome, r.mode])).toEqual([
      ['public-bucket', 'would-remediate', 'offline'],
      ['public-bucket', 'compliant', 'offline'],
    ]);
    expect(err.join('')).toMatch(/athena: query q-7 started in workgroup primary\n.*athena: query q-7 SUCCEEDED, 3.50 GB scanned/s);
  });

  it('selects only the columns a table from an older AWS DDL has', async () => {
    const { err } = capture();
    athena.on(GetTableMetadataCommand).resolves(tableWith(OLDER_DDL));
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-6' });
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    athena.on(GetQueryResultsCommand).resolves(page([header, row(PUBLIC())]));
    expect(await main(['replay', '--athena', '`my_db`.`trail_logs`', '--catalog', 'lake_catalog', '--format', 'jsonl'], ENV), err.join('')).toBe(0);
    expect(athena).toHaveReceivedCommandWith(GetTableMetadataCommand, { CatalogName: 'lake_catalog', DatabaseName: 'my_db', TableName: 'trail_logs' });
    const sql = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input.QueryString ?? '';
    const selected = sql.slice(0, sql.indexOf('\nFROM'));
    for (const name of ATHENA_LATER_COLUMNS) expect(selected).not.toMatch(new RegExp(`\\b${name}\\b`));
    for (const name of OLDER_DDL) expect(selected).toMatch(new RegExp(`\\b${name}\\b`));
  });

  it('refuses a table without a column the rules need, naming it, and starts no query', async () => {
    const { err } = capture();
    athena.on(GetTableMetadataCommand).resolves(tableWith(OLDER_DDL.filter((name) => name !== 'eventsource' && name !== 'useridentity')));
    expect(await main(['replay', '--athena', 'trail_logs'], ENV)).toBe(2);
    expect(err.join('')).toContain('the table has no column useridentity, eventsource');
    expect(athena).not.toHaveReceivedCommand(StartQueryExecutionCommand);
  });

  it('refuses a struct an engine-2 workgroup renders as a positional array: the row is an error, exit 2', async () => {
    const { out, err } = capture();
    const actual = await vi.importActual<typeof import('../../cli/backtest-sql.js')>('../../cli/backtest-sql.js');
    vi.mocked(rowToRecord).mockImplementation(actual.rowToRecord);
    athena.on(GetTableMetadataCommand).resolves(tableWith(NEWEST_DDL));
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-5' });
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    const names = ['eventversion', 'useridentity', 'eventtime', 'eventsource', 'eventname', 'awsregion', 'eventid', 'recipientaccountid'];
    // A Root sign-in's identity as engine version 2 writes CAST(row AS JSON): the values, without their names.
    const engine2 = ['1.08', '["Root","111122223333","arn:aws:iam::111122223333:root","111122223333",null,null,null,null,null]', '2026-11-01T10:00:00Z'];
    const values = [...engine2, 'signin.amazonaws.com', 'ConsoleLogin', 'us-east-1', 'e2-1', '111122223333'];
    athena.on(GetQueryResultsCommand).resolves({
      ResultSet: {
        Rows: [{ Data: names.map((VarCharValue) => ({ VarCharValue })) }, { Data: values.map((VarCharValue) => ({ VarCharValue })) }],
        ResultSetMetadata: { ColumnInfo: names.map((Name) => ({ Name, Type: 'varchar' })) },
      },
      $metadata: {},
    });
    expect(await main(['replay', '--athena', 'trail_logs', '--format', 'jsonl'], ENV)).toBe(2);
    expect(err.join('')).toContain(
      'athena:q-5#1: row is not a CloudTrail record: useridentity is not a JSON object (the backtest needs Athena engine version 3)',
    );
    expect(out.join('')).toBe('');
  });

  it('exits 2 when a row is not a record, after deciding the rows that are', async () => {
    const { out, err } = capture();
    athena.on(GetTableMetadataCommand).resolves(tableWith(NEWEST_DDL));
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-8' });
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    athena.on(GetQueryResultsCommand).resolves(page([header, row('not json'), row(PUBLIC())]));
    expect(await main(['replay', '--athena', 'trail_logs', '--format', 'jsonl'], ENV)).toBe(2);
    expect(err.join('')).toContain('trailguard: athena:q-8#1: row is not a CloudTrail record:');
    expect(out.join('')).toContain('"outcome":"would-remediate"');
  });

  it('on Ctrl-C while the results are read, writes the records decided so far and exits 2', async () => {
    const { out, err } = capture();
    athena.on(GetTableMetadataCommand).resolves(tableWith(NEWEST_DDL));
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-4' });
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    athena.on(GetQueryResultsCommand, { NextToken: undefined }).resolves(page([header, row(PUBLIC()), row(PRIVATE())], 'p2'));
    athena.on(GetQueryResultsCommand, { NextToken: 'p2' }).callsFake(async () => {
      process.emit('SIGINT'); // the operator presses Ctrl-C while the second page is on its way
      return page([row({ ...PUBLIC(), eventID: 'third' })]);
    });
    const listeners = process.listenerCount('SIGINT');
    expect(await main(['replay', '--athena', 'trail_logs', '--format', 'jsonl'], ENV)).toBe(2);
    expect(err.join('')).toContain('interrupted after 2 rows of Athena query q-4 (the query had finished: nothing to stop)');
    expect(err.join('')).toMatch(/athena: query q-4 SUCCEEDED, .*, 2 rows\n/);
    expect(athena).not.toHaveReceivedCommand(StopQueryExecutionCommand);
    expect(process.listenerCount('SIGINT')).toBe(listeners);
    // Replay writes what it decided before the interrupt ends it (its flush in a finally).
    expect(out.join('').split('\n').filter(Boolean)).toHaveLength(2);
  });

  it('prints the query with --print-sql (every column of the newest AWS DDL: it reads no table) and calls nothing', async () => {
    const { out } = capture();
    expect(await main(['replay', '--athena', 'security.trail_logs', '--since', '2026-11-01', '--until', '2026-11-02', '--print-sql'], ENV)).toBe(0);
    const compiled = compileBacktestQuery({
      dialect: 'athena',
      table: 'security.trail_logs',
      since: new Date('2026-11-01T00:00:00Z'),
      until: new Date('2026-11-02T00:00:00Z'),
    });
    const printed = out.join('');
    expect(printed.endsWith(`${compiled.sql}\n`)).toBe(true);
    for (const name of ATHENA_LATER_COLUMNS) expect(compiled.sql).toContain(name);
    for (const line of printed
      .slice(0, -compiled.sql.length - 1)
      .split('\n')
      .filter(Boolean))
      expect(line).toMatch(/^-- (in the query|checked here): /);
    expect(athena.calls()).toEqual([]);
  });

  it.each([
    [['--athena', 't', '--lookup'], '--athena and --lookup cannot be combined'],
    [['--athena', 't', '--s3', 's3://example-trail/AWSLogs/'], '--athena and --s3 cannot be combined'],
    [['--athena', 't', 'events/'], '--athena and INPUT cannot be combined'],
    [['--athena', 't', '--lake', 'eds-1234'], '--athena and --lake cannot be combined'],
    [['--athena', 't', '--mode', 'live'], 'a backtest (--lookup, --s3, --athena, --lake) runs offline or dry-run, never live'],
    [['--athena', 't', '--mode', 'live', '--print-sql'], '--print-sql shows a backtest query, and a backtest runs offline or dry-run, never live'],
    [['--athena', 't', '--lookup-all'], '--athena and --lookup-all cannot be combined'],
    [['--lake', 'eds-1234', '--lookup-all'], '--lake and --lookup-all cannot be combined'],
    [['--athena', 't', '--since', 'yesterday\u001b[2J'], 'got "yesterday\\u001b[2J"'],
    [['--athena', 't', '--region', 'eusc-de-east-1,x\u001b]0;pwn\u0007'], 'got "x\\u001b]0;pwn\\u0007"'],
    [['--lookup', '--workgroup', 'primary'], '--workgroup goes with --athena or --lake'],
    [['--athena', 't', '--output', 'https://example.com/'], '--output must be s3://bucket/prefix/'],
    [['--athena', 't', '--workgroup', 'wg;drop'], '--workgroup must be an Athena workgroup name'],
    [['--athena', "t' OR 1=1"], 'is not a table name'],
    [['--athena', 't', '--layout', 'hive'], '--layout must be one of account, organization, region'],
    [['--lake', 'eds-1234', '--layout', 'organization'], '--layout goes with --athena, not --lake'],
  ])('refuses replay %j with exit 2 and calls nothing', async (args, message) => {
    const { err } = capture();
    expect(await main(['replay', ...args], ENV)).toBe(2);
    expect(err.join('')).toContain(message);
    expect(athena.calls()).toEqual([]);
  });

  it('runs in dry-run through replay like the other backtests', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-9' });
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    athena.on(GetQueryResultsCommand).resolves(page([header, row(bare('trail-logging', 'would-remediate.stop-logging-by-name'))]));
    cloudtrail.rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: {} }));
    let out = '';
    const exit = await replay({
      mode: 'dry-run',
      format: 'jsonl',
      configFile: undefined,
      inputs: [],
      env: {},
      events: athenaEvents({ client: new AthenaClient({}), sql: 'SELECT 1', clock: fakeClock(), onInterrupt: noInterrupt, report: () => undefined }),
      out: (t) => {
        out += t;
      },
      err: () => undefined,
      progress: { isTTY: false, write: () => true },
    });
    const [record] = out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as RemediationRecord);
    // The dry-run read the trail (refused here): the rule inspected, through its own read-only client.
    expect(record).toMatchObject({ rule: 'trail-logging', mode: 'dry-run' });
    expect(cloudtrail.calls().length).toBeGreaterThan(0);
    expect(exit).toBe(1);
  });
});
