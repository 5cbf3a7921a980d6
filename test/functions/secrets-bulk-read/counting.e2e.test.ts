import { describe, expect, it } from 'vitest';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';

const stack = freshStackPerTest();
const env = stack.env;

describe('secrets-bulk-read against the emulator: the counters in the real state table (DynamoDB)', () => {
  it('secrets-bulk-read counts distinct secrets per role in the real state table: the threshold alerts once, with the first secret kept', async () => {
    const rules = { 'secrets-bulk-read': { threshold: 4, windowMinutes: 60 } };
    const read = (secretId: string) => sampleEvent('secrets-bulk-read', 'alerted.secret-read-uncounted', { requestParameters: { secretId } });
    const secrets = ['prod/e2e/a', 'prod/e2e/b', 'prod/e2e/a', 'prod/e2e/c', 'prod/e2e/d', 'prod/e2e/e'];
    const records = [];
    for (const secret of secrets) records.push((await invokeHandler('secrets-bulk-read', read(secret), env('live', { rules }))).record);

    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'compliant', 'alerted', 'compliant']);
    expect(records[2]?.reason).toContain(': 2 distinct secrets read'); // the re-read of a adds nothing
    expect(records[4]?.reason).toContain('first prod/e2e/a, latest prod/e2e/d');
    expect(await stack.received()).toMatchObject([{ attributes: { rule: 'secrets-bulk-read', outcome: 'alerted', severity: 'HIGH' } }]);
  });
});
