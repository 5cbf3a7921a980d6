import { describe, expect, it } from 'vitest';
import { bedrockFirstUse, FINDINGS } from '../../../functions/bedrock-first-use/rule.js';
import { parseConfig } from '../../../shared/config.js';
import { AwsCallError } from '../../../shared/errors.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { run } from '../../../shared/runner/run.js';
import { memoryStateStore } from '../../../shared/state/store.js';
import { capturingDeps, expectedOutcome, loadSample, sampleConfig, sampleNames, withDetail } from '../../helpers/samples.js';

const USE = loadSample('bedrock-first-use', 'alerted.invoke-model-unremembered');
const DENIED = loadSample('bedrock-first-use', 'alerted.invoke-model-denied-unremembered');
const CROSS_REGION = loadSample('bedrock-first-use', 'alerted.converse-stream-cross-region-unremembered');
const USER = 'arn:aws:iam::111122223333:user/example-ci-deployer';
const DAY = 86_400_000;
const at = (day: number, hour = 12) => new Date(Date.parse('2026-11-25T00:00:00Z') + day * DAY + hour * 3_600_000).toISOString().replace('.000', '');

/** A sample at a time, with a fresh event id; `patch` replaces more fields. */
function event(sample: unknown, n: number, time: string, patch: Record<string, unknown> = {}): unknown {
  const value = withDetail(sample, { eventTime: time, eventID: `bedrock-${n}-${time}`, ...patch }) as Record<string, unknown>;
  return { ...value, id: `envelope-${n}-${time}` };
}

async function runAll(events: readonly unknown[], rememberDays?: number) {
  const config = rememberDays === undefined ? sampleConfig() : sampleConfig({ rules: { 'bedrock-first-use': { rememberDays } } });
  const deps = { ...capturingDeps({ mode: 'live', config }), store: memoryStateStore() };
  const records: RemediationRecord[] = [];
  for (const e of events) records.push(await run(bedrockFirstUse, e, deps));
  return { records, deps };
}

describe('bedrock-first-use offline (no state store, as in replay)', () => {
  it.each(sampleNames('bedrock-first-use'))('decides the sample %s as its name says', async (name) => {
    const record = await run(bedrockFirstUse, loadSample('bedrock-first-use', name), capturingDeps());
    expect(record.outcome).toBe(expectedOutcome(name));
  });

  it('reports each call at LOW, saying it cannot tell a first use, with the model, Region and principal', async () => {
    const record = await run(bedrockFirstUse, USE, capturingDeps());
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'LOW', finding: 'bedrock-use-unremembered', resources: [{ id: USER }] });
    expect(record.reason).toContain('InvokeModel on model anthropic.claude-3-5-sonnet-20240620-v1:0 in us-east-1');
    expect(record.reason).toContain('cannot be told');
  });

  it('names where a cross-Region inference profile ran the request, and the role behind an instance session', async () => {
    const record = await run(bedrockFirstUse, CROSS_REGION, capturingDeps());
    expect(record.reason).toContain('ConverseStream on model us.anthropic.claude-3-7-sonnet-20250219-v1:0 in us-east-1, run in us-west-2');
    expect(record.resources).toEqual([{ type: 'AWS::IAM::Role', id: 'arn:aws:iam::111122223333:role/example-app' }]);
  });

  it('fails, naming the field, on a successful call without a model id', async () => {
    const record = await run(bedrockFirstUse, withDetail(USE, { requestParameters: { body: '{}' } }), capturingDeps());
    expect(record.outcome).toBe('failed');
    expect(record.error?.message).toContain('detail.requestParameters.modelId');
  });

  it('reads a refused call that logged no request as a call on an unnamed model', async () => {
    const record = await run(bedrockFirstUse, withDetail(DENIED, { requestParameters: null }), capturingDeps());
    expect(record).toMatchObject({ outcome: 'alerted', finding: 'bedrock-use-unremembered' });
    expect(record.reason).toContain('InvokeModel on an unnamed model in us-east-1 and was refused (AccessDeniedException)');
  });

  it('takes rememberDays from 1 to 365 days only', () => {
    expect(parseConfig({ rules: { 'bedrock-first-use': {} } }).rules['bedrock-first-use'].rememberDays).toBe(90);
    expect(() => parseConfig({ rules: { 'bedrock-first-use': { rememberDays: 0 } } })).toThrow();
    expect(() => parseConfig({ rules: { 'bedrock-first-use': { rememberDays: 366 } } })).toThrow();
  });

  it('declares its finding codes', () => {
    expect(FINDINGS).toEqual(['bedrock-first-use', 'bedrock-first-try', 'bedrock-use-unremembered']);
  });
});

describe('bedrock-first-use with the state store', () => {
  it('alerts once on the first use, stays quiet on later uses within the memory, and alerts again once forgotten', async () => {
    // 90-day windows from the epoch: day 1 (2026-11-26) marks the use in its window; day 60 falls in the next window,
    // which still sees it and marks again; day 300 is two windows past that one: forgotten.
    const { records, deps } = await runAll([event(USE, 1, at(1)), event(USE, 2, at(1, 13)), event(USE, 3, at(60)), event(USE, 4, at(300))]);
    expect(records.map((r) => [r.outcome, r.finding])).toEqual([
      ['alerted', 'bedrock-first-use'],
      ['compliant', null],
      ['compliant', null],
      ['alerted', 'bedrock-first-use'],
    ]);
    expect(records[0]).toMatchObject({ severity: 'MEDIUM', resources: [{ id: USER }] });
    expect(records[0]?.reason).toContain('used Bedrock for the first time in at least 90 days: InvokeModel on model anthropic.claude-3-5-sonnet');
    expect(records[1]?.reason).toContain('has used Bedrock within the last 90 days');
    expect(deps.published).toHaveLength(2);
  });

  it('remembers per principal: a role session counts as its role, another principal is a first use of its own', async () => {
    const otherSession = {
      userIdentity: {
        ...(CROSS_REGION as { userIdentity: Record<string, unknown> }).userIdentity,
        arn: 'arn:aws:sts::111122223333:assumed-role/example-app/i-0fff000000000000f',
      },
    };
    const { records } = await runAll([event(CROSS_REGION, 1, at(1)), event(CROSS_REGION, 2, at(2), otherSession), event(USE, 3, at(3))]);
    expect(records.map((r) => r.outcome)).toEqual(['alerted', 'compliant', 'alerted']);
    expect(records[2]?.resources).toEqual([{ type: 'AWS::IAM::User', id: USER }]);
  });

  it('tells a first refused call apart, once, and still alerts when the same key then gets a model to answer', async () => {
    const { records } = await runAll([event(DENIED, 1, at(1)), event(DENIED, 2, at(1, 13)), event(USE, 3, at(2)), event(DENIED, 4, at(3))]);
    expect(records.map((r) => [r.outcome, r.finding])).toEqual([
      ['alerted', 'bedrock-first-try'],
      ['compliant', null],
      ['alerted', 'bedrock-first-use'],
      ['compliant', null],
    ]);
    expect(records[0]?.reason).toContain('tried Bedrock for the first time in at least 90 days and was refused (AccessDeniedException)');
    expect(records[1]?.reason).toContain('already alerted');
    expect(records[3]?.reason).toContain('refusal of a known user');
  });

  it('follows rememberDays: with 7 days, a use 15 days after the last is a first use again', async () => {
    const { records } = await runAll([event(USE, 1, at(1)), event(USE, 2, at(5)), event(USE, 3, at(20))], 7);
    expect(records.map((r) => r.outcome)).toEqual(['alerted', 'compliant', 'alerted']);
    expect(records[2]?.reason).toContain('first time in at least 7 days');
  });

  it('leaves a call a service made for the principal (a Bedrock agent) out of the memory', async () => {
    const agent = loadSample('bedrock-first-use', 'compliant.converse-by-bedrock-agent');
    const { records, deps } = await runAll([event(agent, 1, at(1))]);
    expect(records[0]).toMatchObject({ outcome: 'compliant', resources: [{ id: 'arn:aws:iam::111122223333:role/example-agent-service-role' }] });
    expect(records[0]?.reason).toContain('bedrock.amazonaws.com called Converse');
    expect([...deps.store.items.keys()].filter((key) => key.startsWith('count#'))).toEqual([]);
  });

  it('keeps control characters out of the text a person reads', async () => {
    const { records } = await runAll([event(USE, 1, at(1), { requestParameters: { modelId: 'evil\u001b]0;pwned\u0007model' } })]);
    expect(records[0]?.outcome).toBe('alerted');
    expect(records[0]?.reason).toContain('pwned');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this test looks for
    expect(records[0]?.reason).not.toMatch(/[\u0000-\u001f\u007f]/);
  });
});

describe('bedrock-first-use on a redelivery', () => {
  it('still alerts a first use when the run that marked it failed transiently before deciding (EventBridge retries it)', async () => {
    const store = memoryStateStore();
    let failNext = false;
    // The first run's mark lands, then the state table throttles the read of the window before: a transient error.
    const flaky: typeof store = {
      ...store,
      addToWindow: async (counter, start, count, expires) => {
        if (failNext && count === 0) {
          failNext = false;
          throw new AwsCallError('DynamoDB.UpdateItem', counter, 'transient', 'ProvisionedThroughputExceededException');
        }
        return store.addToWindow(counter, start, count, expires);
      },
    };
    const deps = { ...capturingDeps({ mode: 'live' }), store: flaky };
    const first = event(USE, 1, at(0));
    failNext = true;
    const failed = await run(bedrockFirstUse, first, deps);
    expect(failed.outcome).not.toBe('alerted');
    const retried = await run(bedrockFirstUse, first, deps);
    expect(retried).toMatchObject({ outcome: 'alerted', finding: 'bedrock-first-use' });
    // Another call by the same principal afterwards is no first use.
    const next = await run(bedrockFirstUse, event(USE, 2, at(0, 13)), deps);
    expect(next.outcome).toBe('compliant');
  });
});

describe('bedrock-first-use across the inference calls', () => {
  it('takes the bidirectional stream and asynchronous invocation as uses too (a key running Nova Sonic or video models)', async () => {
    for (const eventName of ['InvokeModelWithBidirectionalStream', 'StartAsyncInvoke']) {
      const { records } = await runAll([event(USE, 1, at(0), { eventName, requestParameters: { modelId: 'amazon.nova-sonic-v1:0' } })]);
      expect(records[0], eventName).toMatchObject({ outcome: 'alerted', finding: 'bedrock-first-use' });
    }
  });
});
