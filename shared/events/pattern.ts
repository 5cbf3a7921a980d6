/**
 * A local EventBridge pattern matcher with EventBridge's semantics, so that replay routes events exactly
 * as the deployed rules do. Supported: exact values (string, number, boolean, null), `prefix`, `suffix`,
 * `equals-ignore-case`, `wildcard`, `anything-but` (value, list, prefix, suffix, equals-ignore-case,
 * wildcard, each of these four with one string or a list), `numeric`, `exists`, `cidr` and `$or`. An unknown operator throws: a pattern we cannot
 * evaluate must not silently match or miss.
 */

import { isAddressInCidr } from '../net/cidr.js';

/** An EventBridge event pattern (the JSON in each rule's pattern.json). */
export type EventPattern = { readonly [key: string]: unknown };

type Scalar = string | number | boolean | null;

const isPlainObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/** True when the event (envelope JSON) matches the pattern. */
export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  return matchObject(pattern, event);
}

function matchObject(pattern: EventPattern, event: unknown): boolean {
  // for…in over own keys (the order of Object.entries, without its arrays: this runs per rule per event)
  for (const key in pattern) {
    if (!Object.hasOwn(pattern, key)) continue;
    const expected = pattern[key];
    if (key === '$or') {
      if (!Array.isArray(expected)) throw new Error('$or must be an array of patterns');
      if (!expected.some((alternative) => matchObject(alternative as EventPattern, event))) return false;
      continue;
    }
    const actual = isPlainObject(event) ? event[key] : undefined;
    if (Array.isArray(expected)) {
      if (!matchLeaf(expected, actual)) return false;
    } else if (isPlainObject(expected)) {
      // An array of objects in the event matches when any element matches the nested pattern.
      const candidates = Array.isArray(actual) ? actual : [actual];
      if (!candidates.some((candidate) => isPlainObject(candidate) && matchObject(expected, candidate))) {
        // A nested pattern made only of `exists: false` leaves matches an absent parent too.
        if (!(actual === undefined && onlyAbsence(expected))) return false;
      }
    } else {
      throw new Error(`pattern value for "${key}" must be an array or an object`);
    }
  }
  return true;
}

function onlyAbsence(pattern: Record<string, unknown>): boolean {
  return Object.values(pattern).every((value) =>
    Array.isArray(value) ? value.length > 0 && value.every((m) => isPlainObject(m) && m.exists === false) : isPlainObject(value) && onlyAbsence(value),
  );
}

function matchLeaf(matchers: readonly unknown[], actual: unknown): boolean {
  const present = actual !== undefined && !(Array.isArray(actual) && actual.length === 0);
  // Plain loops, no closures or wrapping array: this runs for every rule on every replayed event.
  for (const matcher of matchers) {
    if (isPlainObject(matcher) && 'exists' in matcher) {
      if (typeof matcher.exists !== 'boolean') throw new Error('exists takes true or false');
      if (matcher.exists === present) return true;
      continue;
    }
    if (!present) continue;
    if (!Array.isArray(actual)) {
      if (matchValue(matcher, actual)) return true;
      continue;
    }
    for (const value of actual) if (matchValue(matcher, value)) return true;
  }
  return false;
}

function matchValue(matcher: unknown, value: unknown): boolean {
  if (!isPlainObject(matcher)) return isScalar(matcher) && matcher === value;
  const entries = Object.entries(matcher);
  if (entries.length !== 1) throw new Error(`a matcher has exactly one operator, got ${entries.length}`);
  const [operator, operand] = entries[0] as [string, unknown];
  switch (operator) {
    case 'prefix':
      return typeof value === 'string' && stringOp(operand, value, (v, p) => v.startsWith(p));
    case 'suffix':
      return typeof value === 'string' && stringOp(operand, value, (v, s) => v.endsWith(s));
    case 'equals-ignore-case':
      return typeof value === 'string' && typeof operand === 'string' && value.toLowerCase() === operand.toLowerCase();
    case 'wildcard':
      return typeof value === 'string' && typeof operand === 'string' && wildcardRegExp(operand).test(value);
    case 'anything-but':
      return !anythingButHits(operand, value);
    case 'numeric':
      return typeof value === 'number' && numericMatches(operand, value);
    case 'cidr':
      return typeof value === 'string' && typeof operand === 'string' && isAddressInCidr(value, operand);
    default:
      throw new Error(`unsupported pattern operator "${operator}"`);
  }
}

function isScalar(value: unknown): value is Scalar {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

/** `prefix`/`suffix` take a string or `{ "equals-ignore-case": "…" }`. */
function stringOp(operand: unknown, value: string, test: (value: string, operand: string) => boolean): boolean {
  if (typeof operand === 'string') return test(value, operand);
  if (isPlainObject(operand) && typeof operand['equals-ignore-case'] === 'string') {
    return test(value.toLowerCase(), operand['equals-ignore-case'].toLowerCase());
  }
  throw new Error('prefix/suffix take a string or { "equals-ignore-case": string }');
}

/** The string operators `anything-but` may hold, each with one string or a list of them (any listed one excludes). */
const ANYTHING_BUT_STRING_OPERATORS: ReadonlySet<string> = new Set(['prefix', 'suffix', 'wildcard', 'equals-ignore-case']);

function anythingButHits(operand: unknown, value: unknown): boolean {
  if (Array.isArray(operand)) return operand.some((item) => isScalar(item) && item === value);
  if (isPlainObject(operand)) {
    // `{ "anything-but": { "wildcard": ["*.amazonaws.com", "AWS Internal"] } }`: Event Ruler's JsonRuleCompiler takes
    // a list inside each string operator (a value set), and excludes a value any of them matches.
    const entries = Object.entries(operand);
    const [operator, list] = entries[0] ?? [];
    if (entries.length === 1 && operator !== undefined && Array.isArray(list)) {
      if (!ANYTHING_BUT_STRING_OPERATORS.has(operator)) throw new Error(`anything-but takes no list of "${operator}"`);
      if (list.length === 0 || !list.every((item) => typeof item === 'string'))
        throw new Error(`anything-but's "${operator}" list holds strings, at least one`);
      return list.some((item) => matchValue({ [operator]: item }, value));
    }
    return matchValue(operand, value);
  }
  if (isScalar(operand)) return operand === value;
  throw new Error('anything-but takes a value, a list or one string operator');
}

function wildcardRegExp(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`, 's');
}

function numericMatches(operand: unknown, value: number): boolean {
  if (!Array.isArray(operand) || operand.length % 2 !== 0) throw new Error('numeric takes [op, n, (op, n)]');
  for (let i = 0; i < operand.length; i += 2) {
    const op = operand[i];
    const bound = operand[i + 1];
    if (typeof bound !== 'number') throw new Error('numeric bounds are numbers');
    const ok =
      op === '='
        ? value === bound
        : op === '<'
          ? value < bound
          : op === '<='
            ? value <= bound
            : op === '>'
              ? value > bound
              : op === '>='
                ? value >= bound
                : undefined;
    if (ok === undefined) throw new Error(`numeric operator "${String(op)}" is not one of = < <= > >=`);
    if (!ok) return false;
  }
  return true;
}

/**
 * Patterns indexed by the event names they require, so that an event is tested only against the patterns that
 * could match it (replay routes every event through every rule: most events name a call no rule lists). A pattern
 * whose `detail.eventName` is a non-empty list of plain strings matches only an event whose `detail.eventName` is
 * one of them (exact matching, as matchLeaf does it); any other pattern is tested on every event. An event whose
 * `detail` or `detail.eventName` is not the plain shape (an array, a number) is tested against every pattern, so
 * `matching` gives exactly what testing each pattern in turn gives, in the same order.
 */
export class PatternIndex<T> {
  private readonly all: readonly T[];
  private readonly byEventName = new Map<string, T[]>();
  /** What an event whose name no indexed pattern lists is tested against: the patterns that are not indexed. */
  private readonly unindexed: T[] = [];

  constructor(
    items: readonly T[],
    private readonly patternOf: (item: T) => EventPattern,
  ) {
    this.all = items;
    const names = items.map((item) => requiredEventNames(patternOf(item)));
    for (const list of names) for (const name of list ?? []) if (!this.byEventName.has(name)) this.byEventName.set(name, []);
    items.forEach((item, index) => {
      const required = names[index];
      if (required === undefined) {
        this.unindexed.push(item);
        // Kept in the items' order in every list: an unindexed pattern is a candidate for every name.
        for (const list of this.byEventName.values()) list.push(item);
      } else for (const name of new Set(required)) this.byEventName.get(name)?.push(item);
    });
  }

  /** The items whose pattern matches the event (envelope JSON), in the order given. */
  matching(event: unknown): T[] {
    const matched: T[] = [];
    for (const item of this.candidates(event)) if (matchesPattern(this.patternOf(item), event)) matched.push(item);
    return matched;
  }

  private candidates(event: unknown): readonly T[] {
    const detail = isPlainObject(event) ? event.detail : undefined;
    // An absent detail (or event name) cannot equal a listed name: only unindexed patterns can match.
    if (detail === undefined) return this.unindexed;
    if (!isPlainObject(detail)) return this.all;
    const name = detail.eventName;
    if (name === undefined) return this.unindexed;
    if (typeof name !== 'string') return this.all;
    return this.byEventName.get(name) ?? this.unindexed;
  }
}

/** The event names a pattern requires (its `detail.eventName`, when a non-empty list of plain strings), else undefined. */
function requiredEventNames(pattern: EventPattern): readonly string[] | undefined {
  const detail = pattern.detail;
  if (!isPlainObject(detail)) return undefined;
  const names = detail.eventName;
  if (!Array.isArray(names) || names.length === 0 || !names.every((name) => typeof name === 'string')) return undefined;
  return names as string[];
}
