import { describe, expect, it } from 'vitest';
import { RULES } from '../../../functions/rules.js';

// A pattern EventBridge refuses fails the whole stack's deployment, and no emulator here proves one: every rule's
// pattern keeps to what the EventBridge user guide documents for event buses, and to its default size quota.
const MAX_PATTERN_CHARACTERS = 2048;

/** Every place a pattern uses an operator whose operand is documented as one string only, with what it holds. */
function listsInsideAnythingBut(node: unknown, path: string[] = []): string[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => listsInsideAnythingBut(item, [...path, String(i)]));
  if (node === null || typeof node !== 'object') return [];
  const found: string[] = [];
  for (const [key, value] of Object.entries(node)) {
    if (key === 'anything-but' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [operator, operand] of Object.entries(value)) if (Array.isArray(operand)) found.push(`${[...path, key, operator].join('.')}`);
    }
    found.push(...listsInsideAnythingBut(value, [...path, key]));
  }
  return found;
}

describe('every rule pattern deploys', () => {
  it.each(RULES.map((rule) => [rule.id, rule.pattern] as const))('%s: within 2,048 characters, no list inside anything-but', (_id, pattern) => {
    expect(JSON.stringify(pattern).length).toBeLessThanOrEqual(MAX_PATTERN_CHARACTERS);
    // `anything-but` takes a value or a list of values; with `prefix`, `suffix`, `wildcard` or `equals-ignore-case`
    // the guide shows one string only.
    expect(listsInsideAnythingBut(pattern)).toEqual([]);
  });

  it('finds a list inside anything-but where one is', () => {
    expect(listsInsideAnythingBut({ detail: { eventName: [{ 'anything-but': { prefix: ['Get', 'List'] } }] } })).toEqual([
      'detail.eventName.0.anything-but.prefix',
    ]);
    expect(listsInsideAnythingBut({ detail: { eventName: [{ 'anything-but': ['Get', 'List'] }] } })).toEqual([]);
  });
});
