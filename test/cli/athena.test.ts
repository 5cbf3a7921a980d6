import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  type QueryExecutionState,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { athenaCostUsd, athenaEvents, formatUsd, pointInTime, POLL_MAX_MS, queryScope } from '../../cli/athena.js';
import type { Clock } from '../../cli/backtest.js';
import { compileBacktestQuery, rowToRecord } from '../../cli/backtest-sql.js';
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
      'athena: query q-1 SUCCEEDED, 3.50 GB scanned ($0.016 at $5/TB, 10 MB minimum), engine time 12.3 s, 3 rows\n',
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

  it('stops the query on Ctrl-C while it runs, says so, and stops listening for Ctrl-C', async () => {
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
    await expect(collect(athenaEvents({ client: new AthenaClient({}), sql: 'SELECT 1', clock, onInterrupt: hook, report: () => undefined }))).rejects.toThrow(
      'interrupted: Athena query q-1 stopped',
    );
    expect(athena).toHaveReceivedCommandWith(StopQueryExecutionCommand, { QueryExecutionId: 'q-1' });
    expect(athena).toHaveReceivedCommandTimes(GetQueryExecutionCommand, 1);
    expect(listening).toBe(false);
    expect(interrupt).toBeDefined();
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

  it('prices a query at $5 per TB with the 10 MB minimum', () => {
    expect(athenaCostUsd(0)).toBeCloseTo((10 * 1024 ** 2 * 5) / 1024 ** 4, 12);
    expect(athenaCostUsd(1024 ** 4)).toBe(5);
    expect(formatUsd(athenaCostUsd(0))).toBe('$0.000048');
    expect(formatUsd(athenaCostUsd(2 * 1024 ** 4))).toBe('$10.00');
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

  it('sends the compiled query, decides each row with the rules, and reports the query on stderr', async () => {
    const { out, err } = capture();
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

  it('exits 2 when a row is not a record, after deciding the rows that are', async () => {
    const { out, err } = capture();
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-8' });
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    athena.on(GetQueryResultsCommand).resolves(page([header, row('not json'), row(PUBLIC())]));
    expect(await main(['replay', '--athena', 'trail_logs', '--format', 'jsonl'], ENV)).toBe(2);
    expect(err.join('')).toContain('trailguard: athena:q-8#1: row is not a CloudTrail record:');
    expect(out.join('')).toContain('"outcome":"would-remediate"');
  });

  it('prints the query with --print-sql and calls nothing', async () => {
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
