import { describe, expect, it } from 'vitest';
import { FINDINGS, federationTokenIssued } from '../../../functions/federation-token-issued/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const RULE = 'federation-token-issued';
const ISSUED = loadSample(RULE, 'alerted.federation-token-issued');

async function runEvent(event: unknown, config = sampleConfig()) {
  const deps = capturingDeps({ config });
  return { record: await run(federationTokenIssued, event, deps), deps };
}

describe('federation-token-issued', () => {
  it('is HIGH about the IAM user and the federated user, with the default 12 hours and an allow-everything policy', async () => {
    expect(FINDINGS).toEqual(['federation-token-issued']);
    const { record, deps } = await runSample(federationTokenIssued, 'alerted.federation-token-issued');
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'federation-token-issued', actions: [] });
    expect(record.resources).toEqual([{ type: 'AWS::IAM::User', id: 'mallory' }]);
    expect(record.reason).toContain('federated user admin (arn:aws:sts::111122223333:federated-user/admin)');
    expect(record.reason).toContain('valid for 12 hours');
    expect(record.reason).toContain('allowing every action');
    expect(deps.published[0]?.subject).toContain('[HIGH] Federation token issued by IAM user mallory');
  });

  it('reads the duration asked for and a managed session policy, and keeps every credential out of the record and message', async () => {
    const { record, deps } = await runSample(federationTokenIssued, 'alerted.federation-token-scoped-regional');
    expect(record.reason).toContain('valid for 36 hours');
    expect(record.reason).toContain("the IAM user's permissions that the policy allows");
    expect(record.region).toBe('eu-west-1');
    const all = JSON.stringify(record) + JSON.stringify(deps.published);
    expect(all).not.toContain('ASIAEXAMPLEFEDERATED');
    expect(all).not.toContain('IQoJb3JpZ2luX2Vj');
  });

  it('gives the quoted commands for the user, with placeholders where the event holds no safe value', async () => {
    const { deps } = await runSample(federationTokenIssued, 'alerted.federation-token-issued');
    const text = deps.published[0]?.text ?? '';
    expect(text).toContain("aws iam list-access-keys --user-name 'mallory'");
    expect(text).toContain("aws iam put-user-policy --user-name 'mallory' --policy-name 'deny-old-federation-tokens'");
    expect(text).toContain("aws cloudtrail lookup-events --lookup-attributes AttributeKey=AccessKeyId,AttributeValue=<access-key-id> --region 'us-east-1'");
  });

  it('gives no IAM command for a user name that is not one, and strips control characters', async () => {
    const identity = {
      type: 'IAMUser',
      principalId: 'AIDAEXAMPLE',
      arn: 'arn:aws:iam::111122223333:user/x',
      accountId: '111122223333',
      userName: "x';id\u001b[2J",
    };
    const { record, deps } = await runEvent(withDetail(ISSUED, { userIdentity: identity, requestParameters: { name: 'adm\u001bin' } }));
    expect(record.outcome).toBe('alerted');
    expect(record.reason).not.toContain('\u001b');
    const text = deps.published[0]?.text ?? '';
    expect(text).toContain('no command: the IAM user name in the event is not a valid IAM user name');
    const commands = text.split('\n').filter((line) => line.includes('aws '));
    expect(commands.join('\n')).not.toContain("';id");
    expect(commands.join('\n')).toContain('aws cloudtrail lookup-events');
  });

  it('says a token without a session policy holds only what resource policies grant', async () => {
    const { record } = await runEvent(withDetail(ISSUED, { requestParameters: { name: 'admin', durationSeconds: '900' } }));
    expect(record.reason).toContain('valid for 0.3 hours with no session policy');
  });

  it('is compliant when the call failed (no token issued), and ignores other STS calls', async () => {
    const denied = await runSample(federationTokenIssued, 'compliant.federation-token-denied');
    expect(denied.record).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining('failed (AccessDenied)') });
    expect(denied.deps.published).toEqual([]);
    const other = await runSample(federationTokenIssued, 'ignored.get-session-token');
    expect(other.record.outcome).toBe('ignored');
  });

  it('is exempt for an exempted IAM user (a proxy application meant to issue tokens)', async () => {
    const config = sampleConfig({ exemptions: [{ rule: RULE, resource: 'mallory', reason: 'federation proxy (ticket OPS-11)', expires: '2099-12-31' }] });
    const { record, deps } = await runEvent(ISSUED, config);
    expect(record.outcome).toBe('exempt');
    expect(deps.published).toEqual([]);
  });
});
