import { describe, expect, it } from 'vitest';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';

const stack = freshStackPerTest();
const env = stack.env;
const DAY = 86_400_000;

describe('bedrock-first-use against the emulator: the memory in the real state table (DynamoDB)', () => {
  it('bedrock-first-use remembers a principal in the real state table: the first use alerts, a later one is quiet, a refusal of a known user is quiet, and a use after the memory alerts again', async () => {
    const rules = { 'bedrock-first-use': { rememberDays: 1 } };
    const now = Date.now();
    const time = (daysAgo: number) => new Date(now - daysAgo * DAY).toISOString();
    const use = (daysAgo: number) => sampleEvent('bedrock-first-use', 'alerted.invoke-model-unremembered', { eventTime: time(daysAgo) });
    const refused = (daysAgo: number) => sampleEvent('bedrock-first-use', 'alerted.invoke-model-denied-unremembered', { eventTime: time(daysAgo) });
    // One-day windows: five days ago is used and forgotten by today; today's first use alerts again.
    const events = [use(5), use(5), refused(5), use(0), use(0)];
    const records = [];
    for (const event of events) records.push((await invokeHandler('bedrock-first-use', event, env('live', { rules }))).record);

    expect(records.map((r) => [r.outcome, r.finding])).toEqual([
      ['alerted', 'bedrock-first-use'],
      ['compliant', null],
      ['compliant', null],
      ['alerted', 'bedrock-first-use'],
      ['compliant', null],
    ]);
    expect(records[2]?.reason).toContain('refusal of a known user');
    expect(await stack.received()).toMatchObject([
      { attributes: { rule: 'bedrock-first-use', outcome: 'alerted', severity: 'MEDIUM' } },
      { attributes: { rule: 'bedrock-first-use', outcome: 'alerted', severity: 'MEDIUM' } },
    ]);
  });
});
