import { describe, expect, it } from 'vitest';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';

const stack = freshStackPerTest();
const env = stack.env;

describe('instance-user-data-read against the emulator: the counters in the real state table (DynamoDB)', () => {
  it('counts distinct instances per role in the real state table: a re-read adds nothing, the threshold alerts once, with the first instance kept', async () => {
    const rules = { 'instance-user-data-read': { threshold: 3, windowMinutes: 60 } };
    const read = (instanceId: string) =>
      sampleEvent('instance-user-data-read', 'alerted.user-data-read-uncounted', { requestParameters: { instanceId, attribute: 'userData' } });
    const instances = ['i-0e2e0000000000001', 'i-0e2e0000000000002', 'i-0e2e0000000000001', 'i-0e2e0000000000003', 'i-0e2e0000000000004'];
    const records = [];
    for (const id of instances) records.push((await invokeHandler('instance-user-data-read', read(id), env('live', { rules }))).record);

    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'alerted', 'compliant']);
    expect(records[2]?.reason).toContain(': 2 distinct instances whose user data was read'); // the re-read adds nothing
    expect(records[3]?.reason).toContain('first i-0e2e0000000000001, latest i-0e2e0000000000003');
    expect(records[4]?.reason).toContain('already alerted in this window');
    expect(await stack.received()).toMatchObject([{ attributes: { rule: 'instance-user-data-read', outcome: 'alerted', severity: 'HIGH' } }]);
  });
});
