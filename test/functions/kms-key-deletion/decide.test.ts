import { describe, expect, it } from 'vitest';
import { FINDINGS, kmsKeyDeletion } from '../../../functions/kms-key-deletion/rule.js';
import { runSample } from '../../helpers/samples.js';

describe('kms-key-deletion findings', () => {
  const KINDS = [
    ['key-deletion-scheduled', 'alerted.schedule-key-deletion'],
    ['key-disabled', 'alerted.disable-key'],
    ['key-disabled', 'alerted.disable-key-by-bare-key-id'],
  ] as const;

  it('has a sample for every finding code', () => {
    expect(new Set(KINDS.map(([finding]) => finding))).toEqual(new Set(FINDINGS));
  });

  it.each(KINDS)('sets %s on the record of %s', async (finding, name) => {
    const { record } = await runSample(kmsKeyDeletion, name);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding });
  });

  it('sets none on a key being kept', async () => {
    for (const name of ['compliant.cancel-key-deletion', 'compliant.enable-key']) {
      expect((await runSample(kmsKeyDeletion, name)).record, name).toMatchObject({ outcome: 'compliant', finding: null });
    }
  });
});
