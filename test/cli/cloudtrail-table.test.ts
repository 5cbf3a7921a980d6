import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ATHENA_LATER_COLUMNS,
  athenaColumnsOf,
  LAKE_COLUMNS,
  lakeRowToRecord,
  rowProblem,
  rowToRecord,
  selectList,
  UNPARSABLE,
} from '../../cli/backtest-sql.js';
import {
  ATHENA_COLUMNS,
  ATHENA_DROPPED_FIELDS,
  athenaDdl,
  athenaTableName,
  lakeEventDataStoreId,
  type StructShape,
  type TableColumn,
} from '../../cli/cloudtrail-table.js';
import { routeEvent } from '../../cli/replay.js';
import { RULES } from '../../functions/rules.js';
import { capturingDeps } from '../helpers/samples.js';

const EVENTS_DIR = join(import.meta.dirname, '..', '..', 'events');
const REAL_SAMPLES_DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'cloudtrail-samples');

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);

function recordsOf(value: unknown): Json[] {
  if (isObject(value) && Array.isArray(value.Records)) return value.Records.filter(isObject);
  if (isObject(value) && isObject(value.detail)) return [value.detail];
  return isObject(value) ? [value] : [];
}
const jsonFiles = (dir: string) =>
  readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.json'))
    .map((file) => join(dir, file));
const SAMPLES = [...jsonFiles(EVENTS_DIR), ...(existsSync(REAL_SAMPLES_DIR) ? jsonFiles(REAL_SAMPLES_DIR) : [])].flatMap((file) =>
  recordsOf(JSON.parse(readFileSync(file, 'utf8'))).map((record) => ({ file, record })),
);

const scalarText = (value: unknown): string | null =>
  typeof value === 'string'
    ? value
    : typeof value === 'number' || typeof value === 'boolean'
      ? String(value)
      : value === undefined || value === null
        ? null
        : JSON.stringify(value);

/**
 * What Trino's `json_format(CAST(struct AS JSON))` gives for a struct the JSON SerDe read from the record: every
 * DDL field under its lower-case name (NULL where the record has none), scalars as text, other keys gone.
 */
function structJson(value: unknown, shape: StructShape | 'map' | undefined): unknown {
  if (shape === 'map') return isObject(value) ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scalarText(v)])) : null;
  if (shape === undefined) return scalarText(value);
  if (!isObject(value)) return null;
  const byLower = new Map(Object.entries(value).map(([key, inner]) => [key.toLowerCase(), inner]));
  return Object.fromEntries(Object.entries(shape).map(([lower, [, inner]]) => [lower, structJson(byLower.get(lower), inner)]));
}

/** The row Athena returns for the record, for the query's select list (the inverse of rowToRecord). */
function athenaRow(record: Json): { columns: string[]; values: (string | null)[] } {
  const values = ATHENA_COLUMNS.map((column) => {
    const value = record[column.name];
    if (value === undefined || value === null) return null;
    switch (column.type.kind) {
      case 'struct':
        return JSON.stringify(structJson(value, column.type.shape));
      case 'structs':
        return Array.isArray(value) ? JSON.stringify(value.map((item) => structJson(item, (column.type as { shape: StructShape }).shape))) : null;
      case 'json':
        return JSON.stringify(value);
      default:
        return scalarText(value);
    }
  });
  return { columns: ATHENA_COLUMNS.map((column) => column.athena), values };
}

/** The record as the table keeps it: its columns' fields, structs to their DDL fields, text columns as text. */
function keptByTable(record: Json, columns: readonly TableColumn[]): Json {
  const kept: Json = {};
  const project = (value: unknown, shape: StructShape | 'map' | undefined): unknown => {
    if (shape === 'map') return structJson(value, 'map');
    if (shape === undefined) return scalarText(value);
    if (!isObject(value)) return undefined;
    const out: Json = {};
    for (const [key, inner] of Object.entries(value)) {
      const known = shape[key.toLowerCase()];
      if (!known || inner === null || inner === undefined) continue;
      const projected = project(inner, known[1]);
      if (projected !== undefined && projected !== null) out[known[0]] = projected;
    }
    return out;
  };
  for (const column of columns) {
    const value = record[column.name];
    if (value === undefined || value === null) continue;
    const type = column.type;
    if (type.kind === 'struct') kept[column.name] = project(value, type.shape);
    else if (type.kind === 'structs') kept[column.name] = Array.isArray(value) ? value.map((item) => project(item, type.shape)) : undefined;
    else if (type.kind === 'json') kept[column.name] = value;
    else if (type.kind === 'boolean')
      kept[column.name] = value === 'true' ? true : value === 'false' ? false : typeof value === 'boolean' ? value : scalarText(value);
    else kept[column.name] = scalarText(value);
  }
  return kept;
}

describe('rowToRecord: Athena rows back to CloudTrail records', () => {
  it('selects every DDL column, structs as JSON', () => {
    const list = selectList('athena');
    expect(list).toHaveLength(ATHENA_COLUMNS.length);
    expect(list).toContain('json_format(CAST(useridentity AS JSON)) AS useridentity');
    expect(list).toContain('json_format(CAST(resources AS JSON)) AS resources');
    expect(list).toContain('requestparameters');
  });

  it.each(SAMPLES.map((sample) => [sample.file.replace(/^.*?(events|cloudtrail-samples)\//, '$1/'), sample.record] as const))(
    'round trip: %s',
    (_file, record) => {
      const { columns, values } = athenaRow(record);
      expect(rowToRecord('athena', columns, values)).toEqual(keptByTable(record, ATHENA_COLUMNS));
    },
  );

  it('restores CloudTrail names the table lower-cases, and keeps map keys and booleans as CloudTrail writes them', () => {
    const record = rowToRecord(
      'athena',
      ['useridentity', 'sourceipaddress', 'requestid', 'eventid', 'readonly', 'resources', 'tlsdetails', 'errorcode'],
      [
        JSON.stringify({
          type: 'AssumedRole',
          accountid: '111122223333',
          accesskeyid: 'ASIAEXAMPLE',
          username: null,
          sessioncontext: {
            attributes: { mfaauthenticated: 'false', creationdate: '2026-01-01T00:00:00Z' },
            sessionissuer: { type: 'Role', principalid: 'AROA', username: 'deploy' },
            webidfederationdata: {
              federatedprovider: 'arn:aws:iam::111122223333:oidc-provider/x',
              attributes: { 'token.actions.githubusercontent.com:sub': 'repo:x' },
            },
          },
        }),
        '203.0.113.1',
        'req-1',
        'ev-1',
        'false',
        JSON.stringify([{ arn: 'arn:aws:s3:::b', accountid: '111122223333', type: 'AWS::S3::Bucket' }]),
        JSON.stringify({ tlsversion: 'TLSv1.3', ciphersuite: 'TLS_AES_128_GCM_SHA256', clientprovidedhostheader: 'x' }),
        null,
      ],
    );
    expect(record).toEqual({
      userIdentity: {
        type: 'AssumedRole',
        accountId: '111122223333',
        accessKeyId: 'ASIAEXAMPLE',
        sessionContext: {
          attributes: { mfaAuthenticated: 'false', creationDate: '2026-01-01T00:00:00Z' },
          sessionIssuer: { type: 'Role', principalId: 'AROA', userName: 'deploy' },
          webIdFederationData: {
            federatedProvider: 'arn:aws:iam::111122223333:oidc-provider/x',
            attributes: { 'token.actions.githubusercontent.com:sub': 'repo:x' },
          },
        },
      },
      sourceIPAddress: '203.0.113.1',
      requestID: 'req-1',
      eventID: 'ev-1',
      readOnly: false,
      resources: [{ ARN: 'arn:aws:s3:::b', accountId: '111122223333', type: 'AWS::S3::Bucket' }],
      tlsDetails: { tlsVersion: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256', clientProvidedHostHeader: 'x' },
    });
  });

  it('marks a JSON column that does not parse, and never throws on a bad row', () => {
    const record = rowToRecord(
      'athena',
      ['eventname', 'requestparameters', 'useridentity', 'unknowncolumn'],
      ['PutParameter', '{"name": ', '[not json', 'x'],
    ) as Json;
    expect(record.eventName).toBe('PutParameter');
    expect(record.requestParameters).toEqual({ [UNPARSABLE]: 'requestparameters is not JSON: {"name": ' });
    expect((record.userIdentity as Json)[UNPARSABLE]).toMatch(/^useridentity is not JSON/);
    expect(record).not.toHaveProperty('unknowncolumn');
    expect(() => rowToRecord('athena', ['eventname'], [])).not.toThrow();
  });

  it('an unparsable column is named by rowProblem (the runner reports it), and routing the record does not crash', async () => {
    // An alerting sample of the rule whose pattern tests requestParameters: breaking that column changes its routing.
    const rule = RULES.find((r) => JSON.stringify(r.pattern).includes('"requestParameters"'));
    const sample = SAMPLES.find((s) => s.file.startsWith(join(EVENTS_DIR, rule?.id ?? '?', 'alerted.')));
    expect(sample).toBeDefined();
    const { columns, values } = athenaRow(sample?.record as Json);
    const broken = values.map((value, index) => (columns[index] === 'requestparameters' ? '{"name":"/trailguard/x"' : value));
    const record = rowToRecord('athena', columns, broken);
    expect(rowProblem(record)).toBe('requestparameters is not JSON: {"name":"/trailguard/x"');
    expect(await routeEvent(RULES, sample?.record, capturingDeps())).toMatchObject([{ rule: rule?.id, outcome: 'alerted' }]);
    expect(rowProblem(rowToRecord('athena', columns, values))).toBeUndefined();
    const results = await routeEvent(RULES, record, capturingDeps());
    // The pattern no longer sees requestParameters.name: without rowProblem the event would pass as unmatched.
    expect(results.map((r) => r.outcome)).toEqual(['ignored']);
  });

  it('decides every sample the same after the round trip: no rule needs a field the table drops', async () => {
    let compared = 0;
    for (const { file, record } of SAMPLES) {
      const { columns, values } = athenaRow(record);
      const direct = await routeEvent(RULES, record, capturingDeps());
      const viaAthena = await routeEvent(RULES, rowToRecord('athena', columns, values), capturingDeps());
      const summary = (rs: typeof direct) => rs.map((r) => `${r.rule} ${r.outcome} ${r.finding ?? ''} ${r.reason}`);
      // Field types the DDL turns into text (a sanitised sample's numeric account id) are the only allowed change.
      if (JSON.stringify(keptByTable(record, ATHENA_COLUMNS)) !== JSON.stringify(record) && hasNonTextScalars(record)) continue;
      expect(summary(viaAthena), file).toEqual(summary(direct));
      compared += 1;
    }
    expect(compared).toBeGreaterThan(SAMPLES.length * 0.8);
  });

  it('the table drops only the documented top-level fields (and exporters’ own additions)', () => {
    const columns = new Set(ATHENA_COLUMNS.map((column) => column.name));
    const dropped = new Set<string>();
    for (const { record } of SAMPLES) for (const key of Object.keys(record)) if (!columns.has(key)) dropped.add(key);
    const undocumented = [...dropped].filter((key) => !ATHENA_DROPPED_FIELDS.includes(key) && !key.startsWith('p_'));
    expect(undocumented).toEqual([]);
    // No rule's pattern names a dropped field.
    for (const rule of RULES) {
      const detail = (rule.pattern as { detail?: Json }).detail ?? {};
      for (const key of Object.keys(detail)) if (key !== '$or') expect(columns.has(key), `${rule.id} needs ${key}`).toBe(true);
    }
  });
});

function hasNonTextScalars(record: Json): boolean {
  return (
    ['recipientAccountId', 'eventVersion', 'eventID'].some((key) => typeof record[key] === 'number')
    || typeof (record.userIdentity as Json | undefined)?.accountId === 'number'
  );
}

describe('rowToRecord: structs from an Athena engine-2 workgroup', () => {
  // Engine version 2 renders CAST(row AS JSON) as the row's values in an array, without their names.
  it.each([
    ['useridentity', '["Root","AIDAEXAMPLE","arn:aws:iam::111122223333:root","111122223333"]', 'useridentity is not a JSON object'],
    ['useridentity', '"Root"', 'useridentity is not a JSON object'],
    ['resources', '[["arn:aws:s3:::b","111122223333","AWS::S3::Bucket"]]', 'resources is not a JSON array of objects'],
    ['resources', '{"arn":"arn:aws:s3:::b"}', 'resources is not a JSON array of objects'],
    ['tlsdetails', '["TLSv1.2","ECDHE","s3.amazonaws.com"]', 'tlsdetails is not a JSON object'],
  ])('refuses %s = %s: rowProblem names it (the row becomes an error, not a silent pass)', (column, text, problem) => {
    const record = rowToRecord('athena', ['eventname', column], ['ConsoleLogin', text]);
    expect(rowProblem(record)).toBe(`${problem} (the backtest needs Athena engine version 3)`);
  });

  it('still reads engine-3 objects and an empty resources array', () => {
    const record = rowToRecord('athena', ['useridentity', 'resources'], ['{"type":"Root","accountid":"111122223333"}', '[]']);
    expect(record).toEqual({ userIdentity: { type: 'Root', accountId: '111122223333' }, resources: [] });
    expect(rowProblem(record)).toBeUndefined();
  });
});

describe('the columns selected from a table made from an older AWS DDL', () => {
  it('selects the later columns only when the table has them, and refuses a table without an earlier one', () => {
    const older = ATHENA_COLUMNS.map((column) => column.athena).filter((name) => !ATHENA_LATER_COLUMNS.has(name));
    expect(athenaColumnsOf(older).map((column) => column.athena)).toEqual(older);
    expect(athenaColumnsOf([...older, 'tlsdetails']).map((column) => column.athena)).toContain('tlsdetails');
    expect(athenaColumnsOf(undefined)).toBe(ATHENA_COLUMNS);
    expect(selectList('athena', older).join(', ')).not.toMatch(/tlsdetails|addendum|eventcategory/);
    expect(() => athenaColumnsOf(older.filter((name) => name !== 'requestparameters'))).toThrow(/^the table has no column requestparameters: /);
  });
});

describe('rowToRecord: Lake rows', () => {
  it('reads Lake timestamps, booleans and maps (nested values held as JSON text)', () => {
    const record = rowToRecord(
      'lake',
      ['eventTime', 'readOnly', 'managementEvent', 'requestParameters', 'resources', 'userIdentity'],
      [
        '2026-03-01 10:20:30.000',
        'true',
        'false',
        JSON.stringify({ groupId: 'sg-1', ipPermissions: '{"items":[{"fromPort":22}]}', note: '{not json', count: '3', gone: null }),
        JSON.stringify([{ accountid: '111122223333', type: 'AWS::EC2::SecurityGroup', arn: 'arn:x', arnprefix: 'arn:' }]),
        JSON.stringify({ type: 'IAMUser', sessioncontext: { sourceidentity: 'me', ec2issuedinvpc: 'vpc-1' }, identityprovider: 'x' }),
      ],
    );
    expect(record).toEqual({
      eventTime: '2026-03-01T10:20:30Z',
      readOnly: true,
      managementEvent: false,
      requestParameters: { groupId: 'sg-1', ipPermissions: { items: [{ fromPort: 22 }] }, note: '{not json', count: 3 },
      resources: [{ accountId: '111122223333', type: 'AWS::EC2::SecurityGroup', ARN: 'arn:x', ARNPrefix: 'arn:' }],
      userIdentity: { type: 'IAMUser', sessionContext: { sourceIdentity: 'me', ec2IssuedInVpc: 'vpc-1' }, identityProvider: 'x' },
    });
  });

  /** The row Lake returns: maps hold each top-level value as text (objects as JSON text), eventTime a timestamp. */
  function lakeRow(record: Json): { columns: string[]; values: (string | null)[] } {
    const values = LAKE_COLUMNS.map((column) => {
      const value = record[column.name];
      if (value === undefined || value === null) return null;
      if (column.name === 'eventTime' && typeof value === 'string') return value.replace('T', ' ').replace(/Z$/, '.000');
      if (column.type.kind === 'lake-map') {
        if (!isObject(value)) return null;
        return JSON.stringify(
          Object.fromEntries(
            Object.entries(value).map(([key, inner]) => [key, isObject(inner) || Array.isArray(inner) ? JSON.stringify(inner) : scalarText(inner)]),
          ),
        );
      }
      if (column.type.kind === 'struct') return JSON.stringify(structJson(value, column.type.shape));
      if (column.type.kind === 'structs')
        return Array.isArray(value) ? JSON.stringify(value.map((item) => structJson(item, (column.type as { shape: StructShape }).shape))) : null;
      return scalarText(value);
    });
    return { columns: LAKE_COLUMNS.map((column) => column.name), values };
  }

  it('decides every events/ sample the same through a Lake row', async () => {
    const ours = SAMPLES.filter((sample) => sample.file.startsWith(EVENTS_DIR));
    expect(ours.length).toBeGreaterThan(100);
    for (const { file, record } of ours) {
      const { columns, values } = lakeRow(record);
      const summary = (rs: Awaited<ReturnType<typeof routeEvent>>) => rs.map((r) => `${r.rule} ${r.outcome} ${r.finding ?? ''} ${r.reason}`);
      expect(summary(await routeEvent(RULES, rowToRecord('lake', columns, values), capturingDeps())), file).toEqual(
        summary(await routeEvent(RULES, record, capturingDeps())),
      );
    }
  });

  it('reads the record from eventJson when the store has it, and rebuilds it from the columns when eventJson is NULL, empty or not an object', async () => {
    const record = (SAMPLES.find((sample) => sample.file.startsWith(EVENTS_DIR)) as { record: Json }).record;
    const { columns, values } = lakeRow(record);
    // eventJson carries what the columns lose (nested objects in maps, numbers, addendum's own shape): it wins.
    const original = { ...record, addendum: { reason: 'UPDATED_DATA', updatedFields: 'x' }, requestParameters: { nested: { a: 1 } } };
    expect(lakeRowToRecord(['eventJson', ...columns], [JSON.stringify(original), ...values])).toEqual(original);
    for (const eventJson of [null, '', '[1,2]', '{not json']) {
      expect(lakeRowToRecord(['eventJson', ...columns], [eventJson, ...values]), String(eventJson)).toEqual(rowToRecord('lake', columns, values));
    }
  });

  it('selects eventJson, then every Lake column by its own name, maps and structs as JSON', () => {
    const list = selectList('lake');
    expect(list).toHaveLength(LAKE_COLUMNS.length + 1);
    expect(list[0]).toBe('eventJson');
    expect(list).toContain('json_format(CAST(requestParameters AS JSON)) AS requestParameters');
    expect(list).toContain('managementEvent');
    expect(list).toContain('eventTime');
  });
});

describe('table names and the DDL', () => {
  it('accepts plain and backquoted names only', () => {
    expect(athenaTableName('cloudtrail_logs_pp')).toBe('cloudtrail_logs_pp');
    expect(athenaTableName('sec.cloudtrail_logs_pp')).toBe('sec.cloudtrail_logs_pp');
    expect(athenaTableName('`sec-db`.`logs`')).toBe('"sec-db"."logs"');
    for (const bad of ['', 'a b', 'a.b.c', 'a;b', '`a`b`', 'a--', "a'b", '"a"']) expect(() => athenaTableName(bad), bad).toThrow(/not a table name/);
  });

  it('takes an event data store id or its ARN', () => {
    expect(lakeEventDataStoreId('EXAMPLE-f852-4e8f')).toBe('EXAMPLE-f852-4e8f');
    expect(lakeEventDataStoreId('arn:aws:cloudtrail:eu-west-1:111122223333:eventdatastore/EXAMPLE-f852')).toBe('EXAMPLE-f852');
    for (const bad of ['', 'a b', 'x;y', 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/x'])
      expect(() => lakeEventDataStoreId(bad), bad).toThrow(/not an event data store/);
  });

  it('docs/athena.md shows exactly the DDL of both layouts', () => {
    const doc = readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'athena.md'), 'utf8');
    for (const layout of ['account', 'organization', 'region'] as const) expect(doc, layout).toContain(athenaDdl(layout));
  });

  it('declares every struct field rowToRecord renames (and no Lake-only one)', () => {
    const ddl = athenaDdl('account');
    const fieldsOf = (shape: StructShape): string[] =>
      Object.entries(shape).flatMap(([lower, [, inner]]) => [lower, ...(inner && inner !== 'map' ? fieldsOf(inner) : [])]);
    for (const column of ATHENA_COLUMNS) {
      if (column.type.kind !== 'struct' && column.type.kind !== 'structs') continue;
      for (const name of fieldsOf(column.type.shape)) expect(ddl, `${column.athena}.${name}`).toMatch(new RegExp(`\\b${name}:`));
    }
    for (const lakeOnly of ['identityprovider', 'sourceidentity', 'arnprefix', 'inscopeof']) expect(ddl).not.toContain(lakeOnly);
  });

  it('declares every column rowToRecord reads, and the partitions of each layout', () => {
    const partitions = {
      account: '(`region` string, `timestamp` string)',
      organization: '(`accountid` string, `region` string, `timestamp` string)',
      region: '(`timestamp` string)',
    };
    for (const layout of ['account', 'organization', 'region'] as const) {
      const ddl = athenaDdl(layout);
      for (const column of ATHENA_COLUMNS) expect(ddl, column.athena).toMatch(new RegExp(`\\b${column.athena}[: ]`));
      expect(ddl).toContain("'projection.timestamp.format'='yyyy/MM/dd'");
      expect(ddl).toContain(`PARTITIONED BY ${partitions[layout]}`);
      // Every partition is projected, and the template names each one.
      for (const name of ['accountid', 'region'].filter((p) => partitions[layout].includes(`\`${p}\``))) {
        expect(ddl).toContain(`'projection.${name}.type'='enum'`);
        expect(ddl).toContain(`\${${name}}`);
      }
      expect(ddl).toContain('${timestamp}');
    }
  });
});
