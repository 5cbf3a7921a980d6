import { describe, expect, it } from 'vitest';
import { deployedRules, invocationsPerThousand, MIX, readsPerThousand, weightedEvents } from '../../bench/management-mix.js';

// The bench reports what read-only delivery costs; these hold the mix to being a mix, and every rule that receives
// reads to naming exactly the calls it counts (a pattern widened to all reads would receive most of the mix).
describe('invocations per 1,000 management events', () => {
  it('is a mix dominated by reads, as management events are, with some denied calls', () => {
    expect(readsPerThousand()).toBeGreaterThan(700);
    expect(readsPerThousand()).toBeLessThan(900);
    expect(MIX.some((call) => call.errorCode)).toBe(true);
  });

  it('delivers a read only to a rule in the state that receives reads', () => {
    const pattern = { source: ['aws.ec2'], detail: { eventName: ['DescribeInstances'] } };
    const [quiet, listening] = invocationsPerThousand([
      { id: 'enabled', pattern, receivesReads: false },
      { id: 'all', pattern, receivesReads: true },
    ]);
    expect(quiet?.perThousand).toBe(0);
    expect(listening?.perThousand).toBeGreaterThan(10);
    expect(listening?.readsPerThousand).toBe(listening?.perThousand);
  });

  it('keeps every deployed rule that receives reads to the calls it names', async () => {
    const rules = await deployedRules();
    const rows = invocationsPerThousand(rules);
    const readers = rows.filter((row) => row.receivesReads);
    expect(readers.length).toBeGreaterThan(3);
    for (const row of readers) expect(row.perThousand, `${row.rule} receives ${row.receives.join('; ')}`).toBeLessThan(80);
    // In all, a small multiple of what the same rules receive without reads: never most of the stream.
    const total = rows.reduce((sum, row) => sum + row.perThousand, 0);
    expect(total).toBeLessThan(200);
  });

  it('gives every (call, caller) pair a positive weight and an EventBridge envelope', () => {
    for (const e of weightedEvents()) {
      expect(e.weight).toBeGreaterThan(0);
      expect(e.event).toMatchObject({ 'detail-type': expect.stringContaining('via CloudTrail'), detail: { readOnly: e.readOnly } });
    }
  });
});
