// CloudTrail Lake is not in the emulator (moto has no StartQuery): the Lake backtest is tested here only, against
// aws-sdk-client-mock answers shaped as the API reference gives them.
import {
  CancelQueryCommand,
  CloudTrailClient,
  DescribeQueryCommand,
  GetQueryResultsCommand,
  type QueryStatus,
  StartQueryCommand,
} from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Clock } from '../../cli/backtest.js';
import { compileBacktestQuery, LAKE_COLUMNS } from '../../cli/backtest-sql.js';
import type { InputItem } from '../../cli/inputs.js';
import { eventDataStoreOf, lakeClient, lakeCostUsd, lakeEvents } from '../../cli/lake.js';
import { main } from '../../cli/main.js';
import { consoleOut } from '../../shared/log.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { loadSample } from '../helpers/samples.js';

const cloudtrail = mockClient(CloudTrailClient);
const EDS_ID = 'EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE';
const EDS_ARN = `arn:aws:cloudtrail:eu-central-1:111122223333:eventdatastore/${EDS_ID}`;

const bare = () => (loadSample('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read') as { detail: Record<string, unknown> }).detail;

/**
 * The row Lake returns for a record, for the columns the compiled query selects: one `{column: value}` cell per
 * column, every value text (JSON for objects), an absent field left out of its cell's value (SQL NULL).
 */
function lakeRow(record: Record<string, unknown>): Record<string, string>[] {
  return LAKE_COLUMNS.map(({ name }) => {
    const value = record[name];
    if (value === undefined || value === null) return {};
    // Lake writes its timestamp as `2026-01-02 03:04:05.000`.
    const text = name === 'eventTime' ? String(value).replace('T', ' ').replace('Z', '.000') : typeof value === 'string' ? value : JSON.stringify(value);
    return { [name]: text };
  });
}

const described = (QueryStatus: QueryStatus, extra: object = {}) => ({
  QueryId: 'lq-1',
  QueryStatus,
  QueryStatistics: { BytesScanned: 2_000_000_000, ExecutionTimeInMillis: 4_200, EventsScanned: 10, EventsMatched: 2 },
  ...extra,
});

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
  cloudtrail.reset();
  cloudtrail.rejects(new Error('unexpected CloudTrail call'));
});
afterEach(() => {
  vi.restoreAllMocks();
  cloudtrail.reset();
});

describe('the CloudTrail Lake backtest runner', () => {
  it('polls DescribeQuery until FINISHED, reads every page of cells back into records, and reports scan and cost', async () => {
    cloudtrail.on(StartQueryCommand).resolves({ QueryId: 'lq-1' });
    cloudtrail.on(DescribeQueryCommand).resolvesOnce(described('QUEUED')).resolvesOnce(described('RUNNING')).resolves(described('FINISHED'));
    const second = { ...bare(), eventID: 'second' };
    cloudtrail.on(GetQueryResultsCommand, { NextToken: undefined }).resolves({ QueryResultRows: [lakeRow(bare())], NextToken: 'n2' });
    cloudtrail.on(GetQueryResultsCommand, { NextToken: 'n2' }).resolves({ QueryResultRows: [lakeRow(second)] });
    const clock = fakeClock();
    const reported: string[] = [];
    const items = await collect(
      lakeEvents({ client: new CloudTrailClient({}), sql: 'SELECT 1', clock, onInterrupt: noInterrupt, report: (line) => reported.push(line) }),
    );
    expect(items.map((item) => item.kind === 'event' && item.source)).toEqual(['lake:lq-1#1', 'lake:lq-1#2']);
    expect(items[0]).toMatchObject({ value: { eventID: bare().eventID, eventName: bare().eventName, requestParameters: bare().requestParameters } });
    expect(items[1]).toMatchObject({ value: { eventID: 'second', eventTime: bare().eventTime } });
    expect(cloudtrail).toHaveReceivedCommandWith(StartQueryCommand, { QueryStatement: 'SELECT 1' });
    expect(cloudtrail.commandCalls(GetQueryResultsCommand).map((call) => call.args[0].input)).toEqual([
      { QueryId: 'lq-1', MaxQueryResults: 1000 },
      { QueryId: 'lq-1', MaxQueryResults: 1000, NextToken: 'n2' },
    ]);
    expect(clock.slept).toEqual([250, 375, 563]);
    expect(reported).toEqual([
      'lake: query lq-1 started\n',
      'lake: query lq-1 FINISHED, 2.00 GB scanned ($0.010 at $0.005/GB), execution time 4.2 s, 2 rows\n',
    ]);
  });

  it.each<[QueryStatus, string]>([
    ['FAILED', 'CloudTrail Lake query lq-1 FAILED: Query statement is invalid'],
    ['TIMED_OUT', 'CloudTrail Lake query lq-1 TIMED_OUT'],
    ['CANCELLED', 'CloudTrail Lake query lq-1 CANCELLED'],
  ])('ends a %s query with its message, and reads no results', async (status, message) => {
    cloudtrail.on(StartQueryCommand).resolves({ QueryId: 'lq-1' });
    cloudtrail.on(DescribeQueryCommand).resolves(described(status, status === 'FAILED' ? { ErrorMessage: 'Query statement is invalid' } : {}));
    const reported: string[] = [];
    await expect(
      collect(lakeEvents({ client: new CloudTrailClient({}), sql: 'SELECT 1', clock: fakeClock(), onInterrupt: noInterrupt, report: (l) => reported.push(l) })),
    ).rejects.toThrow(message);
    expect(reported.at(-1)).toMatch(new RegExp(`^lake: query lq-1 ${status}, 2.00 GB scanned`));
    expect(cloudtrail).not.toHaveReceivedCommand(GetQueryResultsCommand);
  });

  it('cancels the query on Ctrl-C', async () => {
    cloudtrail.on(StartQueryCommand).resolves({ QueryId: 'lq-1' });
    let interrupt: (() => void) | undefined;
    cloudtrail.on(DescribeQueryCommand).callsFake(async () => {
      interrupt?.();
      return described('RUNNING');
    });
    cloudtrail.on(CancelQueryCommand).resolves({ QueryId: 'lq-1', QueryStatus: 'CANCELLED' });
    const hook = (handler: () => void) => {
      interrupt = handler;
      return () => undefined;
    };
    const reported: string[] = [];
    await expect(
      collect(lakeEvents({ client: new CloudTrailClient({}), sql: 'SELECT 1', clock: fakeClock(), onInterrupt: hook, report: (l) => reported.push(l) })),
    ).rejects.toThrow('interrupted: CloudTrail Lake query lq-1 cancelled');
    expect(cloudtrail).toHaveReceivedCommandWith(CancelQueryCommand, { QueryId: 'lq-1' });
    // A cancelled query is billed for what it scanned: described once more, and its cost reported.
    expect(cloudtrail).toHaveReceivedCommandTimes(DescribeQueryCommand, 2);
    expect(reported.at(-1)).toMatch(/^lake: query lq-1 RUNNING, 2.00 GB scanned \(\$0.010 at \$0.005\/GB\)/);
  });

  it('ends the backtest with an exit-2 problem on Ctrl-C during the last row, once the query finished', async () => {
    cloudtrail.on(StartQueryCommand).resolves({ QueryId: 'lq-1' });
    cloudtrail.on(DescribeQueryCommand).resolves(described('FINISHED'));
    cloudtrail.on(GetQueryResultsCommand).resolves({ QueryResultRows: [lakeRow(bare())] });
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
    const run = async () => {
      for await (const _item of lakeEvents({
        client: new CloudTrailClient({}),
        sql: 'SELECT 1',
        clock: fakeClock(),
        onInterrupt: hook,
        report: (l) => reported.push(l),
      }))
        press?.();
    };
    await expect(run()).rejects.toThrow('interrupted after 1 rows of CloudTrail Lake query lq-1 (the query had finished: nothing to cancel)');
    expect(cloudtrail).not.toHaveReceivedCommand(CancelQueryCommand);
    expect(reported.at(-1)).toMatch(/, 1 rows\n$/);
    expect(listening).toBe(false);
  });

  it('reads a row from its eventJson when the store returns it', async () => {
    cloudtrail.on(StartQueryCommand).resolves({ QueryId: 'lq-1' });
    cloudtrail.on(DescribeQueryCommand).resolves(described('FINISHED'));
    // What the columns cannot carry: a number in a nested object of a map, as CloudTrail wrote it.
    const original = { ...bare(), requestParameters: { bucketName: 'b', nested: { days: 7 } } };
    cloudtrail.on(GetQueryResultsCommand).resolves({ QueryResultRows: [[{ eventJson: JSON.stringify(original) }, ...lakeRow(bare())]] });
    const items = await collect(
      lakeEvents({ client: new CloudTrailClient({}), sql: 'SELECT 1', clock: fakeClock(), onInterrupt: noInterrupt, report: () => undefined }),
    );
    expect(items).toEqual([{ kind: 'event', source: 'lake:lq-1#1', value: original }]);
  });

  it('starts the query through its start client, once: StartQuery has no idempotency token', async () => {
    cloudtrail.on(StartQueryCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException', $metadata: {} }));
    const client = lakeClient('eu-west-1', undefined);
    const startClient = lakeClient('eu-west-1', undefined, 1);
    expect(await startClient.config.maxAttempts()).toBe(1);
    expect(await client.config.maxAttempts()).toBeGreaterThan(1);
    await expect(
      collect(lakeEvents({ client, startClient, sql: 'SELECT 1', clock: fakeClock(), onInterrupt: noInterrupt, report: () => undefined })),
    ).rejects.toThrow(/CloudTrail Lake StartQuery failed/);
    const starts = cloudtrail.commandCalls(StartQueryCommand);
    expect(starts).toHaveLength(1);
    expect(starts[0]?.thisValue).toBe(startClient);
  });

  it('names the event data store from its ARN or id, and refuses anything else', () => {
    expect(eventDataStoreOf(EDS_ARN)).toEqual({ id: EDS_ID, region: 'eu-central-1' });
    expect(eventDataStoreOf(EDS_ID)).toEqual({ id: EDS_ID, region: undefined });
    expect(() => eventDataStoreOf('eds; DROP TABLE x')).toThrow('--lake must be an event data store ARN');
    expect(eventDataStoreOf(`arn:aws-eusc:cloudtrail:eusc-de-east-1:111122223333:eventdatastore/${EDS_ID}`).region).toBe('eusc-de-east-1');
    expect(() => eventDataStoreOf('eds\u001b[2J')).toThrow('got "eds\\u001b[2J"');
    expect(lakeCostUsd(1e9)).toBe(0.005);
  });
});

describe('trailguard replay --lake from the command line', () => {
  const ENV = { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'example' };

  it('sends the compiled Lake query to the store named by the ARN, and decides each row with the rules', async () => {
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(consoleOut, 'stdout').mockImplementation((text) => void out.push(text));
    vi.spyOn(consoleOut, 'stderr').mockImplementation((text) => void err.push(text));
    cloudtrail.on(StartQueryCommand).resolves({ QueryId: 'lq-2' });
    cloudtrail.on(DescribeQueryCommand).resolves(described('FINISHED'));
    cloudtrail.on(GetQueryResultsCommand).resolves({ QueryResultRows: [lakeRow(bare())] });
    const exit = await main(
      ['replay', '--lake', EDS_ARN, '--since', '2026-11-01', '--until', '2026-11-02', '--account', '111122223333', '--format', 'jsonl'],
      ENV,
    );
    expect(exit, err.join('')).toBe(0);
    const compiled = compileBacktestQuery({
      dialect: 'lake',
      table: EDS_ID,
      since: new Date('2026-11-01T00:00:00Z'),
      until: new Date('2026-11-02T00:00:00Z'),
      accounts: ['111122223333'],
    });
    expect(cloudtrail.commandCalls(StartQueryCommand)[0]?.args[0].input).toEqual({ QueryStatement: compiled.sql });
    // The ARN's Region, not AWS_REGION: the store lives there. One attempt: a retried StartQuery could bill twice.
    expect(await cloudtrail.commandCalls(StartQueryCommand)[0]?.thisValue.config.region()).toBe('eu-central-1');
    expect(await cloudtrail.commandCalls(StartQueryCommand)[0]?.thisValue.config.maxAttempts()).toBe(1);
    expect(await cloudtrail.commandCalls(GetQueryResultsCommand)[0]?.thisValue.config.maxAttempts()).toBeGreaterThan(1);
    const records = out
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as RemediationRecord);
    expect(records).toMatchObject([{ rule: 'public-bucket', outcome: 'would-remediate', mode: 'offline' }]);
    expect(err.join('')).toContain('lake: query lq-2 FINISHED, 2.00 GB scanned');
  });

  it('refuses the Athena options with --lake, and calls nothing', async () => {
    const err: string[] = [];
    vi.spyOn(consoleOut, 'stderr').mockImplementation((text) => void err.push(text));
    expect(await main(['replay', '--lake', EDS_ID, '--workgroup', 'primary'], ENV)).toBe(2);
    expect(err.join('')).toContain('--workgroup goes with --athena, not --lake');
    expect(cloudtrail.calls()).toEqual([]);
  });
});
