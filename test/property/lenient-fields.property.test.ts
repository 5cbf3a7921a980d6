import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { routeEvent } from '../../cli/replay.js';
import { RULES } from '../../functions/rules.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { capturingDeps, loadSample, sampleNames } from '../helpers/samples.js';

const SAMPLES = RULES.flatMap((rule) => sampleNames(rule.id).map((name) => ({ name: `${rule.id}/${name}`, event: loadSample(rule.id, name) })));

/** Fields no decision or action reads: exports carry them in any type (`readOnly: "false"`), or not at all. */
const DISPLAY_ONLY = [
  'readOnly',
  'managementEvent',
  'eventCategory',
  'eventVersion',
  'userAgent',
  'errorMessage',
  'tlsDetails',
  'sessionCredentialFromConsole',
] as const;

const decided = (records: readonly RemediationRecord[]) =>
  records.map((r) => ({ rule: r.rule, outcome: r.outcome, severity: r.severity, resources: r.resources, actions: r.actions, error: r.error }));

describe('the fields no decision uses never change a decision', () => {
  it('decides every sample the same whatever JSON its display-only fields hold, or without them', async () => {
    const replacement = fc.oneof(fc.constant(undefined), fc.constantFrom('false', 'true', 1.08, null), fc.jsonValue({ maxDepth: 2 }));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SAMPLES), fc.dictionary(fc.constantFrom(...DISPLAY_ONLY), replacement, { minKeys: 1 }), async (sample, fields) => {
        const mutated = structuredClone(sample.event) as Record<string, unknown>;
        const detail = (mutated.detail ?? mutated) as Record<string, unknown>;
        for (const [key, value] of Object.entries(fields)) {
          if (value === undefined) delete detail[key];
          else detail[key] = value;
        }
        const original = await routeEvent(RULES, sample.event, capturingDeps());
        const loosened = await routeEvent(RULES, mutated, capturingDeps());
        expect(decided(loosened), sample.name).toEqual(decided(original));
        expect(
          loosened.every((record) => record.error?.kind !== 'parse'),
          sample.name,
        ).toBe(true);
      }),
      { numRuns: 400, seed: 20261126 },
    );
  }, 60_000);
});
