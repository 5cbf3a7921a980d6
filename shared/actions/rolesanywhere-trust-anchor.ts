/**
 * RolesAnywhere.DisableTrustAnchor (trust-anchor-created) and, for undo, RolesAnywhere.EnableTrustAnchor. Both act on
 * one trust anchor in the client's Region, through the hand-signed client of shared/aws/rolesanywhere.ts.
 */
import * as v from 'valibot';
import { regionArg } from '../aws/names.js';
import { isTrustAnchorId, type RolesAnywhereClient } from '../aws/rolesanywhere.js';
import { awsCommand, checked } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';

export const TRUST_ANCHOR_TYPE = 'AWS::RolesAnywhere::TrustAnchor';

/** The anchor's id, checked as a UUID before it reaches a URL path or a command line. */
export const TrustAnchorParams = v.strictObject({
  trustAnchorId: v.pipe(v.string(), v.check(isTrustAnchorId, 'expected a trust anchor id (a UUID)')),
});
export type TrustAnchorParams = v.InferOutput<typeof TrustAnchorParams>;
/** Whether the anchor was enabled before the write, as read. */
export const TrustAnchorPrevious = v.strictObject({ enabled: v.boolean() });
export type TrustAnchorPrevious = v.InferOutput<typeof TrustAnchorPrevious>;

/** trailguard only ever disables trust anchors: every DisableTrustAnchor by its roles is its own. */
export const disableTrustAnchorSignature = {
  api: 'RolesAnywhere.DisableTrustAnchor',
  eventName: 'DisableTrustAnchor',
  isOwnWrite: () => true,
} as const satisfies SelfSignature;

async function readBack(rolesAnywhere: RolesAnywhereClient, id: string, wanted: boolean) {
  const anchor = await rolesAnywhere.getTrustAnchor(id);
  const word = (on: boolean) => (on ? 'enabled' : 'disabled');
  return anchor.enabled === wanted
    ? { ok: true, detail: `trust anchor ${id} reads back ${word(anchor.enabled)}` }
    : { ok: false, detail: `trust anchor ${id} is still ${word(anchor.enabled)}` };
}

const anchorArg = (id: string) => checked(id, 'trust anchor id', isTrustAnchorId);

/** Undo's write: the anchor enabled again, as it was before trailguard disabled it. */
export const enableTrustAnchor = {
  api: 'RolesAnywhere.EnableTrustAnchor',
  iam: 'rolesanywhere:EnableTrustAnchor',
  clients: ['rolesAnywhere'],
  params: TrustAnchorParams,
  previous: TrustAnchorPrevious,
  // Enabling is a call trust-anchor-created acts on: it would be disabled again unless exempted.
  retriggers: true,
  async perform({ params }, { rolesAnywhere }) {
    await rolesAnywhere.enableTrustAnchor(params.trustAnchorId);
  },
  verify: ({ params }, { rolesAnywhere }) => readBack(rolesAnywhere, params.trustAnchorId, true),
  reverse: (): Reversal => ({
    kind: 'none',
    why: "an operator's undo: to remediate again, remove its exemption and replay the event with --mode live",
  }),
  command: ({ params, region }) =>
    awsCommand('rolesanywhere', 'enable-trust-anchor', { trustAnchorId: anchorArg(params.trustAnchorId), region: regionArg(region) }),
  describe: ({ params, region }) => `enable IAM Roles Anywhere trust anchor ${params.trustAnchorId} in ${region}`,
} as const satisfies ActionType<TrustAnchorParams, TrustAnchorPrevious, 'rolesAnywhere'>;

export const disableTrustAnchor = {
  api: 'RolesAnywhere.DisableTrustAnchor',
  iam: 'rolesanywhere:DisableTrustAnchor',
  clients: ['rolesAnywhere'],
  params: TrustAnchorParams,
  previous: TrustAnchorPrevious,
  // Disabling is no event any rule acts on.
  retriggers: false,
  signature: disableTrustAnchorSignature,
  async perform({ params }, { rolesAnywhere }) {
    await rolesAnywhere.disableTrustAnchor(params.trustAnchorId);
  },
  verify: ({ params }, { rolesAnywhere }) => readBack(rolesAnywhere, params.trustAnchorId, false),
  reverse({ params, previous, resource, region }): Reversal {
    if (!previous) return { kind: 'none', why: 'the record does not say whether the trust anchor was enabled before: not enabled blindly' };
    if (!previous.enabled) return { kind: 'none', why: 'the trust anchor was already disabled: nothing was changed' };
    return { kind: 'steps', steps: [reverseStepOf(enableTrustAnchor, { ...resource, region }, params, { enabled: false })] };
  },
  command: ({ params, region }) =>
    awsCommand('rolesanywhere', 'disable-trust-anchor', { trustAnchorId: anchorArg(params.trustAnchorId), region: regionArg(region) }),
  describe: ({ params, region }) => `disable IAM Roles Anywhere trust anchor ${params.trustAnchorId} in ${region}`,
} as const satisfies ActionType<TrustAnchorParams, TrustAnchorPrevious, 'rolesAnywhere'>;
