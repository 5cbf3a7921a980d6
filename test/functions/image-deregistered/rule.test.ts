import { describe, expect, it } from 'vitest';
import { FINDINGS, imageDeregistered } from '../../../functions/image-deregistered/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, sampleConfig, withDetail } from '../../helpers/samples.js';

const RULE = 'image-deregistered';
const DEREGISTERED = loadSample(RULE, 'alerted.image-deregistered');

async function runEvent(event: unknown, config = sampleConfig()) {
  const deps = capturingDeps({ config });
  return { record: await run(imageDeregistered, event, deps), deps };
}

describe('image-deregistered', () => {
  it('is MEDIUM about the image, and says whether its snapshots went with it', async () => {
    expect(FINDINGS).toEqual(['image-deregistered']);
    const kept = await runSample(imageDeregistered, 'alerted.image-deregistered');
    expect(kept.record).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', finding: 'image-deregistered', actions: [] });
    expect(kept.record.resources).toEqual([{ type: 'AWS::EC2::Image', id: 'ami-0abcdef1234567890' }]);
    expect(kept.record.reason).toContain('its snapshots remain');
    expect(kept.deps.published[0]?.subject).toContain('[MEDIUM] AMI deregistered: ami-0abcdef1234567890');
    const gone = await runSample(imageDeregistered, 'alerted.image-and-snapshots-deleted');
    expect(gone.record.reason).toContain('its snapshots were deleted with it');
  });

  it('gives the quoted commands to find what launches from it and to restore it from the Recycle Bin', async () => {
    const { deps } = await runSample(imageDeregistered, 'alerted.image-deregistered');
    const text = deps.published[0]?.text ?? '';
    expect(text).toContain("aws ec2 describe-instances --filters 'Name=image-id,Values=ami-0abcdef1234567890' --region 'eu-west-1'");
    expect(text).toContain("aws ec2 list-images-in-recycle-bin --image-ids 'ami-0abcdef1234567890' --region 'eu-west-1'");
    expect(text).toContain("aws ec2 restore-image-from-recycle-bin --image-id 'ami-0abcdef1234567890' --region 'eu-west-1'");
  });

  it('gives no command for an image id that is not one', async () => {
    const { record, deps } = await runEvent(withDetail(DEREGISTERED, { requestParameters: { imageId: "ami-1'$(id)\u0007" } }));
    expect(record.outcome).toBe('alerted');
    expect(record.reason).not.toContain('\u0007');
    const text = deps.published[0]?.text ?? '';
    expect(text).toContain('no command: the image id in the event is not a valid image id');
    const commands = text.split('\n').filter((line) => line.includes('aws '));
    expect(commands.join('\n')).not.toContain('$(id)');
  });

  it('is compliant when the image was already gone, and ignores a denied call', async () => {
    const gone = await runSample(imageDeregistered, 'compliant.deregister-image-already-gone');
    expect(gone.record).toMatchObject({ outcome: 'compliant', reason: expect.stringContaining('Client.InvalidAMIID.Unavailable') });
    expect(gone.record.resources).toEqual([{ type: 'AWS::EC2::Image', id: 'ami-0abcdef1234567890' }]);
    expect(gone.deps.published).toEqual([]);
    const denied = await runSample(imageDeregistered, 'ignored.deregister-image-denied');
    expect(denied.record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('Client.UnauthorizedOperation') });
  });

  it('ends failed when the request names no image', async () => {
    const { record } = await runEvent(withDetail(DEREGISTERED, { requestParameters: {} }));
    expect(record).toMatchObject({ outcome: 'failed', reason: expect.stringContaining('detail.requestParameters') });
  });
});
