/**
 * Compiles the rules' EventBridge patterns into one SQL query over CloudTrail in Athena (the standard table,
 * cli/cloudtrail-table.ts) or CloudTrail Lake, so only candidate events leave the engine; the same rules then
 * decide them locally (routeEvent → matchesPattern). The SQL may be broader than a pattern, never narrower: what
 * cannot be expressed with certainty is left out (TRUE) and reported as residual for the local matcher.
 * docs/athena.md says why each pushdown is safe.
 */

import { CLOUDTRAIL_DETAIL_TYPES } from '../shared/events/schema.js';
import type { AnyRule } from '../shared/rule.js';
import { RULES } from '../functions/rules.js';
import {
  ATHENA_COLUMNS,
  LAKE_RESOURCE,
  LAKE_USER_IDENTITY,
  type StructShape,
  type TableColumn,
  type TableLayout,
  athenaTableName,
  lakeEventDataStoreId,
} from './cloudtrail-table.js';
import { terminalValue } from '../shared/safe-text.js';
import { InputProblem } from './usage.js';

export type SqlDialect = 'athena' | 'lake';

export interface BacktestQueryOptions {
  readonly dialect: SqlDialect;
  /** Athena: `table` or `database.table` (validated); Lake: the event data store id or ARN. */
  readonly table: string;
  readonly since: Date;
  readonly until: Date;
  readonly regions?: readonly string[];
  readonly accounts?: readonly string[];
  readonly rules?: readonly AnyRule[];
  /** Athena only: which partitions the table has (cli/cloudtrail-table.ts); `account` (region and day) by default. */
  readonly layout?: TableLayout;
  /**
   * Athena only: the table's columns (GetTableMetadata), lower case. The query selects the ones it knows of these;
   * undefined selects every column of the newest AWS DDL (`--print-sql`, which calls nothing).
   */
  readonly tableColumns?: readonly string[];
}

/** A record field the SQL can test: its path in the CloudTrail record and its expression in each dialect. */
export interface Field {
  readonly path: readonly string[];
  readonly athena: string;
  readonly lake: string;
}

/** A JSON-text column (Athena) whose nested values a pattern tests. */
export type JsonColumn = 'requestParameters' | 'responseElements' | 'additionalEventData';

export type JsonTest = { readonly op: 'eq' | 'starts' | 'ends'; readonly text: string };

/** The predicate tree a pattern compiles to: rendered as SQL, and evaluated over records by the tests. */
export type Predicate =
  | { readonly op: 'true' }
  | { readonly op: 'false' }
  | { readonly op: 'and' | 'or'; readonly items: readonly Predicate[] }
  | { readonly op: 'in'; readonly field: Field; readonly values: readonly string[] }
  /** NULL, or none of the values: the `detail-type` of an unknown or missing eventType. */
  | { readonly op: 'null-or-not-in'; readonly field: Field; readonly values: readonly string[] }
  | { readonly op: 'null'; readonly field: Field }
  | { readonly op: 'starts' | 'ends'; readonly field: Field; readonly text: string }
  /**
   * The JSON value at `path` is a scalar passing one of the tests, or an array (EventBridge then tests each
   * element: left to the local matcher), or some container on the way is an array (likewise).
   */
  | { readonly op: 'json'; readonly column: JsonColumn; readonly path: readonly string[]; readonly tests: readonly JsonTest[] };

const TRUE: Predicate = { op: 'true' };
const FALSE: Predicate = { op: 'false' };

const lower = (name: string) => name.toLowerCase();
const scalar = (...path: string[]): Field => ({ path, athena: path.map(lower).join('.'), lake: path.join('.') });

/** The text columns (and struct fields) a pattern leaf may be pushed down to, by record path. */
const DETAIL_FIELDS: Readonly<Record<string, Field>> = Object.fromEntries(
  [
    ['eventSource'],
    ['eventName'],
    ['eventType'],
    ['errorCode'],
    ['errorMessage'],
    ['awsRegion'],
    ['recipientAccountId'],
    ['eventID'],
    ['sourceIPAddress'],
    ['userAgent'],
    ['eventVersion'],
    ['userIdentity', 'type'],
    ['userIdentity', 'arn'],
    ['userIdentity', 'accountId'],
    ['userIdentity', 'principalId'],
    ['userIdentity', 'invokedBy'],
    ['userIdentity', 'userName'],
    ['userIdentity', 'accessKeyId'],
    ['userIdentity', 'sessionContext', 'sessionIssuer', 'type'],
    ['userIdentity', 'sessionContext', 'sessionIssuer', 'arn'],
    ['userIdentity', 'sessionContext', 'sessionIssuer', 'userName'],
    ['userIdentity', 'sessionContext', 'sessionIssuer', 'accountId'],
    ['userIdentity', 'sessionContext', 'sessionIssuer', 'principalId'],
  ].map((path) => [path.join('.'), scalar(...path)]),
);
const STRUCT_PREFIXES = new Set(['userIdentity', 'userIdentity.sessionContext', 'userIdentity.sessionContext.sessionIssuer']);
const JSON_COLUMNS = new Set<string>(['requestParameters', 'responseElements', 'additionalEventData']);
const EVENT_SOURCE = DETAIL_FIELDS.eventSource as Field;
const EVENT_TYPE = DETAIL_FIELDS.eventType as Field;
/** A JSON key the path syntax `$.key` takes without quoting. */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

const isPlainObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** Compiles one rule's pattern; `notes` collects what is left to the local matcher. */
class PatternCompiler {
  readonly residual: string[] = [];
  constructor(private readonly dialect: SqlDialect) {}

  envelope(pattern: Record<string, unknown>): Predicate {
    const parts: Predicate[] = [];
    for (const [key, value] of Object.entries(pattern)) {
      if (key === '$or' && Array.isArray(value)) parts.push(or(value.map((alt) => (isPlainObject(alt) ? this.envelope(alt) : TRUE))));
      else if (key === 'detail' && isPlainObject(value)) parts.push(this.detail(value, []));
      else if (key === 'source' && Array.isArray(value)) parts.push(or(value.map((m) => this.source(m))));
      else if (key === 'detail-type' && Array.isArray(value)) parts.push(or(value.map((m) => this.detailType(m))));
      else {
        this.residual.push(`${key} ${describe(value)}`);
        parts.push(TRUE);
      }
    }
    return and(parts);
  }

  /** `source` is `aws.` + eventSource up to its first dot (wrapRecord): a test on eventSource. */
  private source(matcher: unknown): Predicate {
    if (typeof matcher === 'string') {
      if (!matcher.startsWith('aws.')) return FALSE;
      const service = matcher.slice(4);
      if (service.includes('.')) return FALSE;
      return or([
        { op: 'in', field: EVENT_SOURCE, values: [service] },
        { op: 'starts', field: EVENT_SOURCE, text: `${service}.` },
      ]);
    }
    if (isPlainObject(matcher) && typeof matcher.prefix === 'string' && Object.keys(matcher).length === 1) {
      const prefix = matcher.prefix;
      if ('aws.'.startsWith(prefix)) return TRUE;
      if (!prefix.startsWith('aws.')) return FALSE;
      const rest = prefix.slice(4);
      return rest.includes('.') ? FALSE : { op: 'starts', field: EVENT_SOURCE, text: rest };
    }
    this.residual.push(`source ${describe(matcher)}`);
    return TRUE;
  }

  /** `detail-type` comes from eventType; an unknown or missing eventType reads as an API call (wrapRecord). */
  private detailType(matcher: unknown): Predicate {
    if (typeof matcher !== 'string') {
      this.residual.push(`detail-type ${describe(matcher)}`);
      return TRUE;
    }
    const types = Object.entries(CLOUDTRAIL_DETAIL_TYPES);
    const named = types.filter(([, detailType]) => detailType === matcher).map(([eventType]) => eventType);
    const parts: Predicate[] = named.length > 0 ? [{ op: 'in', field: EVENT_TYPE, values: named }] : [];
    if (matcher === CLOUDTRAIL_DETAIL_TYPES.AwsApiCall) parts.push({ op: 'null-or-not-in', field: EVENT_TYPE, values: types.map(([eventType]) => eventType) });
    return or(parts);
  }

  private detail(pattern: Record<string, unknown>, path: readonly string[]): Predicate {
    const parts: Predicate[] = [];
    for (const [key, value] of Object.entries(pattern)) {
      if (key === '$or' && Array.isArray(value)) {
        parts.push(or(value.map((alt) => (isPlainObject(alt) ? this.detail(alt, path) : TRUE))));
        continue;
      }
      const fieldPath = [...path, key];
      const name = fieldPath.join('.');
      const field = DETAIL_FIELDS[name];
      if (field && Array.isArray(value)) parts.push(this.leaf(field, value, name));
      else if (STRUCT_PREFIXES.has(name) && isPlainObject(value)) parts.push(this.detail(value, fieldPath));
      else if (path.length === 0 && JSON_COLUMNS.has(key) && isPlainObject(value)) parts.push(this.json(key as JsonColumn, [], value));
      else {
        this.residual.push(`${name} ${describe(value)}`);
        parts.push(TRUE);
      }
    }
    return and(parts);
  }

  /** A text column: exact strings, string prefix/suffix and `exists: false` push down; anything else stays local. */
  private leaf(field: Field, matchers: readonly unknown[], name: string): Predicate {
    const values: string[] = [];
    const parts: Predicate[] = [];
    for (const matcher of matchers) {
      if (typeof matcher === 'string') values.push(matcher);
      else if (isPlainObject(matcher) && Object.keys(matcher).length === 1 && typeof matcher.prefix === 'string')
        parts.push({ op: 'starts', field, text: matcher.prefix });
      else if (isPlainObject(matcher) && Object.keys(matcher).length === 1 && typeof matcher.suffix === 'string')
        parts.push({ op: 'ends', field, text: matcher.suffix });
      // `anything-but` a value or a list of strings: none of them. EventBridge also needs the field present; the SQL
      // keeps NULLs too (broader, never narrower), and the local matcher drops them.
      else if (isPlainObject(matcher) && Object.keys(matcher).length === 1 && anythingButStrings(matcher['anything-but']))
        parts.push({ op: 'null-or-not-in', field, values: [matcher['anything-but']].flat() as string[] });
      // EventBridge's `exists: false` is "absent", which the table stores as NULL (NULL also holds a JSON null: broader).
      else if (isPlainObject(matcher) && Object.keys(matcher).length === 1 && matcher.exists === false) {
        parts.push({ op: 'null', field });
        this.residual.push(`${name} ${describe(matcher)} when it is a JSON null (the SQL keeps those)`);
      } else {
        // `exists: true` included: the table cannot tell a JSON null (present to EventBridge) from an absent field.
        this.residual.push(`${name} ${describe(matcher)}`);
        return TRUE;
      }
    }
    if (values.length > 0) parts.unshift({ op: 'in', field, values });
    return or(parts);
  }

  /** Nested values of a JSON-text column: Athena only (Lake keeps them in maps whose nested form is not certain). */
  private json(column: JsonColumn, path: readonly string[], pattern: Record<string, unknown>): Predicate {
    const parts: Predicate[] = [];
    for (const [key, value] of Object.entries(pattern)) {
      if (key === '$or' && Array.isArray(value)) {
        parts.push(or(value.map((alt) => (isPlainObject(alt) ? this.json(column, path, alt) : TRUE))));
        continue;
      }
      const name = [column, ...path, key].join('.');
      const tests = Array.isArray(value) ? jsonTests(value) : undefined;
      if (this.dialect === 'athena' && PLAIN_KEY.test(key) && isPlainObject(value)) parts.push(this.json(column, [...path, key], value));
      else if (this.dialect === 'athena' && PLAIN_KEY.test(key) && tests) {
        parts.push({ op: 'json', column, path: [...path, key], tests });
        this.residual.push(`${name} ${describe(value)} when it is an array (the SQL keeps those)`);
      } else {
        this.residual.push(`${name} ${describe(value)}`);
        parts.push(TRUE);
      }
    }
    return and(parts);
  }
}

/** An `anything-but` operand the SQL can say: one string, or a non-empty list of strings. */
const anythingButStrings = (operand: unknown): operand is string | string[] =>
  typeof operand === 'string' || (Array.isArray(operand) && operand.length > 0 && operand.every((value) => typeof value === 'string'));

/** Exact strings and string prefix/suffix; undefined when any matcher is something else (the leaf then stays local). */
function jsonTests(matchers: readonly unknown[]): JsonTest[] | undefined {
  const tests: JsonTest[] = [];
  for (const matcher of matchers) {
    if (typeof matcher === 'string') tests.push({ op: 'eq', text: matcher });
    else if (isPlainObject(matcher) && Object.keys(matcher).length === 1 && typeof matcher.prefix === 'string')
      tests.push({ op: 'starts', text: matcher.prefix });
    else if (isPlainObject(matcher) && Object.keys(matcher).length === 1 && typeof matcher.suffix === 'string')
      tests.push({ op: 'ends', text: matcher.suffix });
    else return undefined;
  }
  return tests.length > 0 ? tests : undefined;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

function and(items: readonly Predicate[]): Predicate {
  let kept: Predicate[] = [];
  for (const item of items) {
    if (item.op === 'false') return FALSE;
    if (item.op === 'true') continue;
    if (item.op === 'and') kept.push(...item.items);
    else kept.push(item);
  }
  // `eventsource IN (…)` beside another test on eventsource alone (`source`'s): keep the listed values that pass
  // it and drop the test. The same rows, in a shorter query.
  for (const list of kept.filter((item): item is Extract<Predicate, { op: 'in' }> => item.op === 'in')) {
    if (!kept.includes(list)) continue;
    const others = kept.filter((item) => item !== list && onlyOn(item, list.field));
    if (others.length === 0) continue;
    const values = list.values.filter((value) => others.every((item) => evaluateOn(item, value)));
    if (values.length === 0) return FALSE;
    kept = kept.filter((item) => !others.includes(item)).map((item) => (item === list ? { ...list, values } : item));
  }
  if (kept.length === 0) return TRUE;
  return kept.length === 1 ? (kept[0] as Predicate) : { op: 'and', items: kept };
}

function or(items: readonly Predicate[]): Predicate {
  const kept: Predicate[] = [];
  for (const item of items) {
    if (item.op === 'true') return TRUE;
    if (item.op === 'false') continue;
    if (item.op === 'or') kept.push(...item.items);
    else kept.push(item);
  }
  // Lists on one field merge: `a IN (x) OR a IN (y)` is `a IN (x, y)`, and `a IN (x) OR a IS NULL OR a NOT IN (x, y)`
  // is `a IS NULL OR a NOT IN (y)`.
  const merged: Predicate[] = [];
  for (const item of kept) {
    const same = merged.findIndex(
      (other) =>
        (other.op === 'in' || other.op === 'null-or-not-in') && (item.op === 'in' || item.op === 'null-or-not-in') && sameField(other.field, item.field),
    );
    const other = merged[same];
    if (!other || (other.op !== 'in' && other.op !== 'null-or-not-in') || (item.op !== 'in' && item.op !== 'null-or-not-in')) {
      merged.push(item);
      continue;
    }
    if (other.op === 'in' && item.op === 'in') merged[same] = { ...other, values: [...new Set([...other.values, ...item.values])] };
    else {
      const excluded = other.op === 'null-or-not-in' ? other : (item as Extract<Predicate, { op: 'null-or-not-in' }>);
      const listed = other.op === 'in' ? other : item;
      const values = excluded.values.filter((value) => !(listed.op === 'in' ? listed.values : []).includes(value));
      merged[same] =
        listed.op === 'null-or-not-in' ? { ...excluded, values: excluded.values.filter((value) => listed.values.includes(value)) } : { ...excluded, values };
    }
  }
  if (merged.length === 0) return FALSE;
  if (merged.some((item) => item.op === 'null-or-not-in' && item.values.length === 0)) return TRUE;
  return merged.length === 1 ? (merged[0] as Predicate) : { op: 'or', items: merged };
}

const sameField = (a: Field, b: Field) => a.path.join('.') === b.path.join('.');

/** True when every leaf of the predicate tests this one text field. */
function onlyOn(predicate: Predicate, field: Field): boolean {
  switch (predicate.op) {
    case 'and':
    case 'or':
      return predicate.items.every((item) => onlyOn(item, field));
    case 'in':
    case 'null-or-not-in':
    case 'null':
    case 'starts':
    case 'ends':
      return sameField(predicate.field, field);
    default:
      return false;
  }
}

/** A predicate made only of tests on one field (onlyOn), for that field's value. */
function evaluateOn(predicate: Predicate, value: string): boolean {
  switch (predicate.op) {
    case 'and':
      return predicate.items.every((item) => evaluateOn(item, value));
    case 'or':
      return predicate.items.some((item) => evaluateOn(item, value));
    case 'in':
      return predicate.values.includes(value);
    case 'null-or-not-in':
      return !predicate.values.includes(value);
    case 'null':
      return false;
    case 'starts':
      return value.startsWith(predicate.text);
    case 'ends':
      return value.endsWith(predicate.text);
    default:
      return true;
  }
}

/** One rule's pattern as a predicate, and what of it is left to the local matcher. */
export function compilePattern(pattern: unknown, dialect: SqlDialect): { predicate: Predicate; residual: string[] } {
  const compiler = new PatternCompiler(dialect);
  const predicate = isPlainObject(pattern) ? compiler.envelope(pattern) : TRUE;
  return { predicate, residual: compiler.residual };
}

// ---- evaluation (what the SQL selects, over the record the table holds; the tests' model of the engine)

function fieldValue(record: Record<string, unknown>, path: readonly string[]): string | null {
  let current: unknown = record;
  for (const key of path) {
    if (!isPlainObject(current)) return null;
    current = current[key];
  }
  // A STRING column holds scalars as their text; a JSON null or absent field is NULL.
  if (typeof current === 'string') return current;
  if (typeof current === 'number' || typeof current === 'boolean') return String(current);
  return null;
}

function jsonMatches(value: unknown, path: readonly string[], tests: readonly JsonTest[]): boolean {
  let current = value;
  for (const key of path) {
    if (Array.isArray(current)) return true;
    if (!isPlainObject(current)) return false;
    current = current[key];
  }
  if (Array.isArray(current)) return true;
  const text = typeof current === 'string' ? current : typeof current === 'number' || typeof current === 'boolean' ? String(current) : null;
  if (text === null) return false;
  return tests.some((test) => (test.op === 'eq' ? text === test.text : test.op === 'starts' ? text.startsWith(test.text) : text.endsWith(test.text)));
}

/** True when the SQL of the predicate would select a row holding this CloudTrail record. */
export function evaluatePredicate(predicate: Predicate, record: Record<string, unknown>): boolean {
  switch (predicate.op) {
    case 'true':
      return true;
    case 'false':
      return false;
    case 'and':
      return predicate.items.every((item) => evaluatePredicate(item, record));
    case 'or':
      return predicate.items.some((item) => evaluatePredicate(item, record));
    case 'in': {
      const value = fieldValue(record, predicate.field.path);
      return value !== null && predicate.values.includes(value);
    }
    case 'null-or-not-in': {
      const value = fieldValue(record, predicate.field.path);
      return value === null || !predicate.values.includes(value);
    }
    case 'null':
      return fieldValue(record, predicate.field.path) === null;
    case 'starts':
    case 'ends': {
      const value = fieldValue(record, predicate.field.path);
      return value !== null && (predicate.op === 'starts' ? value.startsWith(predicate.text) : value.endsWith(predicate.text));
    }
    case 'json':
      return jsonMatches(record[predicate.column], predicate.path, predicate.tests);
  }
}

// ---- SQL text

/** A SQL string literal: single quotes doubled. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A LIKE pattern matching `text` literally, for `ESCAPE '\'`. */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}

const like = (expression: string, pattern: string) => `${expression} LIKE ${sqlString(pattern)} ESCAPE '\\'`;
const inList = (expression: string, values: readonly string[]) =>
  values.length === 1 ? `${expression} = ${sqlString(values[0] as string)}` : `${expression} IN (${values.map(sqlString).join(', ')})`;

const jsonPath = (path: readonly string[]) => (path.length === 0 ? '$' : `$.${path.join('.')}`);

export function renderPredicate(predicate: Predicate, dialect: SqlDialect): string {
  switch (predicate.op) {
    case 'true':
      return 'TRUE';
    case 'false':
      return 'FALSE';
    case 'and':
    case 'or':
      return `(${predicate.items.map((item) => renderPredicate(item, dialect)).join(predicate.op === 'and' ? ' AND ' : ' OR ')})`;
    case 'in':
      return inList(predicate.field[dialect], predicate.values);
    case 'null-or-not-in': {
      const column = predicate.field[dialect];
      return `(${column} IS NULL OR ${column} NOT IN (${predicate.values.map(sqlString).join(', ')}))`;
    }
    case 'null':
      return `${predicate.field[dialect]} IS NULL`;
    case 'starts':
      return like(predicate.field[dialect], `${likeLiteral(predicate.text)}%`);
    case 'ends':
      return like(predicate.field[dialect], `%${likeLiteral(predicate.text)}`);
    case 'json': {
      // Athena only (the compiler leaves JSON leaves out for Lake).
      const column = predicate.column.toLowerCase();
      const value = `json_extract_scalar(${column}, ${sqlString(jsonPath(predicate.path))})`;
      const tests = predicate.tests.map((test) =>
        test.op === 'eq'
          ? `${value} = ${sqlString(test.text)}`
          : like(value, test.op === 'starts' ? `${likeLiteral(test.text)}%` : `%${likeLiteral(test.text)}`),
      );
      // EventBridge matches an array element by element and looks into arrays of objects: keep every row with an
      // array on the way (json_array_length is NULL for anything else) and let the local matcher decide.
      const arrays = [...Array(predicate.path.length + 1).keys()].map((depth) =>
        depth === 0
          ? `json_array_length(${column}) IS NOT NULL`
          : `json_array_length(json_extract(${column}, ${sqlString(jsonPath(predicate.path.slice(0, depth)))})) IS NOT NULL`,
      );
      return `(${[...tests, ...arrays].join(' OR ')})`;
    }
  }
}

// ---- the query

/** A Region name: us-east-1, ap-southeast-2, us-gov-west-1, eusc-de-east-1 (one check for every option that takes one). */
export const REGION_NAME = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;
const ACCOUNT = /^\d{12}$/;

function checkedList(values: readonly string[] | undefined, pattern: RegExp, what: string): string[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  for (const value of values) if (!pattern.test(value)) throw new InputProblem(`"${terminalValue(value)}" is not ${what}`);
  return [...new Set(values)];
}

/** `YYYY-MM-DDTHH:MM:SS` (Athena, against eventTime's ISO text) or `YYYY-MM-DD HH:MM:SS` (Lake's timestamp). */
function secondText(date: Date, dialect: SqlDialect): string {
  const iso = date.toISOString().slice(0, 19);
  return dialect === 'lake' ? iso.replace('T', ' ') : iso;
}

const ceilSecond = (date: Date) => new Date(Math.ceil(date.getTime() / 1000) * 1000);
const floorSecond = (date: Date) => new Date(Math.floor(date.getTime() / 1000) * 1000);
const DAY_MS = 86_400_000;
const CLOCK_SKEW_MS = 3_600_000;
const dayFolder = (date: Date) => date.toISOString().slice(0, 10).replaceAll('-', '/');

/**
 * Columns later AWS DDLs added: a table made from an older DDL lacks them, and a SELECT naming one fails
 * (COLUMN_NOT_FOUND), so they are selected only when the table has them. No rule's pattern reads them; every
 * other column was in the first AWS DDL, and a table without one of those is refused by name.
 */
export const ATHENA_LATER_COLUMNS: ReadonlySet<string> = new Set([
  'vpcendpointaccountid',
  'eventcategory',
  'addendum',
  'sessioncredentialfromconsole',
  'edgedevicedetails',
  'tlsdetails',
]);

/** The Athena columns to select from a table with these columns (lower case); undefined: all of the newest DDL. */
export function athenaColumnsOf(tableColumns: readonly string[] | undefined): readonly TableColumn[] {
  if (tableColumns === undefined) return ATHENA_COLUMNS;
  const present = new Set(tableColumns.map((name) => name.toLowerCase()));
  const missing = ATHENA_COLUMNS.filter((column) => !present.has(column.athena) && !ATHENA_LATER_COLUMNS.has(column.athena));
  if (missing.length > 0) {
    throw new InputProblem(
      `the table has no column ${missing.map((column) => column.athena).join(', ')}: the backtest needs every column of the AWS CloudTrail DDL but ${[...ATHENA_LATER_COLUMNS].join(', ')} (docs/athena.md)`,
    );
  }
  return ATHENA_COLUMNS.filter((column) => present.has(column.athena));
}

/** The columns a backtest selects, as `expression AS name` (structs and maps as JSON text); Athena: of `tableColumns` (athenaColumnsOf). */
export function selectList(dialect: SqlDialect, tableColumns?: readonly string[]): string[] {
  if (dialect === 'athena') {
    return athenaColumnsOf(tableColumns).map((column) =>
      column.type.kind === 'struct' || column.type.kind === 'structs' ? `json_format(CAST(${column.athena} AS JSON)) AS ${column.athena}` : column.athena,
    );
  }
  return [
    // The record as CloudTrail wrote it: read first; the columns rebuild it where the store has no eventJson.
    LAKE_EVENT_JSON,
    ...LAKE_COLUMNS.map((column) =>
      column.type.kind === 'text' || column.type.kind === 'boolean' ? column.name : `json_format(CAST(${column.name} AS JSON)) AS ${column.name}`,
    ),
  ];
}

/** Lake's column holding the original record as JSON text ("Supported SQL schemas for event data stores"). */
export const LAKE_EVENT_JSON = 'eventJson';

/** The Lake event data store's columns: the Athena ones, but maps for the JSON objects, and managementEvent. */
export const LAKE_COLUMNS: readonly TableColumn[] = [
  ...ATHENA_COLUMNS.filter((column) => column.name !== 'vpcEndpointAccountId' && column.name !== 'edgeDeviceDetails').map((column): TableColumn => {
    if (column.type.kind === 'json') return { ...column, type: { kind: 'lake-map' } };
    if (column.name === 'userIdentity') return { ...column, type: { kind: 'struct', shape: LAKE_USER_IDENTITY } };
    return column.name === 'resources' ? { ...column, type: { kind: 'structs', shape: LAKE_RESOURCE } } : column;
  }),
  { athena: 'managementevent', name: 'managementEvent', type: { kind: 'boolean' } },
];

/**
 * One query for every rule: the window (and its partitions), the regions and accounts, AND the OR of the rules'
 * predicates. `pushedDown` and `residual` say, per rule, what the SQL filters and what the local matcher decides.
 */
export function compileBacktestQuery(o: BacktestQueryOptions): { sql: string; pushedDown: string[]; residual: string[] } {
  const dialect = o.dialect;
  if (!(o.since instanceof Date) || Number.isNaN(o.since.getTime()) || !(o.until instanceof Date) || Number.isNaN(o.until.getTime())) {
    throw new InputProblem('the backtest window needs a valid --since and --until');
  }
  if (o.until.getTime() <= o.since.getTime()) throw new InputProblem('the backtest window is empty: --until must be after --since');
  const from = dialect === 'athena' ? athenaTableName(o.table) : lakeEventDataStoreId(o.table);
  const regions = checkedList(o.regions, REGION_NAME, 'a region name (like eu-west-1)');
  const accounts = checkedList(o.accounts, ACCOUNT, 'an account id (12 digits)');
  const layout = o.layout ?? 'account';

  const pushedDown: string[] = [];
  const residual: string[] = [];
  const predicates: Predicate[] = [];
  for (const rule of o.rules ?? RULES) {
    const compiled = compilePattern(rule.pattern, dialect);
    predicates.push(compiled.predicate);
    pushedDown.push(
      `${rule.id}: ${compiled.predicate.op === 'true' ? 'nothing (every event in the window is a candidate)' : renderPredicate(compiled.predicate, dialect)}`,
    );
    residual.push(`${rule.id}: ${compiled.residual.length > 0 ? compiled.residual.join('; ') : 'none (the SQL is the pattern)'}`);
  }

  const time = dialect === 'athena' ? 'eventtime' : 'eventTime';
  const where: string[] = [];
  if (dialect === 'athena') {
    // A log file lands in the folder of the day it was delivered, minutes after its events: never a day before an
    // event's, but an event near midnight may sit in the next day's folder (hence a day after `until`). The start
    // keeps an hour for the clocks of the services that stamp eventTime.
    const first = dayFolder(new Date(o.since.getTime() - CLOCK_SKEW_MS));
    const last = dayFolder(new Date(o.until.getTime() + DAY_MS));
    where.push(`"timestamp" BETWEEN ${sqlString(first)} AND ${sqlString(last)}`);
    if (regions && layout !== 'region') where.push(inList('region', regions));
    if (accounts && layout === 'organization') where.push(inList('accountid', accounts));
  }
  where.push(`${time} >= ${sqlString(secondText(floorSecond(o.since), dialect))}`);
  where.push(`${time} < ${sqlString(secondText(ceilSecond(o.until), dialect))}`);
  if (regions) where.push(inList(dialect === 'athena' ? 'awsregion' : 'awsRegion', regions));
  if (accounts) where.push(inList(dialect === 'athena' ? 'recipientaccountid' : 'recipientAccountId', accounts));
  where.push(renderPredicate(or(predicates), dialect));

  const sql = `SELECT ${selectList(dialect, dialect === 'athena' ? o.tableColumns : undefined).join(', ')}\nFROM ${from}\nWHERE ${where.join('\n  AND ')}`;
  return { sql, pushedDown, residual };
}

// ---- rows back to records

/**
 * Set where a JSON-text column did not parse (`{ [UNPARSABLE]: "requestparameters is not JSON: …" }`): a rule
 * reading the field fails to parse it; the runner reports rowProblem's text for the event as an invalid event.
 */
export const UNPARSABLE = 'trailguard:unparsable';

/** What rowToRecord could not read in a row (columns that were not JSON), or undefined when it read everything. */
export function rowProblem(record: unknown): string | undefined {
  if (!isPlainObject(record)) return 'the row is not a record';
  const problems = Object.values(record)
    .filter((value): value is Record<string, unknown> => isPlainObject(value) && typeof value[UNPARSABLE] === 'string')
    .map((value) => value[UNPARSABLE] as string);
  return problems.length > 0 ? problems.join('; ') : undefined;
}

function renamed(value: unknown, shape: StructShape | 'map' | undefined): unknown {
  if (Array.isArray(value)) return value.map((item) => renamed(item, shape));
  if (!isPlainObject(value) || shape === undefined) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    // A NULL struct field is a field the record did not have.
    if (inner === null) continue;
    if (shape === 'map') {
      out[key] = inner;
      continue;
    }
    const known = shape[key.toLowerCase()];
    out[known ? known[0] : key] = renamed(inner, known?.[1]);
  }
  return out;
}

function parsedJson(text: string, column: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { [UNPARSABLE]: `${column} is not JSON: ${text.length > 60 ? `${text.slice(0, 57)}...` : text}` };
  }
}

/**
 * A Lake map<string,string> keeps each top-level value as text, so the record's types are lost: a value that is
 * JSON other than a string (an object, an array, a number, true, false) is read back as that JSON, anything else
 * stays text. Rules read `pendingWindowInDays: 7` and `egress: false`, which this restores; the price is a string
 * that looks like a number (a bucket named `12345`) coming back as one: the rule reading it then reports the
 * event as unreadable, visibly. docs/athena.md#cloudtrail-lake.
 */
const JSON_NOT_STRING = /^\s*(?:[[{]|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?\s*$|true\s*$|false\s*$)/;

function lakeMap(value: unknown): unknown {
  if (!isPlainObject(value) || UNPARSABLE in value) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner === null) continue;
    if (typeof inner === 'string' && JSON_NOT_STRING.test(inner)) {
      try {
        out[key] = JSON.parse(inner);
        continue;
      } catch {
        // Text that only looks like JSON stays text.
      }
    }
    out[key] = inner;
  }
  return out;
}

const LAKE_TIME = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)?$/;

/** One result row (every value text, NULL as null) → the CloudTrail record, in a log file's camelCase shape. */
export function rowToRecord(dialect: SqlDialect, columns: readonly string[], values: readonly (string | null)[]): unknown {
  const known = new Map<string, TableColumn>((dialect === 'athena' ? ATHENA_COLUMNS : LAKE_COLUMNS).map((column) => [column.athena, column]));
  const record: Record<string, unknown> = {};
  columns.forEach((name, index) => {
    const column = known.get(name.toLowerCase());
    const text = values[index];
    if (!column || text === null || text === undefined) return;
    switch (column.type.kind) {
      case 'text':
        if (dialect === 'lake' && column.name === 'eventTime') {
          // Lake gives its timestamp as `2026-01-02 03:04:05.000`; CloudTrail writes `2026-01-02T03:04:05Z`.
          const time = LAKE_TIME.exec(text);
          record[column.name] = time ? `${time[1]}T${time[2]}Z` : text;
        } else {
          record[column.name] = text;
        }
        return;
      case 'boolean':
        record[column.name] = text === 'true' ? true : text === 'false' ? false : text;
        return;
      case 'json':
        record[column.name] = parsedJson(text, name);
        return;
      case 'lake-map':
        record[column.name] = lakeMap(parsedJson(text, name));
        return;
      case 'struct':
      case 'structs': {
        const parsed = parsedJson(text, name);
        if (isPlainObject(parsed) && UNPARSABLE in parsed) record[column.name] = parsed;
        else if (column.type.kind === 'struct' ? isPlainObject(parsed) : Array.isArray(parsed) && parsed.every(isPlainObject))
          record[column.name] = renamed(parsed, column.type.shape);
        // Athena engine version 2 renders CAST(row AS JSON) as an array of the values, without their names: read
        // as a record it would lose the identity and resources the rules decide on, so the row is refused.
        else
          record[column.name] = {
            [UNPARSABLE]: `${name} is not ${column.type.kind === 'struct' ? 'a JSON object' : 'a JSON array of objects'} (the backtest needs Athena engine version 3)`,
          };
        return;
      }
    }
  });
  return record;
}

/**
 * A Lake row: the record its eventJson holds when that is a JSON object (the record as CloudTrail wrote it, types
 * and nested objects intact); otherwise rebuilt from the columns (rowToRecord), eventJson left out.
 */
export function lakeRowToRecord(columns: readonly string[], values: readonly (string | null)[]): unknown {
  const at = columns.findIndex((name) => name.toLowerCase() === LAKE_EVENT_JSON.toLowerCase());
  const eventJson = at >= 0 ? values[at] : null;
  if (eventJson) {
    try {
      const record = JSON.parse(eventJson) as unknown;
      if (isPlainObject(record)) return record;
    } catch {
      // Not JSON: the columns still hold the record.
    }
  }
  return rowToRecord(
    'lake',
    columns.filter((_, index) => index !== at),
    values.filter((_, index) => index !== at),
  );
}
