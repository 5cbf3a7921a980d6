import { describe, expect, it } from 'vitest';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';

const stack = freshStackPerTest();
const env = stack.env;

describe('ses-enumeration against the emulator: the counters in the real state table (DynamoDB)', () => {
  it('ses-enumeration counts distinct SES calls per principal in the real state table: a repeated quota read adds nothing, the threshold alerts once', async () => {
    const rules = { 'ses-enumeration': { threshold: 3, windowMinutes: 60 } };
    const call = (eventName: string, requestParameters: unknown) =>
      sampleEvent('ses-enumeration', 'alerted.list-identities-uncounted', { eventName, requestParameters });
    const calls = [
      call('GetSendQuota', null),
      call('GetSendQuota', null),
      call('ListIdentities', null),
      call('GetEmailIdentity', { emailIdentity: 'example.com' }),
      call('GetAccount', null),
    ];
    const records = [];
    for (const event of calls) records.push((await invokeHandler('ses-enumeration', event, env('live', { rules }))).record);

    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'alerted', 'compliant']);
    expect(records[1]?.reason).toContain(': 1 distinct SES identity and account reads'); // the second quota read adds nothing
    expect(records[3]?.reason).toContain('first GetSendQuota, latest GetEmailIdentity example.com');
    expect(await stack.received()).toMatchObject([{ attributes: { rule: 'ses-enumeration', outcome: 'alerted', severity: 'MEDIUM' } }]);
  });
});
