import { DeleteLoginProfileCommand, GetLoginProfileCommand, IAMClient } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, type Step } from '../../../shared/actions/action.js';
import { deleteLoginProfile, type DeleteLoginProfileParams, type LoginProfilePrevious } from '../../../shared/actions/iam-delete-login-profile.js';

const iam = mockClient(IAMClient);
const clients = { iam: new IAMClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
const RESOURCE = { type: 'AWS::IAM::User', id: 'svc-reporting' };
const PREVIOUS = { CreateDate: '2026-11-26T09:14:27.000Z', PasswordResetRequired: false };
const stepFor = (params: unknown, previous: unknown = PREVIOUS) =>
  stepOf(deleteLoginProfile, { api: deleteLoginProfile.api, resource: RESOURCE, params, previous }, 'us-east-1') as Step<
    DeleteLoginProfileParams,
    LoginProfilePrevious
  >;
const noSuchEntity = () => Object.assign(new Error('not found'), { name: 'NoSuchEntityException', Code: 'NoSuchEntity', $metadata: { httpStatusCode: 404 } });

beforeEach(() => {
  iam.reset();
  iam.rejects(new Error('unexpected IAM call'));
});
afterEach(() => iam.reset());

describe('IAM.DeleteLoginProfile', () => {
  it.each([{ UserName: "bob' --debug" }, { UserName: '' }, { UserName: 'x'.repeat(65) }, { UserName: 'bob', Password: 'p' }, {}])(
    'refuses %j before any call',
    (params) => {
      expect(() => stepFor(params)).toThrow(expect.objectContaining({ kind: 'invalid', code: 'InvalidActionParams' }));
    },
  );

  it('deletes exactly the named user, and reads back NoSuchEntity as done', async () => {
    iam.on(DeleteLoginProfileCommand).resolves({});
    iam.on(GetLoginProfileCommand).rejects(noSuchEntity());
    const step = stepFor({ UserName: 'svc-reporting' });
    await deleteLoginProfile.perform(step, clients);
    expect(iam.commandCalls(DeleteLoginProfileCommand).map((c) => c.args[0].input)).toEqual([{ UserName: 'svc-reporting' }]);
    expect(await deleteLoginProfile.verify(step, clients)).toMatchObject({ ok: true });
  });

  it('reads back a password still there as not done, and passes other read errors on', async () => {
    iam.on(GetLoginProfileCommand).resolvesOnce({ LoginProfile: { UserName: 'svc-reporting', CreateDate: new Date(), PasswordResetRequired: false } });
    expect(await deleteLoginProfile.verify(stepFor({ UserName: 'svc-reporting' }), clients)).toMatchObject({ ok: false });
    iam.on(GetLoginProfileCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    await expect(deleteLoginProfile.verify(stepFor({ UserName: 'svc-reporting' }), clients)).rejects.toThrow('denied');
  });

  it('gives the quoted command, and a reversal that refuses to restore a password (no password in it)', () => {
    const step = stepFor({ UserName: 'svc.reporting@corp' });
    expect(deleteLoginProfile.command(step)).toBe("aws iam delete-login-profile --user-name 'svc.reporting@corp'");
    const reversal = deleteLoginProfile.reverse(step);
    expect(reversal).toMatchObject({ kind: 'none', why: expect.stringContaining('cannot be restored') });
    expect(reversal.kind === 'none' && reversal.why).toContain('--password <new-password> --password-reset-required');
  });
});
