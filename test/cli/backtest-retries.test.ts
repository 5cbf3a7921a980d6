import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LOOKUP_MAX_ATTEMPTS, lookupClient, lookupEvents, type Clock } from '../../cli/backtest.js';
import type { InputItem } from '../../cli/inputs.js';
import { InputProblem } from '../../cli/usage.js';
import { startLocalEndpoint, type LocalEndpoint } from '../helpers/local-endpoint.js';

// aws-sdk-client-mock replaces the SDK's send, retry middleware and pacing included: only a real HTTP endpoint
// shows that the SDK's retry strategy retries a throttled LookupEvents and that every attempt is paced.
// CloudTrail speaks JSON 1.1: POST / with the operation in X-Amz-Target, errors as a 400 with `__type`.

type Answer = { readonly status: number; readonly body: object };
const THROTTLED: Answer = { status: 400, body: { __type: 'ThrottlingException', message: 'Rate exceeded' } };
const DENIED: Answer = { status: 400, body: { __type: 'AccessDeniedException', message: 'not authorized to perform: cloudtrail:LookupEvents' } };
const page = (ids: readonly string[], nextToken?: string): Answer => ({
  status: 200,
  body: {
    Events: ids.map((id) => ({ EventId: id, CloudTrailEvent: JSON.stringify({ eventID: id, eventSource: 's3.amazonaws.com' }) })),
    ...(nextToken ? { NextToken: nextToken } : {}),
  },
});

let local: LocalEndpoint;
/** What the endpoint answers, in order; the last one repeats. */
let answers: Answer[] = [];
const requests: { target: string; body: { NextToken?: string }; attemptHeader: string }[] = [];

async function bodyOf(request: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of request) text += String(chunk);
  return text;
}

beforeAll(async () => {
  local = await startLocalEndpoint((request, response) => {
    void bodyOf(request).then((text) => {
      requests.push({
        target: String(request.headers['x-amz-target']),
        body: JSON.parse(text) as { NextToken?: string },
        attemptHeader: String(request.headers['amz-sdk-request']),
      });
      const answer = (answers.length > 1 ? answers.shift() : answers[0]) as Answer;
      response.writeHead(answer.status, { 'content-type': 'application/x-amz-json-1.1' }).end(JSON.stringify(answer.body));
    });
  });
});
afterAll(() => local.close());
beforeEach(() => {
  requests.length = 0;
  answers = [];
});

/** A clock that only moves when slept on: the pacing is asserted from the sleeps, never waited for. */
function fakeClock(): Clock & { readonly sleeps: number[] } {
  let now = 1_000_000;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

async function collect(items: AsyncIterable<InputItem>): Promise<InputItem[]> {
  const all: InputItem[] = [];
  for await (const item of items) all.push(item);
  return all;
}

const window = { startTime: new Date('2026-11-13T00:00:00Z'), endTime: new Date('2026-11-20T00:00:00Z'), eventSources: undefined };

describe('LookupEvents through the SDK, against a real HTTP endpoint', () => {
  it('paces every request 500 ms after the one before, across pages', async () => {
    answers = [page(['a'], 't2'), page(['b'], 't3'), page(['c'])];
    const clock = fakeClock();
    const items = await collect(lookupEvents({ client: lookupClient('eu-west-1', local.url, { clock }), ...window }));
    expect(items.map((item) => item.kind === 'event' && item.source)).toEqual(['lookup#a', 'lookup#b', 'lookup#c']);
    expect(requests.map((r) => [r.target, r.body.NextToken])).toEqual([
      ['CloudTrail_20131101.LookupEvents', undefined],
      ['CloudTrail_20131101.LookupEvents', 't2'],
      ['CloudTrail_20131101.LookupEvents', 't3'],
    ]);
    // The fake clock does not move between requests on its own, so each later request waited the full interval.
    expect(clock.sleeps).toEqual([500, 500]);
  });

  it('retries a throttled call through the SDK, pacing each retry too, and tells the progress line', async () => {
    answers = [THROTTLED, THROTTLED, page(['x'])];
    const clock = fakeClock();
    const notes: string[] = [];
    const client = lookupClient('eu-west-1', local.url, { clock, onRetry: (note) => notes.push(note) });
    const items = await collect(lookupEvents({ client, ...window }));
    expect(items).toEqual([expect.objectContaining({ kind: 'event', source: 'lookup#x' })]);
    // Three attempts of one call, numbered by the SDK's retry middleware, each paced like a page.
    expect(requests.map((r) => r.attemptHeader)).toEqual([1, 2, 3].map((n) => `attempt=${n}; max=${LOOKUP_MAX_ATTEMPTS}`));
    expect(clock.sleeps).toEqual([500, 500]);
    expect(notes).toEqual([`LookupEvents: retry 1 of ${LOOKUP_MAX_ATTEMPTS - 1}`, `LookupEvents: retry 2 of ${LOOKUP_MAX_ATTEMPTS - 1}`]);
  }, 20_000);

  it('gives up after its attempts with the service code, and never retries a refusal', async () => {
    answers = [THROTTLED];
    const throttledClient = lookupClient('eu-west-1', local.url, { clock: fakeClock(), maxAttempts: 3 });
    await expect(collect(lookupEvents({ client: throttledClient, ...window }))).rejects.toThrow(
      new InputProblem('LookupEvents failed: ThrottlingException: Rate exceeded (still failing after 3 attempts)'),
    );
    expect(requests).toHaveLength(3);

    requests.length = 0;
    answers = [DENIED];
    await expect(collect(lookupEvents({ client: lookupClient('eu-west-1', local.url, { clock: fakeClock() }), ...window }))).rejects.toThrow(
      new InputProblem('LookupEvents failed: AccessDeniedException: not authorized to perform: cloudtrail:LookupEvents'),
    );
    expect(requests).toHaveLength(1);
  }, 20_000);
});
