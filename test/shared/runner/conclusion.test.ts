import { describe, expect, it } from 'vitest';
import { heldByBreaker } from '../../../shared/runner/breaker.js';
import { fromDecision } from '../../../shared/runner/conclusion.js';
import type { ExemptionMatch } from '../../../shared/exemptions.js';
import { violation, type PlannedAction } from '../../../shared/rule.js';

const action: PlannedAction = { api: 'S3.PutPublicAccessBlock', resource: { type: 'AWS::S3::Bucket', id: 'b' }, params: { Bucket: 'b' } };
const found = violation('bucket b is public', 'HIGH', [action.resource], [action]);

// Control state is data: what the rule found, whether it is acted on and why not are fields; the reason is only told.
describe('a conclusion keeps its control state in fields, never in its reason', () => {
  it("plans a live violation as will-remediate, with the rule's reason as its subject", () => {
    const planned = fromDecision(found, [undefined], 'live', []);
    expect(planned).toMatchObject({
      outcome: 'would-remediate',
      plan: 'will-remediate',
      subject: 'bucket b is public',
      skipped: null,
      reason: 'bucket b is public; will remediate',
    });
  });

  it('only reports one in dry-run and offline: would-remediate', () => {
    expect(fromDecision(found, [undefined], 'dry-run', [])).toMatchObject({ plan: 'would-remediate', reason: 'bucket b is public; would remediate (dry-run)' });
    expect(fromDecision(found, [undefined], 'offline', [])).toMatchObject({ plan: 'would-remediate', reason: 'bucket b is public; would remediate (offline)' });
  });

  it('says an all-exempt violation was skipped for its exemption, and plans nothing', () => {
    const exemption: ExemptionMatch = { resource: 'b', reason: 'public website', expires: null };
    const exempt = fromDecision(found, [exemption], 'live', []);
    expect(exempt).toMatchObject({ outcome: 'exempt', plan: null, skipped: { why: 'exempt' }, subject: 'bucket b is public', actions: [] });
  });

  it("builds the breaker's words on the subject, and says whether this run tripped it", () => {
    const planned = fromDecision(found, [undefined], 'live', []);
    const held = heldByBreaker(planned, { breaker: 'public-bucket', reason: 'the public-bucket circuit breaker tripped: 3 writes', tripped: true });
    expect(held).toMatchObject({
      outcome: 'would-remediate',
      plan: null,
      severity: 'CRITICAL',
      skipped: { why: 'breaker', breaker: 'public-bucket', tripped: true },
      reason: 'bucket b is public; NOT remediated: the public-bucket circuit breaker tripped: 3 writes',
    });
    const open = heldByBreaker(planned, { breaker: 'public-bucket', reason: 'open', tripped: false });
    expect(open).toMatchObject({ severity: 'HIGH', skipped: { why: 'breaker', tripped: false }, reason: 'bucket b is public; NOT remediated: open' });
  });
});
