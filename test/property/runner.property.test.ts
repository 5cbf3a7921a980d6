import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { mockClient, type AwsStub } from 'aws-sdk-client-mock';
import type { MetadataBearer } from '@smithy/types';
import fc from 'fast-check';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { routeEvent } from '../../cli/replay.js';
import { RULES } from '../../functions/rules.js';
import { isReadCommand } from '../../shared/aws/client-options.js';
import { ALERT_RULE_IDS, type Mode } from '../../shared/config.js';
import { OUTCOMES } from '../../shared/remediation-log.js';
import { containerAt } from '../helpers/json-path.js';
import { capturingDeps, loadSample, sampleNames } from '../helpers/samples.js';

// Every AWS call answers at once with an empty body: decisions then vary with the mutated input, which
// is the point. What must never vary: no throw, exactly one record per matching rule, and no write
// unless the mode is live and the record shows the action it performed.
// One list of stubs, whatever the service: the tests only reset, answer or count calls.
const mocks = [mockClient(S3Client), mockClient(EC2Client), mockClient(CloudTrailClient)] as unknown as AwsStub<object, MetadataBearer, unknown>[];
beforeEach(() => {
  for (const mock of mocks) {
    mock.reset();
    mock.onAnyCommand().resolves({});
  }
});
afterAll(() => {
  for (const mock of mocks) mock.restore();
});
// Roles Anywhere has no SDK client (shared/aws/rolesanywhere.ts signs its own calls): answered at the HTTP handler, any
// trust anchor enabled, and its writes counted with the SDK stubs'.
const httpWrites: string[] = [];
beforeEach(() => {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
  vi.spyOn(NodeHttpHandler.prototype, 'handle').mockImplementation(async (request) => {
    if (!request.hostname.startsWith('rolesanywhere.')) throw new Error(`unexpected HTTP call to ${request.hostname}`);
    const [, id = '', verb] = /^\/trustanchor\/([^/]+)(?:\/(disable|enable))?$/.exec(request.path) ?? [];
    if (verb) httpWrites.push(verb);
    const body = JSON.stringify({ trustAnchor: { trustAnchorId: id, enabled: verb !== 'disable' } });
    return { response: { statusCode: 200, headers: {}, body } as never };
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

const SAMPLES = RULES.flatMap((rule) => sampleNames(rule.id).map((name) => loadSample(rule.id, name)));
// Half the draws from the rules that write, half from the notify-only audit alerts: the alerts' many samples
// must not crowd out the mutations that still reach a live write.
const isAlert = (id: string) => (ALERT_RULE_IDS as readonly string[]).includes(id);
const WRITING_SAMPLES = RULES.filter((rule) => !isAlert(rule.id)).flatMap((rule) => sampleNames(rule.id).map((name) => loadSample(rule.id, name)));
const ALERT_SAMPLES = RULES.filter((rule) => isAlert(rule.id)).flatMap((rule) => sampleNames(rule.id).map((name) => loadSample(rule.id, name)));

type Path = (string | number)[];

function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [prefix];
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  return [prefix, ...entries.flatMap(([key, child]) => pathsOf(child, [...prefix, key]))];
}

interface Mutation {
  readonly pick: number;
  readonly op: 'delete' | 'replace' | 'wrap-in-list' | 'unwrap-list' | 'stringify';
  readonly value: unknown;
}

/** Applies mutations the way real records differ: fields gone, wrong types, one-element lists, strings for objects. */
function mutate(sample: unknown, mutations: readonly Mutation[]): unknown {
  let root = structuredClone(sample) as unknown;
  for (const mutation of mutations) {
    const paths = pathsOf(root);
    const path = paths[mutation.pick % paths.length] ?? [];
    if (path.length === 0) {
      root = mutation.op === 'replace' ? mutation.value : root;
      continue;
    }
    const parent = containerAt(root, path.slice(0, -1));
    const key = path[path.length - 1] as string | number;
    const current = parent[key];
    switch (mutation.op) {
      case 'delete':
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete parent[key];
        break;
      case 'replace':
        parent[key] = mutation.value;
        break;
      case 'wrap-in-list':
        parent[key] = [current];
        break;
      case 'unwrap-list':
        parent[key] = Array.isArray(current) ? current[0] : current;
        break;
      case 'stringify':
        parent[key] = JSON.stringify(current);
        break;
    }
  }
  return root;
}

const mutationArb = fc.record({
  pick: fc.nat(),
  op: fc.constantFrom('delete', 'replace', 'wrap-in-list', 'unwrap-list', 'stringify'),
  value: fc.jsonValue({ maxDepth: 2 }),
}) as fc.Arbitrary<Mutation>;

function writesSent(): string[] {
  return [
    ...mocks.flatMap((mock) => mock.calls().map((call) => (call.args[0] as object).constructor.name)).filter((name) => !isReadCommand(name)),
    ...httpWrites,
  ];
}

describe('the runner over mutated real-shaped events', () => {
  it('never throws, writes exactly one record per matching rule, and never writes outside live violations', async () => {
    const seen = { liveWrites: 0, noWrites: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom(...WRITING_SAMPLES), fc.constantFrom(...ALERT_SAMPLES)),
        fc.array(mutationArb, { maxLength: 3 }),
        fc.constantFrom<Mode>('offline', 'dry-run', 'live', 'live'),
        async (sample, mutations, mode) => {
          for (const mock of mocks) mock.resetHistory();
          httpWrites.length = 0;
          const event = mutate(sample, mutations);
          const deps = capturingDeps({ mode });
          const records = await routeEvent(RULES, event, deps);
          expect(records.length).toBeGreaterThanOrEqual(1);
          expect(deps.written).toEqual(records); // each record written exactly once
          for (const record of records) {
            expect(OUTCOMES).toContain(record.outcome);
            expect(record.reason.length).toBeGreaterThan(0);
            // Every failure is classified (parse, transient, gone, denied, invalid): never an unexpected bug.
            expect(record.error?.kind, record.reason).not.toBe('internal');
          }
          const writes = writesSent();
          if (mode !== 'live') expect(writes).toEqual([]);
          const acted = records.some((r) => r.actions.some((a) => a.status === 'done' || a.status === 'failed'));
          if (!acted) expect(writes).toEqual([]);
          if (writes.length > 0) seen.liveWrites += 1;
          else seen.noWrites += 1;
        },
      ),
      { numRuns: 1600, seed: 20261125 },
    );
    // Both sides of the property were exercised: mutated events that still led to a live write, and many that did not.
    expect(seen.liveWrites).toBeGreaterThan(10);
    expect(seen.noWrites).toBeGreaterThan(100);
  }, 120_000);

  it('never writes for an event whose source or detail-type is forged', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...SAMPLES),
        fc.oneof(
          fc.constant('custom.aws.s3'),
          fc.constant('aws'),
          fc.string({ maxLength: 12 }).filter((s) => !s.startsWith('aws.')),
        ),
        async (sample, source) => {
          for (const mock of mocks) mock.resetHistory();
          httpWrites.length = 0;
          const forged = { ...(structuredClone(sample) as Record<string, unknown>) };
          const envelope = 'detail' in forged ? forged : { 'detail-type': 'AWS API Call via CloudTrail', detail: forged };
          const deps = capturingDeps({ mode: 'live' });
          for (const rule of RULES) {
            const { run } = await import('../../shared/runner/run.js');
            const record = await run(rule, { ...envelope, source }, deps);
            expect(['ignored', 'failed']).toContain(record.outcome);
          }
          expect(writesSent()).toEqual([]);
        },
      ),
      { numRuns: 150, seed: 7 },
    );
  }, 60_000);
});
