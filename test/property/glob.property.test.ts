import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesGlob } from '../../shared/exemptions.js';

/** The regex translation the runner used before: the reference semantics, kept here only, on short inputs. */
function referenceGlob(glob: string, value: string): boolean {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's').test(value);
}

describe('matchesGlob agrees with the regex translation it replaced (short inputs: the regex backtracks on long ones)', () => {
  it('agrees with the old regex translation on random globs and values', () => {
    const glob = fc.string({ unit: fc.constantFrom('a', 'b', '.', '*', '?'), maxLength: 10 });
    const value = fc.string({ unit: fc.constantFrom('a', 'b', '.', '*', '?'), maxLength: 12 });
    fc.assert(
      fc.property(glob, value, (g, v) => matchesGlob(g, v) === referenceGlob(g, v)),
      { numRuns: 5000 },
    );
  });

  it('agrees with the old regex translation on values made to match (so true is drawn as often as false)', () => {
    const piece = fc.string({ unit: fc.constantFrom('a', 'b', 'c'), maxLength: 4 });
    const pieces = fc.array(fc.tuple(piece, fc.constantFrom('*', '?', '')), { maxLength: 5 });
    fc.assert(
      fc.property(pieces, fc.nat(), (parts, seed) => {
        const glob = parts.map(([text, wildcard]) => text + wildcard).join('');
        const value = parts.map(([text, wildcard]) => text + (wildcard === '' ? '' : 'abc'.slice(0, wildcard === '?' ? 1 : seed % 4))).join('');
        expect(matchesGlob(glob, value)).toBe(referenceGlob(glob, value));
        expect(matchesGlob(glob, value)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('settles any glob of up to 40 characters against a 255-character name without backtracking', () => {
    const glob = fc.string({ unit: fc.constantFrom('a', 'b', '*', '?'), maxLength: 40 });
    const name = fc.string({ unit: fc.constantFrom('a', 'b'), minLength: 255, maxLength: 255 });
    let slowest = 0;
    fc.assert(
      fc.property(glob, name, (g, n) => {
        const started = performance.now();
        const matched = matchesGlob(g, n);
        slowest = Math.max(slowest, performance.now() - started);
        expect(typeof matched).toBe('boolean');
      }),
      { numRuns: 500 },
    );
    expect(slowest).toBeLessThan(20);
  });
});
