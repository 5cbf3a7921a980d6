import { describe, expect, it } from 'vitest';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';

const stack = freshStackPerTest();
const env = stack.env;

describe('remote-session-spread against the emulator: the counters in the real state table (DynamoDB)', () => {
  it('counts instances reached by commands and sessions of one role in the real state table: the threshold alerts once', async () => {
    const rules = { 'remote-session-spread': { threshold: 4, windowMinutes: 60 } };
    const send = (instanceIds: string[]) =>
      sampleEvent('remote-session-spread', 'alerted.send-command-uncounted', { requestParameters: { instanceIds, documentName: 'AWS-RunShellScript' } });
    const session = (target: string) => sampleEvent('remote-session-spread', 'alerted.start-session-uncounted', { requestParameters: { target } });
    const events = [
      send(['i-0e2e0000000000001', 'i-0e2e0000000000002']),
      session('i-0e2e0000000000001'),
      session('i-0e2e0000000000003'),
      send(['i-0e2e0000000000003', 'i-0e2e0000000000004']),
      session('i-0e2e0000000000005'),
    ];
    const records = [];
    for (const event of events) records.push((await invokeHandler('remote-session-spread', event, env('live', { rules }))).record);

    expect(records.map((r) => r.outcome)).toEqual(['compliant', 'compliant', 'compliant', 'alerted', 'compliant']);
    expect(records[1]?.reason).toContain(': 2 distinct instances reached'); // a session to an instance already commanded adds nothing
    expect(records[3]?.reason).toContain('first i-0e2e0000000000001, latest i-0e2e0000000000004');
    expect(records[3]?.reason).toContain('this call: SendCommand of AWS-RunShellScript');
    expect(await stack.received()).toMatchObject([{ attributes: { rule: 'remote-session-spread', outcome: 'alerted', severity: 'HIGH' } }]);
  });
});
