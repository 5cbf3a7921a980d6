import { describe, expect, it } from 'vitest';
import type { Notification } from '../../../shared/notifier.js';
import { rejectionNotification, rejectionNotifier } from '../../../shared/live-config/rejection.js';
import { memoryStateStore } from '../../../shared/state/store.js';

const NOTICE = {
  parameter: '/trailguard/prod/exemptions/all/example-a1b2c3d4',
  version: 4,
  problem: 'expires: expected YYYY-MM-DD',
  inForce: 'its last good version stays in force',
};

describe('rejectionNotifier', () => {
  it('publishes once per parameter version across notifiers sharing the state table, and again for a new version', async () => {
    const store = memoryStateStore();
    const sent: Notification[] = [];
    const notifierOf = (rule: string) =>
      rejectionNotifier({
        notify: async (n) => {
          sent.push(n);
          return 'id';
        },
        store,
        now: () => 1_000,
        rule,
        account: '111122223333',
        region: 'eu-west-1',
      });

    await notifierOf('public-bucket')(NOTICE);
    await notifierOf('open-security-group')(NOTICE);
    await notifierOf('public-bucket')(NOTICE);
    expect(sent).toHaveLength(1);
    expect(store.items.get(`event#config-rejected#${NOTICE.parameter}#4`)).toMatchObject({ status: 'done' });

    await notifierOf('open-security-group')({ ...NOTICE, version: 5 });
    expect(sent).toHaveLength(2);
  });

  it('gives the claim back when the Publish fails, so the next try publishes', async () => {
    const store = memoryStateStore();
    let fail = true;
    const sent: Notification[] = [];
    const notify = rejectionNotifier({
      notify: async (n) => {
        if (fail) throw new Error('SNS unreachable');
        sent.push(n);
        return 'id';
      },
      store,
      now: () => 1_000,
      rule: 'public-bucket',
      account: null,
      region: null,
    });

    await expect(notify(NOTICE)).rejects.toThrow('SNS unreachable');
    fail = false;
    await notify(NOTICE);
    expect(sent).toHaveLength(1);
  });

  it('names the parameter, version and problem in a HIGH notification whose text has no control characters', () => {
    const n = rejectionNotification(
      { ...NOTICE, parameter: '/trailguard/prod/exemptions/all/x\u001b[31m\nforged line' },
      'public-bucket',
      '111122223333',
      'eu-west-1',
    );
    expect(n.subject).toBe('[HIGH] trailguard config rejected in 111122223333/eu-west-1');
    expect(n.text).toContain('(version 4) was rejected: expires: expected YYYY-MM-DD.');
    expect(n.text).not.toMatch(/(?!\n)\p{Cc}/u);
    expect(n.text.split('\n').some((line) => line.startsWith('forged line'))).toBe(false);
    expect(n.attributes).toEqual({ rule: 'public-bucket', severity: 'HIGH', outcome: 'failed', account: '111122223333' });
    expect(JSON.parse(n.json)).toMatchObject({ kind: 'config-rejected', version: 4, dedupKey: n.dedupKey });
  });
});
