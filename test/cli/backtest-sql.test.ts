import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileBacktestQuery, compilePattern, evaluatePredicate, type SqlDialect } from '../../cli/backtest-sql.js';
import { InputProblem } from '../../cli/usage.js';
import { RULES } from '../../functions/rules.js';
import { matchesPattern } from '../../shared/events/pattern.js';
import { toEnvelopeJson } from '../../shared/events/schema.js';
import type { AnyRule } from '../../shared/rule.js';

const EVENTS_DIR = join(import.meta.dirname, '..', '..', 'events');
// The real records beside the checkout (vitest.config.ts): used where they exist, read in place.
const REAL_SAMPLES_DIR = join(import.meta.dirname, '..', '..', '..', 'shared', 'cloudtrail-samples');
const DIALECTS: readonly SqlDialect[] = ['athena', 'lake'];

type CloudTrailRecordJson = Record<string, unknown>;
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** The bare CloudTrail records a sample file holds: an envelope's detail, a log file's Records, or the record. */
function recordsOf(value: unknown): CloudTrailRecordJson[] {
  if (isObject(value) && Array.isArray(value.Records)) return value.Records.filter(isObject);
  if (isObject(value) && isObject(value.detail)) return [value.detail];
  return isObject(value) ? [value] : [];
}

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.json'))
    .map((file) => join(dir, file));
}

const SAMPLE_FILES = [...jsonFiles(EVENTS_DIR), ...(existsSync(REAL_SAMPLES_DIR) ? jsonFiles(REAL_SAMPLES_DIR) : [])];
const SAMPLES: { file: string; record: CloudTrailRecordJson }[] = SAMPLE_FILES.flatMap((file) =>
  recordsOf(JSON.parse(readFileSync(file, 'utf8'))).map((record) => ({ file, record })),
);

const matches = (rule: AnyRule, record: CloudTrailRecordJson) => matchesPattern(rule.pattern, toEnvelopeJson(record));
const compiled = Object.fromEntries(DIALECTS.map((dialect) => [dialect, RULES.map((rule) => ({ rule, ...compilePattern(rule.pattern, dialect) }))]));

describe('compiled predicates select every record the pattern matches (never narrower)', () => {
  it('holds for every rule and every sample record, in both dialects', () => {
    let matched = 0;
    for (const { file, record } of SAMPLES) {
      for (const dialect of DIALECTS) {
        for (const { rule, predicate } of compiled[dialect] ?? []) {
          if (!matches(rule, record)) continue;
          matched += 1;
          expect(evaluatePredicate(predicate, record), `${dialect} ${rule.id} drops ${file}`).toBe(true);
        }
      }
    }
    // Not vacuous: most samples are meant to match their rule.
    expect(matched).toBeGreaterThan(SAMPLES.length);
  });

  it('where nothing is residual, the SQL selects exactly what the pattern matches (samples)', () => {
    for (const { file, record } of SAMPLES) {
      for (const { rule, predicate, residual } of compiled.athena ?? []) {
        if (residual.length > 0) continue;
        expect(evaluatePredicate(predicate, record), `athena ${rule.id} on ${file}`).toBe(matches(rule, record));
      }
    }
  });

  // Records the table can hold (strings in text columns, objects in structs; any JSON in the JSON-text columns),
  // built from the values the patterns name and their near misses.
  const ruleStrings = [
    ...new Set(
      JSON.stringify(RULES.map((rule) => rule.pattern))
        .match(/"[^"]*"/g)
        ?.map((s) => JSON.parse(s) as string) ?? [],
    ),
  ];
  const text = fc.oneof(
    fc.constantFrom(...ruleStrings),
    fc.constantFrom(...ruleStrings).map((s) => s.toUpperCase()),
    fc.constantFrom(...ruleStrings).chain((s) => fc.nat(s.length).map((n) => s.slice(0, n))),
    fc.constantFrom(...ruleStrings).map((s) => `${s}x`),
    fc.string({ maxLength: 6 }),
    fc.constantFrom('s3', 'ec2.amazonaws', 'aws.s3', 'signin', 'Root', 'AwsApiCall', 'AwsConsoleSignIn', 'AwsServiceEvent', 'Success'),
  );
  const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
  const jsonLeaf = fc.oneof(
    text,
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(text, { maxLength: 3 }),
    fc.array(fc.oneof(text, fc.dictionary(text, text, { maxKeys: 2 })), { maxLength: 2 }),
  );
  const jsonObject = fc.oneof(
    fc.record({ name: optional(jsonLeaf), names: optional(jsonLeaf), ConsoleLogin: optional(jsonLeaf) }, { requiredKeys: [] }),
    fc.array(fc.record({ name: optional(jsonLeaf), names: optional(jsonLeaf), ConsoleLogin: optional(jsonLeaf) }, { requiredKeys: [] }), { maxLength: 2 }),
    fc.constant(null),
  );
  const identity = fc.record(
    {
      type: optional(fc.oneof(text, fc.constant('Root'))),
      arn: optional(text),
      sessionContext: optional(fc.record({ sessionIssuer: fc.record({ type: optional(text) }, { requiredKeys: [] }) })),
    },
    { requiredKeys: [] },
  );
  const mutated = fc
    .tuple(
      fc.constantFrom(...SAMPLES.map((sample) => sample.record)),
      fc.record(
        {
          eventSource: text,
          eventName: text,
          eventType: fc.oneof(text, fc.constant(undefined)),
          errorCode: fc.oneof(text, fc.constant(undefined), fc.constant(null)),
          userIdentity: fc.oneof(identity, fc.constant(undefined)),
          requestParameters: jsonObject,
          responseElements: jsonObject,
        },
        { requiredKeys: [] },
      ),
    )
    .map(([base, changes]) => {
      const record: CloudTrailRecordJson = { ...base, ...changes };
      for (const [key, value] of Object.entries(changes)) if (value === undefined) delete record[key];
      return record;
    });

  it('holds for mutated records (fast-check), and is exact where nothing is residual', () => {
    fc.assert(
      fc.property(mutated, (record) => {
        for (const dialect of DIALECTS) {
          for (const { rule, predicate, residual } of compiled[dialect] ?? []) {
            const matched = matches(rule, record);
            if (matched) expect(evaluatePredicate(predicate, record), `${dialect} ${rule.id}`).toBe(true);
            if (residual.length === 0) expect(evaluatePredicate(predicate, record), `${dialect} ${rule.id} exact`).toBe(matched);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('also for made-up patterns using every operator (what cannot be pushed down is left out, never guessed)', () => {
    const patterns = [
      { detail: { eventName: [{ 'anything-but': ['A'] }], errorCode: [{ exists: true }] } },
      { source: [{ prefix: 'aws.s' }], detail: { eventName: [{ suffix: 'Bucket' }, { wildcard: 'Put*' }] } },
      { source: ['aws.s3', 'custom.thing'], 'detail-type': [{ prefix: 'AWS' }], detail: { userIdentity: { type: [{ 'equals-ignore-case': 'root' }] } } },
      {
        detail: {
          requestParameters: { name: [{ prefix: '/a_b%' }, 'x'], nested: { deeper: [{ suffix: '.json' }] } },
          errorCode: [{ exists: false }, 'AccessDenied'],
        },
      },
      {
        detail: {
          $or: [{ userIdentity: { sessionContext: { sessionIssuer: { type: ['Role'] } } } }, { responseElements: { ConsoleLogin: [{ numeric: ['>', 1] }] } }],
        },
      },
      { account: ['111122223333'], detail: { eventSource: ['s3.amazonaws.com'], additionalEventData: { 'key-with-dash': ['v'] } } },
    ];
    const records = fc.sample(mutated, 1500);
    for (const pattern of patterns) {
      for (const dialect of DIALECTS) {
        const { predicate } = compilePattern(pattern, dialect);
        for (const record of records) {
          if (matchesPattern(pattern, toEnvelopeJson(record))) expect(evaluatePredicate(predicate, record), `${dialect} ${JSON.stringify(pattern)}`).toBe(true);
        }
      }
    }
  });
});

describe('the SQL text', () => {
  const window = { since: new Date('2026-03-01T10:20:30.400Z'), until: new Date('2026-03-05T00:00:00Z') };
  const athena = compileBacktestQuery({ dialect: 'athena', table: 'security.cloudtrail_logs_pp', ...window });
  const lake = compileBacktestQuery({
    dialect: 'lake',
    table: 'arn:aws:cloudtrail:us-east-1:111122223333:eventdatastore/EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE',
    ...window,
  });
  const ruleLine = (lines: string[], rule: AnyRule) => lines.find((line) => line.startsWith(`${rule.id}: `)) ?? '';

  it.each(RULES.map((rule) => [rule.id, rule] as const))('%s: its event sources, names, error code and identity are in the WHERE clause', (_id, rule) => {
    const detail = (rule.pattern as { detail?: Record<string, unknown> }).detail ?? {};
    for (const [dialect, query] of [
      ['athena', athena],
      ['lake', lake],
    ] as const) {
      const line = ruleLine(query.pushedDown, rule);
      const column = (athenaName: string, lakeName: string) => (dialect === 'athena' ? athenaName : lakeName);
      for (const [key, athenaName, lakeName] of [
        ['eventSource', 'eventsource', 'eventSource'],
        ['eventName', 'eventname', 'eventName'],
      ] as const) {
        const matchers = detail[key] as unknown[] | undefined;
        if (!matchers) continue;
        const excluded = matchers.length === 1 ? (matchers[0] as { 'anything-but'?: unknown })['anything-but'] : undefined;
        if (Array.isArray(excluded)) {
          // Everything but a list: pushed down as NULL or none of them (broader than EventBridge, never narrower).
          const notIn = `(${column(athenaName, lakeName)} IS NULL OR ${column(athenaName, lakeName)} NOT IN (${excluded.map((v) => `'${v}'`).join(', ')}))`;
          expect(line).toContain(notIn);
          continue;
        }
        const values = matchers as string[];
        const sql =
          values.length === 1
            ? `${column(athenaName, lakeName)} = '${values[0]}'`
            : `${column(athenaName, lakeName)} IN (${values.map((v) => `'${v}'`).join(', ')})`;
        expect(line).toContain(sql);
        expect(query.sql).toContain(sql);
      }
      const errorCode = detail.errorCode as readonly unknown[] | undefined;
      const onlySuccess = errorCode?.every((m) => typeof m === 'object' && m !== null && (m as { exists?: boolean }).exists === false);
      if (errorCode && onlySuccess) expect(line).toContain(`${column('errorcode', 'errorCode')} IS NULL`);
      // A rule that takes failed calls (denied-calls-burst) names the codes: exact ones by `=`, prefixes by LIKE.
      for (const matcher of onlySuccess ? [] : (errorCode ?? [])) {
        const prefix = typeof matcher === 'object' && matcher !== null ? (matcher as { prefix?: string }).prefix : undefined;
        if (typeof matcher === 'string') expect(line).toContain(`${column('errorcode', 'errorCode')} = '${matcher}'`);
        else if (prefix) expect(line).toContain(`${column('errorcode', 'errorCode')} LIKE '${prefix}%'`);
      }
      const identity = detail.userIdentity as { type?: string[] } | undefined;
      if (identity?.type) expect(line).toContain(`${column('useridentity.type', 'userIdentity.type')} = '${identity.type[0]}'`);
    }
  });

  it('pushes the requestParameters prefix down on Athena (arrays kept for the local matcher), leaves it to the matcher on Lake', () => {
    const rule = RULES.find((r) => JSON.stringify(r.pattern).includes('"prefix":"/trailguard/"')) as AnyRule;
    expect(ruleLine(athena.pushedDown, rule)).toContain("json_extract_scalar(requestparameters, '$.name') LIKE '/trailguard/%' ESCAPE '\\'");
    expect(ruleLine(athena.pushedDown, rule)).toContain("json_array_length(json_extract(requestparameters, '$.names')) IS NOT NULL");
    expect(ruleLine(athena.residual, rule)).toContain('requestParameters.names');
    expect(ruleLine(lake.pushedDown, rule)).not.toContain('requestParameters');
    expect(ruleLine(lake.residual, rule)).toContain('requestParameters.name [{"prefix":"/trailguard/"}]');
  });

  it('bounds the window on eventTime (to the second, never narrower) and on the day partitions: from the day of since less an hour to a day after until', () => {
    // A log file is delivered after its events: its folder's day is never before theirs, only the next day near midnight.
    expect(athena.sql).toContain(`"timestamp" BETWEEN '2026/03/01' AND '2026/03/06'`);
    const nearMidnight = compileBacktestQuery({ dialect: 'athena', table: 'logs', since: new Date('2026-03-01T00:30:00Z'), until: window.until });
    expect(nearMidnight.sql).toContain(`"timestamp" BETWEEN '2026/02/28' AND '2026/03/06'`);
    expect(athena.sql).toContain(`eventtime >= '2026-03-01T10:20:30'`);
    expect(athena.sql).toContain(`eventtime < '2026-03-05T00:00:00'`);
    expect(lake.sql).toContain(`eventTime >= '2026-03-01 10:20:30'`);
    expect(lake.sql).not.toContain('"timestamp"');
    expect(lake.sql).toContain('FROM EXAMPLE-f852-4e8f-8bd1-bcf6cEXAMPLE\n');
  });

  it('filters regions and accounts on the columns and on the partitions the layout has', () => {
    const base = { dialect: 'athena', table: 'logs', ...window, regions: ['eu-west-1', 'us-east-1'], accounts: ['111122223333'] } as const;
    const single = compileBacktestQuery(base).sql;
    expect(single).toContain("region IN ('eu-west-1', 'us-east-1')");
    expect(single).toContain("awsregion IN ('eu-west-1', 'us-east-1')");
    expect(single).toContain("recipientaccountid = '111122223333'");
    expect(single).not.toMatch(/\bAND accountid =/);
    const org = compileBacktestQuery({ ...base, layout: 'organization' }).sql;
    expect(org).toMatch(/\n {2}AND accountid = '111122223333'/);
    const oneRegion = compileBacktestQuery({ ...base, layout: 'region' }).sql;
    expect(oneRegion).not.toMatch(/\bAND region IN/);
    expect(oneRegion).toContain("awsregion IN ('eu-west-1', 'us-east-1')");
    const inLake = compileBacktestQuery({ ...base, dialect: 'lake', table: 'eds-1' }).sql;
    expect(inLake).toContain("awsRegion IN ('eu-west-1', 'us-east-1')");
    expect(inLake).toContain("recipientAccountId = '111122223333'");
  });

  it('ORs the rules and ANDs the filters: one query, one statement', () => {
    expect(athena.sql.match(/\bSELECT\b/g)).toHaveLength(1);
    expect(athena.sql).not.toContain(';');
    expect(athena.pushedDown).toHaveLength(RULES.length);
    expect(athena.residual).toHaveLength(RULES.length);
    const none = compileBacktestQuery({ dialect: 'athena', table: 'logs', ...window, rules: [] });
    expect(none.sql).toMatch(/AND FALSE$/);
  });

  it('quotes literals from patterns and escapes LIKE wildcards', () => {
    const rule = {
      ...(RULES[0] as AnyRule),
      id: 'quoted',
      pattern: { detail: { eventName: ["O'Brien"], userIdentity: { arn: [{ prefix: "50%_off'\\" }] } } },
    } as unknown as AnyRule;
    const { sql } = compileBacktestQuery({ dialect: 'athena', table: 'logs', ...window, rules: [rule] });
    expect(sql).toContain("eventname = 'O''Brien'");
    expect(sql).toContain("useridentity.arn LIKE '50\\%\\_off''\\\\%' ESCAPE '\\'");
  });

  it('refuses table names, event data stores, regions, accounts and windows that are not what they claim', () => {
    const bad: [Partial<Parameters<typeof compileBacktestQuery>[0]>, RegExp][] = [
      [{ table: 'logs; DROP TABLE x' }, /not a table name/],
      [{ table: 'a.b.c' }, /not a table name/],
      [{ table: '"logs"' }, /not a table name/],
      [{ dialect: 'lake', table: 'eds id' }, /not an event data store/],
      [{ dialect: 'lake', table: 'arn:aws:cloudtrail:us-east-1:1:eventdatastore/x' }, /not an event data store/],
      [{ regions: ["eu-west-1' OR 1=1 --"] }, /not a region/],
      [{ accounts: ['12345'] }, /not an account id/],
      [{ until: window.since }, /window is empty/],
      [{ since: new Date('nope') }, /valid --since/],
    ];
    for (const [override, message] of bad) {
      expect(() => compileBacktestQuery({ dialect: 'athena', table: 'logs', ...window, ...override }), JSON.stringify(override)).toThrow(InputProblem);
      expect(() => compileBacktestQuery({ dialect: 'athena', table: 'logs', ...window, ...override })).toThrow(message);
    }
    expect(compileBacktestQuery({ dialect: 'athena', table: '`my-db`.`cloudtrail_logs`', ...window }).sql).toContain('FROM "my-db"."cloudtrail_logs"\n');
  });
});
