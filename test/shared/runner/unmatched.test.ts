import { describe, expect, it } from 'vitest';
import { eachRecord } from '../../../bench/cloudtrail-log.js';
import { RULES } from '../../../functions/rules.js';
import type { CloudTrailEvent } from '../../../shared/events/schema.js';
import { parseEnvelope, toEnvelopeJson, wrapRecord } from '../../../shared/events/schema.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { concludeFromError, conclude, type Conclusion } from '../../../shared/runner/conclusion.js';
import { eventOrigin } from '../../../shared/runner/origin.js';
import { finish } from '../../../shared/runner/record.js';
import { unmatchedRecord, type RunDeps } from '../../../shared/runner/run.js';
import { capturingDeps } from '../../helpers/samples.js';

/** The unmatched record as the runner's general path builds it (what runUnmatched did before its literal). */
async function throughFinish(input: unknown, deps: RunDeps): Promise<RemediationRecord> {
  const started = deps.now();
  let event: CloudTrailEvent | undefined;
  let conclusion: Conclusion;
  try {
    event = parseEnvelope(toEnvelopeJson(input));
    conclusion = conclude('ignored', `no rule's pattern matches ${event.source} ${event.detail.eventName}`);
  } catch (error) {
    conclusion = concludeFromError(undefined, error);
  }
  return finish(undefined, eventOrigin(input, event), conclusion, deps, started);
}

/** A clock 5 ms later after its first reading (the general path reads it once more, for an exposure it has not), so durationMs is compared too. */
function ticking(mode: 'offline' | 'dry-run' | 'live'): RunDeps & { written: RemediationRecord[] } {
  let reads = 0;
  const written: RemediationRecord[] = [];
  return { ...capturingDeps({ mode }), now: () => 1_800_000_000_000 + (reads++ === 0 ? 0 : 5), write: (record) => written.push(record), written };
}

const generated = [
  ...eachRecord(
    300,
    RULES.map((rule) => rule.id),
    3,
  ),
].map(({ record }) => record);
const odd: unknown[] = [
  null,
  42,
  'text',
  [],
  {},
  { id: 'envelope-id', source: 'aws.s3' },
  { eventID: 'only-an-id' },
  wrapRecord({ eventSource: 'sts.amazonaws.com', eventName: 'AssumeRole' }),
  { ...generated[0], eventTime: 7 },
  { ...generated[0], userIdentity: { type: 'Root' }, eventID: '' },
  { ...generated[0], errorCode: 'AccessDenied', errorMessage: 'no \u009b[31m' },
];

describe('unmatchedRecord', () => {
  it.each(['offline', 'dry-run', 'live'] as const)('is the record finish builds for no rule, key for key (%s)', async (mode) => {
    for (const input of [...generated, ...odd]) {
      const fast = ticking(mode);
      const general = ticking(mode);
      const record = unmatchedRecord(input, fast);
      expect(JSON.stringify(record)).toBe(JSON.stringify(await throughFinish(input, general)));
      expect(fast.written).toEqual([record]);
      expect(record.durationMs).toBe(5);
    }
  });

  it('says why an event could not be read, as failed', () => {
    const record = unmatchedRecord({ id: 'x', source: 'aws.s3' }, ticking('offline'));
    expect(record).toMatchObject({ rule: null, outcome: 'failed', severity: 'HIGH', error: { kind: 'parse' } });
  });
});
