import { describe, expect, it } from 'vitest';
import { claimWindowAlert, tallyInWindow } from '../../../shared/alerts/window-count.js';
import { memoryStateStore } from '../../../shared/state/store.js';

const WINDOW = 15 * 60_000;
const at = (iso: string) => Date.parse(iso);

describe('sliding-window counts from two fixed windows', () => {
  it('adds the previous window weighted by how much of it still overlaps, rounded down', async () => {
    const store = memoryStateStore();
    const add = store.addToWindow.bind(store);
    for (let i = 0; i < 4; i++) await tallyInWindow(add, 'k', at('2026-11-25T12:10:00Z'), WINDOW, 1);
    // 12:18:45 is a quarter of the way into 12:15-12:30: three quarters of the previous window's 4 count.
    const tally = await tallyInWindow(add, 'k', at('2026-11-25T12:18:45Z'), WINDOW, 1);
    expect(tally).toEqual({ windowStart: at('2026-11-25T12:15:00Z'), current: 1, previous: 4, estimate: 4 });
    expect((await tallyInWindow(add, 'k', at('2026-11-25T12:18:45Z'), WINDOW, 0)).estimate).toBe(4);
    expect((await tallyInWindow(add, 'k', at('2026-11-25T12:18:45Z'), WINDOW, 1)).estimate).toBe(5);
  });

  it("gives the window's alert to the first claim at or past the threshold only", async () => {
    const store = memoryStateStore();
    const add = store.addToWindow.bind(store);
    const tally = { windowStart: at('2026-11-25T12:15:00Z'), current: 7, previous: 0, estimate: 7 };
    expect(await claimWindowAlert(add, 'k', { ...tally, current: 4, estimate: 4 }, WINDOW, 5)).toBe(false);
    expect(await claimWindowAlert(add, 'k', tally, WINDOW, 5)).toBe(true);
    expect(await claimWindowAlert(add, 'k', tally, WINDOW, 5)).toBe(false);
  });

  it("after an alerted window, alerts in the next one only on that window's own count", async () => {
    const store = memoryStateStore();
    const add = store.addToWindow.bind(store);
    const first = { windowStart: at('2026-11-25T12:00:00Z'), current: 5, previous: 0, estimate: 5 };
    expect(await claimWindowAlert(add, 'k', first, WINDOW, 5)).toBe(true);
    const next = { windowStart: at('2026-11-25T12:15:00Z'), current: 1, previous: 5, estimate: 5 };
    expect(await claimWindowAlert(add, 'k', next, WINDOW, 5)).toBe(false);
    expect(await claimWindowAlert(add, 'k', { ...next, current: 5, estimate: 8 }, WINDOW, 5)).toBe(true);
  });
});
