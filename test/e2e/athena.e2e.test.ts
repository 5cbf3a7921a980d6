// `trailguard replay --athena` end to end against the emulator's Athena: moto runs no SQL, but answers the
// Athena API and returns the result rows queued at /moto-api/static/athena/query-results (moto/athena/models.py,
// get_query_results), and keeps the query string it was sent. The rows queued here are what Athena would return
// for real sample records; the records the CLI decides from them must be the ones the same samples give as files.
// Its own workgroup, and no reset of the emulator. CloudTrail Lake is not in moto: test/cli/lake.test.ts only.
import { AthenaClient, CreateWorkGroupCommand, GetQueryExecutionCommand, GetTableMetadataCommand, ListQueryExecutionsCommand } from '@aws-sdk/client-athena';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { compileBacktestQuery } from '../../cli/backtest-sql.js';
import { ATHENA_COLUMNS, type StructShape } from '../../cli/cloudtrail-table.js';
import { main } from '../../cli/main.js';
import type { RuleId } from '../../shared/config.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { captureConsole } from '../helpers/console-capture.js';
import { EVENTS_DIR, loadSample } from '../helpers/samples.js';

const endpoint = process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:5000';
const region = process.env.AWS_REGION ?? 'us-east-1';
const ACCOUNT = '123456789012';
const WORKGROUP = `trailguard-e2e-${Date.now().toString(36)}`;
const env = { AWS_ENDPOINT_URL: endpoint, AWS_REGION: region, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };
const athena = new AthenaClient({ region, endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });

// moto has no GetTableMetadata (moto/athena/responses.py): the test answers it with the AWS DDL's columns, as a
// table made from it would, and lets every other Athena call through to the emulator.
const realSend = AthenaClient.prototype.send;
beforeEach(() => {
  vi.spyOn(AthenaClient.prototype, 'send').mockImplementation(function (this: AthenaClient, command: unknown, ...rest: unknown[]) {
    if (command instanceof GetTableMetadataCommand)
      return Promise.resolve({
        TableMetadata: { Name: command.input.TableName, Columns: ATHENA_COLUMNS.map((column) => ({ Name: column.athena })) },
        $metadata: {},
      });
    return (realSend as (...args: unknown[]) => Promise<unknown>).call(this, command, ...rest);
  } as never);
});
afterEach(() => {
  vi.restoreAllMocks();
});

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);
const scalarText = (value: unknown): string | null =>
  typeof value === 'string' ? value : value === undefined || value === null ? null : typeof value === 'object' ? JSON.stringify(value) : String(value);

/** What `json_format(CAST(struct AS JSON))` gives: every DDL field under its lower-case name, NULL where absent. */
function structJson(value: unknown, shape: StructShape | 'map' | undefined): unknown {
  if (shape === 'map') return isObject(value) ? Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, scalarText(inner)])) : null;
  if (shape === undefined) return scalarText(value);
  if (!isObject(value)) return null;
  const byLower = new Map(Object.entries(value).map(([key, inner]) => [key.toLowerCase(), inner]));
  return Object.fromEntries(Object.entries(shape).map(([lower, [, inner]]) => [lower, structJson(byLower.get(lower), inner)]));
}

/** The row Athena returns for a record, for the compiled query's select list, as GetQueryResults encodes it. */
function athenaRow(record: Json): { Data: { VarCharValue?: string }[] } {
  return {
    Data: ATHENA_COLUMNS.map((column) => {
      const value = record[column.name];
      if (value === undefined || value === null) return {};
      const type = column.type;
      const text =
        type.kind === 'struct'
          ? JSON.stringify(structJson(value, type.shape))
          : type.kind === 'structs'
            ? JSON.stringify(Array.isArray(value) ? value.map((item) => structJson(item, type.shape)) : null)
            : type.kind === 'json'
              ? JSON.stringify(value)
              : scalarText(value);
      return text === null ? {} : { VarCharValue: text };
    }),
  };
}

/** Queues one query's result in moto: Athena's header row first, then a row per record. */
async function queueResult(records: readonly Json[]): Promise<void> {
  const names = ATHENA_COLUMNS.map((column) => column.athena);
  const answer = await fetch(new URL('/moto-api/static/athena/query-results', endpoint), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      account_id: ACCOUNT,
      region,
      results: [
        {
          rows: [{ Data: names.map((name) => ({ VarCharValue: name })) }, ...records.map(athenaRow)],
          column_info: names.map((name) => ({ Name: name, Label: name, Type: 'varchar', Nullable: 'UNKNOWN', CaseSensitive: true })),
        },
      ],
    }),
  });
  expect(answer.status).toBe(201);
}

/** Every sample of these rules: the record (a bare record, as a trail writes it) and its file. */
function samplesOf(rules: readonly RuleId[]): { file: string; record: Json }[] {
  return rules.flatMap((rule) =>
    readdirSync(join(EVENTS_DIR, rule))
      .filter((file) => file.endsWith('.json'))
      .sort()
      .map((file) => {
        const sample = loadSample(rule, file.replace(/\.json$/, '')) as Json;
        return { file: join(EVENTS_DIR, rule, file), record: isObject(sample.detail) ? sample.detail : sample };
      }),
  );
}

const records = (out: string): RemediationRecord[] =>
  out
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RemediationRecord);
/** What must not differ between a file and its Athena row: the decision, and what it was about. */
const decision = ({ rule, outcome, eventId, eventName, account, region: where, actor, resources, actions, reason, finding }: RemediationRecord) => ({
  rule,
  outcome,
  eventId,
  eventName,
  account,
  region: where,
  actor,
  resources,
  actions,
  reason,
  finding,
});

describe('trailguard replay --athena against the emulator', () => {
  it('sends the compiled query in its workgroup, and decides the returned rows as the same samples replayed from files', async () => {
    await athena.send(new CreateWorkGroupCommand({ Name: WORKGROUP, Configuration: {} }));
    const samples = samplesOf(['public-bucket', 'open-security-group', 'trail-logging']);
    await queueResult(samples.map((sample) => sample.record));

    let io = captureConsole();
    const since = '2020-01-01';
    const until = '2026-12-31';
    const exit = await main(
      [
        'replay',
        '--athena',
        'cloudtrail_logs',
        '--database',
        'security',
        '--workgroup',
        WORKGROUP,
        '--output',
        's3://example-e2e-athena-results/backtests/',
      ].concat(['--since', since, '--until', until, '--format', 'jsonl']),
      env,
    );
    const fromAthena = records(io.out());
    const stderr = io.err();
    expect(exit, stderr).toBe(0);

    io = captureConsole();
    expect(await main(['replay', '--format', 'jsonl', ...samples.map((sample) => sample.file)], env)).toBe(0);
    const fromFiles = records(io.out());

    // An event two rules match gives two records (a root call that makes a bucket public): as many as from the files.
    expect(fromAthena.length).toBeGreaterThanOrEqual(samples.length);
    expect(fromAthena.map(decision)).toEqual(fromFiles.map(decision));
    const outcomes = fromAthena.map((record) => record.outcome);
    expect(outcomes).toContain('would-remediate');
    expect(outcomes).toContain('compliant');

    // The query moto recorded is the compiled one, run where asked.
    const id = /athena: query (\S+) started in workgroup /.exec(stderr)?.[1] ?? '';
    const { QueryExecution } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const compiled = compileBacktestQuery({
      dialect: 'athena',
      table: 'cloudtrail_logs',
      since: new Date(`${since}T00:00:00Z`),
      until: new Date(`${until}T00:00:00Z`),
    });
    expect(QueryExecution?.Query).toBe(compiled.sql);
    expect(QueryExecution?.WorkGroup).toBe(WORKGROUP);
    expect(QueryExecution?.QueryExecutionContext).toEqual({ Database: 'security' });
    expect(QueryExecution?.ResultConfiguration?.OutputLocation).toBe(`s3://example-e2e-athena-results/backtests/${id}.csv`);
    expect(stderr).toMatch(
      new RegExp(
        `athena: query ${id} SUCCEEDED, 0 B scanned \\(\\$0\\.000050 at \\$5/TB, whole MB, 10 MB minimum\\), engine time 0\\.0 s, ${samples.length} rows`,
      ),
    );
  });

  it('exits 2 naming a row whose JSON column is broken, and still decides the others', async () => {
    const [good] = samplesOf(['public-bucket']);
    const names = ATHENA_COLUMNS.map((column) => column.athena);
    const broken = athenaRow(good?.record ?? {});
    broken.Data[names.indexOf('requestparameters')] = { VarCharValue: '{"bucketName": "example-reports"' };
    const answer = await fetch(new URL('/moto-api/static/athena/query-results', endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        account_id: ACCOUNT,
        region,
        results: [
          {
            rows: [{ Data: names.map((name) => ({ VarCharValue: name })) }, broken, athenaRow(good?.record ?? {})],
            column_info: names.map((name) => ({ Name: name })),
          },
        ],
      }),
    });
    expect(answer.status).toBe(201);
    const io = captureConsole();
    const exit = await main(['replay', '--athena', 'cloudtrail_logs', '--workgroup', WORKGROUP, '--since', '2020-01-01', '--format', 'jsonl'], env);
    expect(exit).toBe(2);
    expect(io.err()).toMatch(/trailguard: athena:\S+#1: row is not a CloudTrail record: requestparameters is not JSON/);
    // The good row after it is decided (by each rule its pattern matches), the broken one is not.
    const decided = records(io.out());
    expect(decided.length).toBeGreaterThan(0);
    expect(new Set(decided.map((record) => record.eventId))).toEqual(new Set([good?.record.eventID]));
    const listed = await athena.send(new ListQueryExecutionsCommand({ WorkGroup: WORKGROUP }));
    expect(listed.QueryExecutionIds?.length).toBe(2);
  });

  it('refuses a live backtest, and --athena beside INPUT, before any call', async () => {
    const before = (await athena.send(new ListQueryExecutionsCommand({}))).QueryExecutionIds?.length ?? 0;
    let io = captureConsole();
    expect(await main(['replay', '--athena', 'cloudtrail_logs', '--mode', 'live'], env)).toBe(2);
    expect(io.err()).toContain('runs offline or dry-run, never live');
    io = captureConsole();
    expect(await main(['replay', '--athena', 'cloudtrail_logs', EVENTS_DIR], env)).toBe(2);
    expect(io.err()).toContain('--athena and INPUT cannot be combined');
    expect((await athena.send(new ListQueryExecutionsCommand({}))).QueryExecutionIds?.length ?? 0).toBe(before);
  });
});
