/**
 * IAM.UpdateAssumeRolePolicy: replace a role's trust policy with the same document less the statements (or principals)
 * that admitted an outside account (outside-role-trust), and, for undo, put the replaced document back. The role
 * itself is kept: it is evidence.
 */
import { GetRoleCommand, UpdateAssumeRolePolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import * as v from 'valibot';
import { isIamName } from '../aws/names.js';
import { outsidePolicyOf } from '../outside.js';
import { namesOnlyTrusted, policyDocumentOf, samePolicy, statementsOf } from '../outside-principals.js';
import { awsCommand, checked } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';

/** IAM's limit for a trust policy is 2,048 characters by default (quota up to 8,192): anything longer is no trust policy. */
const MAX_TRUST_POLICY = 8192;
const PolicyText = v.pipe(
  v.string(),
  v.maxLength(MAX_TRUST_POLICY, 'a trust policy of at most 8192 characters'),
  v.check((text) => policyDocumentOf(text) !== undefined && text.trim().startsWith('{'), 'a JSON policy document'),
);

export const UpdateAssumeRolePolicyParams = v.strictObject({
  RoleName: v.pipe(v.string(), v.check(isIamName, 'an IAM role name')),
  PolicyDocument: PolicyText,
});
export type UpdateAssumeRolePolicyParams = v.InferOutput<typeof UpdateAssumeRolePolicyParams>;

/** The document replaced, as JSON text: what undo puts back. */
export const TrustPolicyPrevious = v.strictObject({ PolicyDocument: PolicyText });
export type TrustPolicyPrevious = v.InferOutput<typeof TrustPolicyPrevious>;

/**
 * The role's trust policy now, as JSON text: GetRole answers it URL-encoded (RFC 3986), which is decoded here; an
 * emulator may answer plain JSON.
 */
export async function trustPolicyText(iam: IAMClient, roleName: string): Promise<string> {
  const role = await iam.send(new GetRoleCommand({ RoleName: roleName }));
  const raw = role.Role?.AssumeRolePolicyDocument ?? '';
  const text = raw.trim().startsWith('{') ? raw : decodeURIComponent(raw);
  if (policyDocumentOf(text) === undefined) throw new Error(`the trust policy of role ${roleName} did not read back as JSON`);
  return text;
}

/**
 * Ours when the new document lets no AWS principal outside assume the role, as far as the configuration tells
 * (namesOnlyTrusted): trailguard only drops principals. The same call by its role trusting another account is
 * judged like anyone's; a rewrite keeping a member account is judged again and found inside (no write, no loop).
 */
export const updateAssumeRolePolicySignature = {
  api: 'IAM.UpdateAssumeRolePolicy',
  eventName: 'UpdateAssumeRolePolicy',
  isOwnWrite(request, caller) {
    if (typeof request !== 'object' || request === null) return false;
    const document = policyDocumentOf((request as Record<string, unknown>).policyDocument);
    return document !== undefined && namesOnlyTrusted(document, outsidePolicyOf(caller.config), caller.account);
  },
} as const satisfies SelfSignature;

export const updateAssumeRolePolicy = {
  // A literal, not the signature's: see s3-put-public-access-block.ts.
  api: 'IAM.UpdateAssumeRolePolicy',
  iam: 'iam:UpdateAssumeRolePolicy',
  clients: ['iam'],
  params: UpdateAssumeRolePolicyParams,
  previous: TrustPolicyPrevious,
  // Undo puts the outside trust back: outside-role-trust acts on it again unless exempted.
  retriggers: true,
  signature: updateAssumeRolePolicySignature,
  async perform({ params }, { iam }) {
    await iam.send(new UpdateAssumeRolePolicyCommand(params));
  },
  async verify({ params }, { iam }) {
    const now = await trustPolicyText(iam, params.RoleName);
    return samePolicy(policyDocumentOf(now), policyDocumentOf(params.PolicyDocument))
      ? { ok: true, detail: `the trust policy of role ${params.RoleName} reads back as written` }
      : { ok: false, detail: `the trust policy of role ${params.RoleName} reads back other than written` };
  },
  reverse({ params, previous, resource, region }): Reversal {
    if (!previous) return { kind: 'none', why: 'the record has no replaced trust policy in previous.PolicyDocument: nothing known to put back' };
    return {
      kind: 'steps',
      steps: [
        reverseStepOf(
          updateAssumeRolePolicy,
          { ...resource, region },
          { RoleName: params.RoleName, PolicyDocument: previous.PolicyDocument },
          { PolicyDocument: params.PolicyDocument },
        ),
      ],
    };
  },
  // IAM is global: no Region flag. The document is JSON built by trailguard, single-quoted like every value.
  command: ({ params }) =>
    awsCommand('iam', 'update-assume-role-policy', {
      roleName: checked(params.RoleName, 'role name', isIamName),
      policyDocument: params.PolicyDocument,
    }),
  describe: ({ params }) =>
    `replace the trust policy of role ${params.RoleName} (${statementsOf(policyDocumentOf(params.PolicyDocument) ?? {}).length} statements)`,
} satisfies ActionType<UpdateAssumeRolePolicyParams, TrustPolicyPrevious, 'iam'>;
