import { describe, expect, it, vi } from 'vitest';
import { stepOf, stepOfReverse, type Step } from '../../../shared/actions/action.js';
import { ACTION_TYPES } from '../../../shared/actions/registry.js';
import {
  disableTrustAnchor,
  enableTrustAnchor,
  TRUST_ANCHOR_TYPE,
  type TrustAnchorParams,
  type TrustAnchorPrevious,
} from '../../../shared/actions/rolesanywhere-trust-anchor.js';
import { SELF_SIGNATURES } from '../../../shared/actions/signatures.js';
import type { RolesAnywhereClient } from '../../../shared/aws/rolesanywhere.js';

const ID = '5b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d';
const RESOURCE = { type: TRUST_ANCHOR_TYPE, id: ID, name: 'ci-runners' };
const stepFor = (params: unknown, previous?: unknown, region = 'eu-west-1') =>
  stepOf(disableTrustAnchor, { api: disableTrustAnchor.api, resource: RESOURCE, params, previous }, region) as Step<TrustAnchorParams, TrustAnchorPrevious>;

/** A fake client whose GetTrustAnchor answers `enabled` as given. */
function fakeClient(enabled: boolean) {
  const anchor = (on: boolean) => ({ trustAnchorId: ID, enabled: on });
  return {
    getTrustAnchor: vi.fn<RolesAnywhereClient['getTrustAnchor']>(async () => anchor(enabled)),
    disableTrustAnchor: vi.fn<RolesAnywhereClient['disableTrustAnchor']>(async () => anchor(false)),
    enableTrustAnchor: vi.fn<RolesAnywhereClient['enableTrustAnchor']>(async () => anchor(true)),
  };
}

describe('RolesAnywhere.DisableTrustAnchor', () => {
  it('takes the anchor id only, a UUID: anything else is refused before a call', () => {
    expect(() => stepFor({ trustAnchorId: "x'; id" })).toThrow(expect.objectContaining({ code: 'InvalidActionParams' }));
    expect(() => stepFor({ trustAnchorId: ID, enabled: true })).toThrow(expect.objectContaining({ code: 'InvalidActionParams' }));
    expect(stepFor({ trustAnchorId: ID }).params).toEqual({ trustAnchorId: ID });
  });

  it('disables that anchor and reads it back disabled; still enabled reads back as not ok', async () => {
    const rolesAnywhere = fakeClient(false);
    const step = stepFor({ trustAnchorId: ID }, { enabled: true });
    await disableTrustAnchor.perform(step, { rolesAnywhere });
    expect(rolesAnywhere.disableTrustAnchor.mock.calls).toEqual([[ID]]);
    expect(await disableTrustAnchor.verify(step, { rolesAnywhere })).toEqual({ ok: true, detail: `trust anchor ${ID} reads back disabled` });
    expect(await disableTrustAnchor.verify(step, { rolesAnywhere: fakeClient(true) })).toEqual({ ok: false, detail: `trust anchor ${ID} is still enabled` });
  });

  it('prints the exact, quoted CLI line, and none for a Region that is no Region', () => {
    expect(disableTrustAnchor.command(stepFor({ trustAnchorId: ID }))).toBe(
      `aws rolesanywhere disable-trust-anchor --trust-anchor-id '${ID}' --region 'eu-west-1'`,
    );
    expect(disableTrustAnchor.command(stepFor({ trustAnchorId: ID }, undefined, "eu-west-1'; id"))).toMatch(/^no command/);
  });

  it('reverses to an enable only when it was enabled before, read back enabled', async () => {
    expect(disableTrustAnchor.reverse(stepFor({ trustAnchorId: ID }))).toMatchObject({ kind: 'none' });
    expect(disableTrustAnchor.reverse(stepFor({ trustAnchorId: ID }, { enabled: false }))).toMatchObject({ kind: 'none' });
    const reversal = disableTrustAnchor.reverse(stepFor({ trustAnchorId: ID }, { enabled: true }));
    if (reversal.kind !== 'steps') throw new Error('expected steps');
    const [step] = reversal.steps;
    if (!step) throw new Error('no step');
    expect(step.type).toBe(enableTrustAnchor);
    const planned = stepOfReverse(step);
    expect(step.type.command(planned)).toBe(`aws rolesanywhere enable-trust-anchor --trust-anchor-id '${ID}' --region 'eu-west-1'`);
    const rolesAnywhere = fakeClient(true);
    await step.type.perform(planned, { rolesAnywhere } as never);
    expect(rolesAnywhere.enableTrustAnchor.mock.calls).toEqual([[ID]]);
    expect(await step.type.verify(planned, { rolesAnywhere } as never)).toMatchObject({ ok: true });
    // Undo's enable is the call the rule acts on: undo asks for the exemption first.
    expect(enableTrustAnchor.retriggers).toBe(true);
    expect(disableTrustAnchor.retriggers).toBe(false);
  });

  it('is registered with its IAM actions, and its self signature knows every DisableTrustAnchor as its own', () => {
    expect(ACTION_TYPES).toContain(disableTrustAnchor);
    expect(ACTION_TYPES).toContain(enableTrustAnchor);
    expect([disableTrustAnchor.iam, enableTrustAnchor.iam]).toEqual(['rolesanywhere:DisableTrustAnchor', 'rolesanywhere:EnableTrustAnchor']);
    expect(SELF_SIGNATURES).toContain(disableTrustAnchor.signature);
    expect(enableTrustAnchor).not.toHaveProperty('signature');
  });
});
