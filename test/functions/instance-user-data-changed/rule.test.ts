import { describe, expect, it } from 'vitest';
import { FINDINGS, instanceUserDataChanged } from '../../../functions/instance-user-data-changed/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const RULE = 'instance-user-data-changed';
const REPLACED = loadSample(RULE, 'alerted.user-data-replaced');

async function runEvent(event: unknown, config = sampleConfig()) {
  const deps = capturingDeps({ config });
  return { record: await run(instanceUserDataChanged, event, deps), deps };
}

describe('instance-user-data-changed', () => {
  it('is HIGH about the instance, whoever changed it, in either request form', async () => {
    expect(FINDINGS).toEqual(['instance-user-data-changed']);
    for (const [name, actor] of [
      ['alerted.user-data-replaced', 'arn:aws:iam::111122223333:user/mallory'],
      ['alerted.user-data-attribute-form', 'arn:aws:sts::111122223333:assumed-role/incident-admin/laptop-session'],
    ] as const) {
      const { record, deps } = await runSample(instanceUserDataChanged, name);
      expect(record, name).toMatchObject({ outcome: 'alerted', severity: 'HIGH', finding: 'instance-user-data-changed', actions: [] });
      expect(record.resources).toEqual([{ type: 'AWS::EC2::Instance', id: 'i-0a1b2c3d4e5f67890' }]);
      expect(record.reason).toContain(`replaced by ${actor}`);
      expect(record.reason).toContain('runs as root');
      expect(deps.published[0]?.subject).toContain('[HIGH] Instance user data changed: i-0a1b2c3d4e5f67890');
    }
  });

  it('says how to read the script now held (redacted in CloudTrail) and where to see who stopped and changed it', async () => {
    const { deps } = await runSample(instanceUserDataChanged, 'alerted.user-data-replaced');
    const text = deps.published[0]?.text ?? '';
    expect(text).toContain(
      "aws ec2 describe-instance-attribute --instance-id 'i-0a1b2c3d4e5f67890' --attribute 'userData' --query 'UserData.Value' --output 'text' --region 'eu-west-1' | base64 --decode",
    );
    expect(text).toContain(
      "aws cloudtrail lookup-events --lookup-attributes 'AttributeKey=ResourceName,AttributeValue=i-0a1b2c3d4e5f67890' --region 'eu-west-1'",
    );
    expect(text).not.toContain('sensitiveDataRemoved');
  });

  it('gives no command for an instance id that is not one, and strips control characters from the reason', async () => {
    const { record, deps } = await runEvent(
      withDetail(REPLACED, { requestParameters: { instanceId: "i-1';rm -rf /\u001b[2J", userData: '<sensitiveDataRemoved>' } }),
    );
    expect(record.outcome).toBe('alerted');
    expect(record.reason).not.toContain('\u001b');
    const text = deps.published[0]?.text ?? '';
    expect(text).toContain('no command: the instance id in the event is not a valid instance id');
    const commands = text.split('\n').filter((line) => line.includes('aws '));
    expect(commands.join('\n')).not.toContain('rm -rf');
  });

  it('is compliant, with the reason, for another attribute (instance type, security groups)', async () => {
    const { record, deps } = await runSample(instanceUserDataChanged, 'compliant.instance-type-changed');
    expect(record).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining('not its user data') });
    expect(deps.published).toEqual([]);
    const groups = await runEvent(
      withDetail(REPLACED, { requestParameters: { instanceId: 'i-0a1b2c3d4e5f67890', groupSet: { items: [{ groupId: 'sg-0123456789abcdef0' }] } } }),
    );
    expect(groups.record.outcome).toBe('compliant');
  });

  it('ignores a refused change (the instance was running: nothing changed)', async () => {
    const { record } = await runSample(instanceUserDataChanged, 'ignored.user-data-instance-running');
    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('Client.IncorrectInstanceState') });
  });

  it('ends failed, not alerted on a guess, when the request names no instance', async () => {
    const { record } = await runEvent(withDetail(REPLACED, { requestParameters: { userData: '<sensitiveDataRemoved>' } }));
    expect(record).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('detail.requestParameters') });
  });

  it('is exempt for an exempted instance', async () => {
    const config = sampleConfig({
      exemptions: [{ rule: RULE, resource: 'i-0a1b2c3d4e5f67890', reason: 'golden-image builder (ticket OPS-9)', expires: '2099-12-31' }],
    });
    const { record, deps } = await runEvent(REPLACED, config);
    expect(record.outcome).toBe('exempt');
    expect(deps.published).toEqual([]);
  });
});
