import { expect } from 'vitest';
import { stepOfReverse } from '../../../shared/actions/action.js';
import { ACTION_TYPES } from '../../../shared/actions/registry.js';
import { reversalOf } from '../../../shared/actions/reversal.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';

/**
 * Performs the record's reversal as `undo` would, through the action types, with the test's own clients (only those
 * the reversing steps' types declare), and reads each step back.
 */
export async function reverseRecord(record: RemediationRecord, clients: Record<string, unknown>): Promise<void> {
  const action = record.actions[0];
  if (!action) throw new Error('no action to reverse');
  const reversal = reversalOf(ACTION_TYPES, record, action);
  if (reversal.kind !== 'steps') throw new Error(`no reversal steps: ${reversal.kind === 'none' ? reversal.why : 'manual'}`);
  for (const step of reversal.steps) {
    const planned = stepOfReverse(step);
    await step.type.perform(planned, clients as never);
    expect(await step.type.verify(planned, clients as never)).toMatchObject({ ok: true });
  }
}
