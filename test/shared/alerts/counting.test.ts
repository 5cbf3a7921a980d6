import { describe, expect, it } from 'vitest';
import { principalOf, tallyDistinct } from '../../../shared/alerts/counting.js';
import type { Actor } from '../../../shared/events/schema.js';
import { memoryStateStore } from '../../../shared/state/store.js';

const WINDOW = 10 * 60_000;
const T0 = Date.parse('2026-11-25T12:00:00Z');

function counters() {
  const store = memoryStateStore();
  return {
    add: (counter: string, start: number, count: number, expires: number) => store.addToWindow(counter, start, count, expires),
    first: (counter: string, start: number, value: string, expires: number) => store.keepFirst(counter, start, value, expires),
  };
}

describe('tallyDistinct', () => {
  it('counts each item once per window, and a repeat from the window before once in the sliding estimate', async () => {
    const { add, first } = counters();
    for (const item of ['a', 'b', 'c', 'a', 'b']) await tallyDistinct(add, first, 'k', [item], T0 + 60_000, WINDOW, 100);
    // Half-way into the next window: a, b again (repeats) and d (new).
    const half = T0 + WINDOW + WINDOW / 2;
    await tallyDistinct(add, first, 'k', ['a', 'b'], half, WINDOW, 100);
    const tally = await tallyDistinct(add, first, 'k', ['d'], half, WINDOW, 100);
    // previous 3 × 0.5 + current 3 (a, b, d) − repeats 2 × 0.5 = 3.5 → 3; never below the window's own 3.
    expect(tally.tally).toMatchObject({ current: 3, previous: 3, estimate: 3 });
    expect(tally).toMatchObject({ first: 'a', latest: 'd', newItems: 1 });
  });

  it('claims the window once, on the event that reaches the threshold, and never on a repeat', async () => {
    const { add, first } = counters();
    const results = [];
    for (const item of ['a', 'b', 'c', 'c', 'd']) results.push(await tallyDistinct(add, first, 'k', [item], T0 + 1000, WINDOW, 3));
    expect(results.map((r) => r.alerts)).toEqual([false, false, true, false, false]);
  });

  it('takes several items of one call, each once', async () => {
    const { add, first } = counters();
    const tally = await tallyDistinct(add, first, 'k', ['x', 'y', 'x', 'z'], T0, WINDOW, 3);
    expect(tally).toMatchObject({ newItems: 3, alerts: true, first: 'x', latest: 'z' });
  });
});

describe('principalOf', () => {
  const base = { accountId: '111122223333', principalId: undefined, invokedBy: undefined };
  it('counts a role session as its role, and keeps the session for the message', () => {
    const actor: Actor = {
      ...base,
      type: 'AssumedRole',
      arn: 'arn:aws:sts::111122223333:assumed-role/app/i-0abc',
      roleArn: 'arn:aws:iam::111122223333:role/app',
      roleName: 'app',
      sessionName: 'i-0abc',
    };
    expect(principalOf(actor, '111122223333')).toEqual({
      arn: 'arn:aws:iam::111122223333:role/app',
      session: 'arn:aws:sts::111122223333:assumed-role/app/i-0abc',
      account: '111122223333',
    });
  });

  it('names no principal for an AWS service or an identity without an ARN', () => {
    expect(principalOf({ ...base, type: 'AWSService', arn: undefined }, '111122223333')).toBeUndefined();
    expect(principalOf({ ...base, type: 'IAMUser', arn: undefined, userName: 'x' }, '111122223333')).toBeUndefined();
  });
});
