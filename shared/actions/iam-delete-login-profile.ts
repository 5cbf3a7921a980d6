/**
 * IAM.DeleteLoginProfile: removes the console password a user was just given (console-access-added). The password is
 * never readable, so the deletion cannot be reversed by a call: undo refuses and says how to give access back.
 */
import { DeleteLoginProfileCommand, GetLoginProfileCommand, type IAMClient } from '@aws-sdk/client-iam';
import * as v from 'valibot';
import { hasErrorCode } from '../aws/errors.js';
import { awsCommand, checked, placeholder } from '../shell.js';
import type { ActionType, Reversal, SelfSignature } from './action.js';

/** IAM user names: 1-64 of letters, digits and `+=,.@_-`. */
const USER_NAME = /^[\w+=,.@-]{1,64}$/;
export const isIamUserName = (value: string): boolean => USER_NAME.test(value);
const UserName = v.pipe(v.string(), v.regex(USER_NAME, 'an IAM user name (1-64 of letters, digits and +=,.@_-)'));

export const DeleteLoginProfileParams = v.strictObject({ UserName });
export type DeleteLoginProfileParams = v.InferOutput<typeof DeleteLoginProfileParams>;
/** The profile deleted, as read before: when it was created and whether a reset was required. Never a password. */
export const LoginProfilePrevious = v.strictObject({ CreateDate: v.string(), PasswordResetRequired: v.boolean() });
export type LoginProfilePrevious = v.InferOutput<typeof LoginProfilePrevious>;

/** The user's login profile now; IAM answers NoSuchEntity when it has none (or the user is gone), which the caller judges. */
export async function readLoginProfile(iam: IAMClient, userName: string): Promise<LoginProfilePrevious> {
  const { LoginProfile } = await iam.send(new GetLoginProfileCommand({ UserName: userName }));
  return { CreateDate: LoginProfile?.CreateDate?.toISOString() ?? '', PasswordResetRequired: LoginProfile?.PasswordResetRequired === true };
}

/** The user's login profile now, or undefined when it has none (NoSuchEntity: no profile, or no such user). */
async function loginProfileOf(iam: IAMClient, userName: string): Promise<LoginProfilePrevious | undefined> {
  try {
    return await readLoginProfile(iam, userName);
  } catch (error) {
    if (hasErrorCode(error, 'NoSuchEntity')) return undefined;
    throw error;
  }
}

/** trailguard only ever deletes login profiles: every DeleteLoginProfile by its roles is its own. */
export const deleteLoginProfileSignature = {
  api: 'IAM.DeleteLoginProfile',
  eventName: 'DeleteLoginProfile',
  isOwnWrite: (request) => typeof request === 'object' && request !== null,
} as const satisfies SelfSignature;

const userArg = (name: string) => checked(name, 'IAM user name', isIamUserName);

export const deleteLoginProfile = {
  api: 'IAM.DeleteLoginProfile',
  iam: 'iam:DeleteLoginProfile',
  clients: ['iam'],
  params: DeleteLoginProfileParams,
  previous: LoginProfilePrevious,
  // A deletion is no event any rule acts on (console-access-added watches creations).
  retriggers: false,
  signature: deleteLoginProfileSignature,
  async perform({ params }, { iam }) {
    await iam.send(new DeleteLoginProfileCommand({ UserName: params.UserName }));
  },
  async verify({ params }, { iam }) {
    const now = await loginProfileOf(iam, params.UserName);
    return now === undefined
      ? { ok: true, detail: `${params.UserName} reads back with no console password (NoSuchEntity)` }
      : { ok: false, detail: `${params.UserName} still has a console password (created ${now.CreateDate})` };
  },
  reverse({ params }): Reversal {
    // IAM never returns a password, so the deleted one cannot be put back; a new one would have to be made up and
    // handed to someone, which undo must not do (it would print or store a password).
    return {
      kind: 'none',
      why: `a deleted console password cannot be restored; if ${params.UserName} needs console access, set a new password that must be reset at first sign-in and hand it over out of band: ${awsCommand(
        'iam',
        'create-login-profile',
        { userName: userArg(params.UserName), password: placeholder('<new-password>'), passwordResetRequired: true },
      )}`,
    };
  },
  command: ({ params }) => awsCommand('iam', 'delete-login-profile', { userName: userArg(params.UserName) }),
  describe: ({ params }) => `delete the console password of IAM user ${params.UserName}`,
} as const satisfies ActionType<DeleteLoginProfileParams, LoginProfilePrevious, 'iam'>;
