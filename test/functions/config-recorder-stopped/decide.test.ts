import { describe, expect, it } from 'vitest';
import { configRecorderStopped, FINDINGS } from '../../../functions/config-recorder-stopped/rule.js';
import { runSample } from '../../helpers/samples.js';

describe('config-recorder-stopped findings', () => {
  const KINDS = [
    ['recorder-stopped', 'alerted.stop-configuration-recorder'],
    ['recorder-deleted', 'alerted.delete-configuration-recorder'],
    ['delivery-channel-deleted', 'alerted.delete-delivery-channel'],
  ] as const;

  it('has a sample for every finding code', () => {
    expect(new Set(KINDS.map(([finding]) => finding))).toEqual(new Set(FINDINGS));
  });

  it.each(KINDS)('sets %s on the record of %s', async (finding, name) => {
    const { record } = await runSample(configRecorderStopped, name);
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding });
  });

  it('sets none when the recorder is started again', async () => {
    const { record } = await runSample(configRecorderStopped, 'compliant.start-configuration-recorder');
    expect(record).toMatchObject({ outcome: 'compliant', finding: null });
  });
});
