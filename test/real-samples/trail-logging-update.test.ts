import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { trailLogging } from '../../functions/trail-logging/rule.js';
import { parseEnvelope, toEnvelopeJson } from '../../shared/events/schema.js';
import { loadSample, withDetail } from '../helpers/samples.js';

// The real record docs/cloudtrail-shapes.md cites: kmsKeyId "" beside settings that are on, and no key in the
// response. Here, not beside the rule's other tests: this folder runs only where the real records are.
const REAL_UPDATE = join(import.meta.dirname, '..', '..', '..', 'shared', 'cloudtrail-samples', 'cloudtrail-UpdateTrail-records-file-no-weakening.json');
const ARN = 'arn:aws:cloudtrail:us-east-1:111122223333:trail/example-audit-trail';

it('trail-logging finds no weakening in the real UpdateTrail record with kmsKeyId ""', () => {
  const [real] = (JSON.parse(readFileSync(REAL_UPDATE, 'utf8')) as { Records: Record<string, unknown>[] }).Records;
  const request = { ...(real?.requestParameters as object), name: 'example-audit-trail' }; // its name is redacted to "..."
  const sample = withDetail(loadSample('trail-logging', 'compliant.update-trail-console-no-weakening'), {
    requestParameters: request,
    responseElements: { ...(real?.responseElements as object), trailARN: ARN },
  });
  const event = parseEnvelope(toEnvelopeJson(sample));

  expect(trailLogging.parse({ event, record: event.detail })).toMatchObject({ kind: 'updated', shape: 'full-form', weakened: [] });
});
