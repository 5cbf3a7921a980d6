import { DeleteLoginProfileCommand, GetLoginProfileCommand, IAMClient } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { consoleAccessAdded } from '../../../functions/console-access-added/rule.js';
import type { SelfSignature } from '../../../shared/actions/action.js';
import { deleteLoginProfileSignature } from '../../../shared/actions/iam-delete-login-profile.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const iam = mockClient(IAMClient);
const USER = 'svc-reporting';
// The sample's eventTime: the password the event made carries the same second.
const EVENT_TIME = new Date('2026-11-26T09:14:27Z');
const profile = (created: Date) => ({ LoginProfile: { UserName: USER, CreateDate: created, PasswordResetRequired: false } });
const noSuchEntity = () =>
  Object.assign(new Error(`Login Profile for User ${USER} cannot be found.`), {
    name: 'NoSuchEntityException',
    Code: 'NoSuchEntity',
    $metadata: { httpStatusCode: 404 },
  });

beforeEach(() => {
  iam.reset();
  iam.rejects(new Error('unexpected IAM call'));
});
afterEach(() => iam.reset());

const CREATED = 'would-remediate.login-profile-created-for-another-user';
const sample = () => loadSample(consoleAccessAdded.id, CREATED);
const alertByDefault = () => sampleConfig({ rules: { 'console-access-added': {} } });

describe('console-access-added offline', () => {
  it('plans to delete a password given to another user, HIGH, when remediate is on (the sample config)', async () => {
    const { record } = await runSample(consoleAccessAdded, CREATED);
    expect(record).toMatchObject({
      outcome: 'would-remediate',
      severity: 'HIGH',
      finding: 'console-access-added',
      resources: [{ type: 'AWS::IAM::User', id: USER }],
      actions: [{ api: 'IAM.DeleteLoginProfile', params: { UserName: USER } }],
    });
  });

  it('alerts by default, with the exact delete command, and plans nothing', async () => {
    const record = await run(consoleAccessAdded, sample(), capturingDeps({ config: alertByDefault() }));
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'console-access-added', actions: [] });
    expect(record.reason).toContain("aws iam delete-login-profile --user-name 'svc-reporting'");
  });

  it('judges a password a user made for itself with its own keys (no userName): a persistence step too', async () => {
    const { record } = await runSample(consoleAccessAdded, 'would-remediate.login-profile-created-for-own-user');
    expect(record).toMatchObject({ outcome: 'would-remediate', resources: [{ id: 'svc-ci-deployer' }] });
  });

  it('trusts a role by its ARN only: the same role name in another path is judged', async () => {
    const trusted = await runSample(consoleAccessAdded, 'compliant.login-profile-by-onboarding-role');
    expect(trusted.record).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining('trustedRoleArns') });
    const event = loadSample(consoleAccessAdded.id, 'compliant.login-profile-by-onboarding-role') as { detail?: unknown };
    const lookalike = structuredClone(event) as Record<string, unknown>;
    const identity = lookalike.userIdentity as { sessionContext: { sessionIssuer: { arn: string } } };
    identity.sessionContext.sessionIssuer.arn = 'arn:aws:iam::111122223333:role/sandbox/identity-onboarding';
    const record = await run(consoleAccessAdded, lookalike, capturingDeps({ config: sampleConfig() }));
    expect(record.outcome).toBe('would-remediate');
  });

  it('alerts HIGH on a password changed for another user, and calls a change of its own compliant', async () => {
    const other = await runSample(consoleAccessAdded, 'alerted.password-changed-for-another-user');
    expect(other.record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'password-changed-for-another-user', actions: [] });
    expect(other.deps.published[0]?.text).toContain("--user-name 'bob'");
    const own = await runSample(consoleAccessAdded, 'compliant.password-changed-by-self');
    expect(own.record.outcome).toBe('compliant');
  });

  it("alerts on the root user's password (no user named, root caller), created or changed, and plans no delete", async () => {
    const { record } = await runSample(consoleAccessAdded, 'alerted.root-login-profile-created');
    expect(record).toMatchObject({ outcome: 'alerted', finding: 'root-password-set', actions: [] });
    const changed = withDetail(loadSample(consoleAccessAdded.id, 'alerted.root-login-profile-created'), {
      eventName: 'UpdateLoginProfile',
      responseElements: null,
    });
    expect(await run(consoleAccessAdded, changed, capturingDeps({ config: sampleConfig() }))).toMatchObject({
      outcome: 'alerted',
      finding: 'root-password-set',
    });
  });

  it.each([
    [{ userName: "bob'; rm -rf /" }, 'userName'],
    [{ userName: 42 }, 'userName'],
    [{ userName: 'x'.repeat(65) }, 'userName'],
  ])('refuses %j as a parse error naming the field, never a call', async (requestParameters, field) => {
    const record = await run(consoleAccessAdded, withDetail(sample(), { requestParameters }), capturingDeps({ mode: 'live', config: sampleConfig() }));
    expect(record).toMatchObject({ outcome: 'failed', error: { kind: 'parse' } });
    expect(record.reason).toContain(field);
    expect(iam.calls()).toHaveLength(0);
  });

  it("knows trailguard's own DeleteLoginProfile (the loop guard)", () => {
    const signature: SelfSignature = deleteLoginProfileSignature;
    expect(signature.eventName).toBe('DeleteLoginProfile');
    expect(signature.isOwnWrite({ userName: USER }, { enforces: false, config: sampleConfig() })).toBe(true);
    expect(signature.isOwnWrite('not a request', { enforces: false, config: sampleConfig() })).toBe(false);
  });
});

describe('console-access-added live: decided on the password now', () => {
  const runLive = (config = sampleConfig()) => run(consoleAccessAdded, sample(), capturingDeps({ mode: 'live', config }));

  it('deletes the password the event made, reads back NoSuchEntity, keeps its CreateDate as previous, and says undo cannot restore it', async () => {
    iam.on(GetLoginProfileCommand).resolvesOnce(profile(EVENT_TIME)).rejects(noSuchEntity());
    iam.on(DeleteLoginProfileCommand).resolves({});
    const record = await runLive();
    expect(record).toMatchObject({ outcome: 'remediated', actions: [{ previous: { CreateDate: EVENT_TIME.toISOString(), PasswordResetRequired: false } }] });
    expect(iam.commandCalls(DeleteLoginProfileCommand).map((c) => c.args[0].input)).toEqual([{ UserName: USER }]);
    expect(JSON.stringify(record)).not.toMatch(/password"\s*:/i);
  });

  it('fails when the password reads back still there', async () => {
    iam.on(GetLoginProfileCommand).resolves(profile(EVENT_TIME));
    iam.on(DeleteLoginProfileCommand).resolves({});
    const record = await runLive();
    expect(record.outcome).toBe('failed');
  });

  it('leaves a later password alone (deleted and made again since): compliant, no delete', async () => {
    iam.on(GetLoginProfileCommand).resolves(profile(new Date(EVENT_TIME.getTime() + 10 * 60_000)));
    const record = await runLive();
    expect(record).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining('not by this event') });
    expect(iam.commandCalls(DeleteLoginProfileCommand)).toHaveLength(0);
  });

  it('ends ignored when the password is gone already (NoSuchEntity), with no delete', async () => {
    iam.on(GetLoginProfileCommand).rejects(noSuchEntity());
    const record = await runLive();
    expect(record.outcome).toBe('ignored');
    expect(iam.commandCalls(DeleteLoginProfileCommand)).toHaveLength(0);
  });

  it('reads but never deletes when remediate is off: alerted with the command', async () => {
    iam.on(GetLoginProfileCommand).resolves(profile(EVENT_TIME));
    const record = await runLive(alertByDefault());
    expect(record.outcome).toBe('alerted');
    expect(iam.commandCalls(DeleteLoginProfileCommand)).toHaveLength(0);
  });

  it('does not read for a password changed for another user: the alert is from the event', async () => {
    const record = await run(
      consoleAccessAdded,
      loadSample(consoleAccessAdded.id, 'alerted.password-changed-for-another-user'),
      capturingDeps({ mode: 'live', config: sampleConfig() }),
    );
    expect(record.outcome).toBe('alerted');
    expect(iam.calls()).toHaveLength(0);
  });
});
