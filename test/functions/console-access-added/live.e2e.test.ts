import { CreateLoginProfileCommand, CreateUserCommand, GetLoginProfileCommand, IAMClient } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { ACTION_TYPES } from '../../../shared/actions/registry.js';
import { reversalOf } from '../../../shared/actions/reversal.js';
import { errorCodeOf } from '../../../shared/aws/errors.js';
import { ACCOUNT, ENDPOINT, REGION } from '../../e2e/helpers/emulator.js';
import { sampleEvent } from '../../e2e/helpers/events.js';
import { invokeHandler } from '../../e2e/helpers/invoke.js';
import { freshStackPerTest } from '../../e2e/helpers/stack.js';

const stack = freshStackPerTest();
const env = stack.env;
const iam = new IAMClient({
  region: REGION,
  endpoint: ENDPOINT,
  credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'testing', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'testing' },
  maxAttempts: 1,
});
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6)}`;
const SAMPLE = 'would-remediate.login-profile-created-for-another-user';
const REMEDIATE = { 'console-access-added': { remediate: true } };

/** A user given a console password just now, and the event its CreateLoginProfile would have logged. */
async function userWithPassword() {
  const user = unique('e2e-user');
  await iam.send(new CreateUserCommand({ UserName: user }));
  await iam.send(new CreateLoginProfileCommand({ UserName: user, Password: `Pw-${unique('x')}-9!`, PasswordResetRequired: false }));
  const event = sampleEvent('console-access-added', SAMPLE, { requestParameters: { userName: user, passwordResetRequired: false } });
  return { user, event };
}

const hasPassword = async (user: string) =>
  iam.send(new GetLoginProfileCommand({ UserName: user })).then(
    () => true,
    (error: unknown) => {
      if (errorCodeOf(error) === 'NoSuchEntity') return false;
      throw error;
    },
  );

describe('console-access-added against the emulator', () => {
  it('live, remediate on: deletes the password, reads back none, notifies, and undo refuses to invent a password', async () => {
    const { user, event } = await userWithPassword();

    const { record } = await invokeHandler('console-access-added', event, env('live', { rules: REMEDIATE }));

    expect(record).toMatchObject({
      outcome: 'remediated',
      severity: 'HIGH',
      actions: [{ api: 'IAM.DeleteLoginProfile', status: 'done', params: { UserName: user }, verification: { ok: true } }],
      notification: { status: 'sent' },
    });
    expect(await hasPassword(user)).toBe(false);
    expect(await stack.received()).toMatchObject([{ attributes: { rule: 'console-access-added', severity: 'HIGH', outcome: 'remediated', account: ACCOUNT } }]);
    const action = record.actions[0];
    if (!action) throw new Error('no action');
    const reversal = reversalOf(ACTION_TYPES, record, action);
    expect(reversal).toMatchObject({ kind: 'none', why: expect.stringContaining('cannot be restored') });
  });

  it('live, by default: alerts with the command and leaves the password', async () => {
    const { user, event } = await userWithPassword();

    const { record } = await invokeHandler('console-access-added', event, env('live'));

    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', actions: [] });
    expect(record.reason).toContain(`aws iam delete-login-profile --user-name '${user}'`);
    expect(await hasPassword(user)).toBe(true);
  });

  it('dry-run: plans the delete and changes nothing', async () => {
    const { user, event } = await userWithPassword();

    const { record } = await invokeHandler('console-access-added', event, env('dry-run', { rules: REMEDIATE }));

    expect(record).toMatchObject({ outcome: 'would-remediate', actions: [{ status: 'planned', params: { UserName: user } }] });
    expect(await hasPassword(user)).toBe(true);
  });

  it('live: ends ignored when the password is already gone', async () => {
    const user = unique('e2e-user');
    await iam.send(new CreateUserCommand({ UserName: user }));
    const event = sampleEvent('console-access-added', SAMPLE, { requestParameters: { userName: user, passwordResetRequired: false } });

    const { record } = await invokeHandler('console-access-added', event, env('live', { rules: REMEDIATE }));

    expect(record).toMatchObject({ outcome: 'ignored', actions: [] });
  });
});
