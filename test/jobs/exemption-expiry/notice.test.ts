import { describe, expect, it, vi } from 'vitest';
import { runExpiryJob } from '../../../jobs/exemption-expiry/job.js';
import { LIST_LIMIT, expiryFindings, expiryNotification } from '../../../jobs/exemption-expiry/notice.js';
import { type ListedExemption, parseStored } from '../../../shared/exemption-store.js';
import { Logger } from '../../../shared/log.js';
import type { Notification } from '../../../shared/notifier.js';
import { publishedBytes, SNS_MESSAGE_LIMIT } from '../../../shared/notification-size.js';

const TODAY = '2026-12-07';
const NOW = Date.parse(`${TODAY}T09:00:00Z`);
const CONTEXT = { account: '111122223333', region: 'eu-west-1', storePath: '/trailguard/prod/exemptions' };
const stored = (rule: ListedExemption['rule'], resource: string, expires?: string, reason = 'SEC-1: approved'): ListedExemption => ({
  source: 'store',
  rule,
  parameter: `/trailguard/prod/exemptions/${rule === '*' ? 'all' : rule}/${resource}`,
  problem: undefined,
  exemption: { resource, reason, ...(expires ? { expires } : {}) },
});
const invalid: ListedExemption = {
  source: 'store',
  rule: 'public-bucket',
  parameter: '/trailguard/prod/exemptions/public-bucket/x',
  exemption: undefined,
  problem: 'reason: Invalid length',
};

function run(
  store: readonly ListedExemption[],
  deployed: Parameters<typeof runExpiryJob>[0]['deployed'] = [],
  notify = vi.fn(async (_n: Notification) => 'msg-1'),
) {
  const lines: string[] = [];
  const result = runExpiryJob({
    ...CONTEXT,
    readStore: async () => store,
    deployed,
    notify,
    now: () => NOW,
    log: new Logger('INFO', (line) => lines.push(line)),
  });
  return { result, notify, lines };
}

describe('the weekly exemption notice', () => {
  it('lists the exemptions expiring within 14 days and the expired ones, soonest first, and points at exempt remove --expired', async () => {
    const { result, notify, lines } = run(
      [
        stored('public-bucket', 'far-bucket', '2026-12-22'),
        stored('public-bucket', 'soon-bucket', '2026-12-10'),
        stored('*', 'today-*', '2026-12-07'),
        stored('open-security-group', 'sg-0123456789abcdef0', '2026-12-21'),
        stored('trail-logging', 'old-trail', '2026-11-30'),
        stored('untagged-instance', 'i-0123456789abcdef0'),
        invalid,
      ],
      [{ rule: 'public-bucket', resource: 'deploy-bucket', reason: 'from the stack', expires: '2026-12-01' }],
    );
    expect(await result).toEqual({ expiring: 3, expired: 2, invalid: 1, notification: 'msg-1' });
    expect(notify).toHaveBeenCalledTimes(1);
    const sent = notify.mock.calls[0]?.[0] as Notification;
    expect(sent.subject).toBe('[LOW] trailguard: 3 exemptions expire within 14 days, 2 expired in 111122223333/eu-west-1');
    expect(sent.attributes).toEqual({ rule: 'exemption-expiry', severity: 'LOW', outcome: 'notice', account: '111122223333' });
    expect(sent.dedupKey).toBe('exemption-expiry:111122223333:eu-west-1:2026-12-07');
    const text = sent.text;
    expect(text.indexOf('today-*: expires 2026-12-07 (today)')).toBeLessThan(text.indexOf('soon-bucket: expires 2026-12-10 (in 3 days)'));
    expect(text.indexOf('soon-bucket')).toBeLessThan(text.indexOf('sg-0123456789abcdef0: expires 2026-12-21 (in 14 days)'));
    expect(text).not.toContain('far-bucket');
    expect(text).not.toContain('i-0123456789abcdef0');
    expect(text).toContain('Expired (2): they exempt nothing any more.');
    expect(text).toContain('  trail-logging old-trail: expired 2026-11-30 (7 days ago), store; reason: SEC-1: approved');
    expect(text).toContain('  public-bucket deploy-bucket: expired 2026-12-01 (6 days ago), deploy-time; reason: from the stack');
    expect(text).toContain('  trailguard exempt remove --expired\n');
    expect(text).toContain('from TRAILGUARD_EXEMPTIONS');
    expect(text).toContain('1 value in the store the functions ignore (invalid, or nested below a rule folder, which the functions never read)');
    // Renewal in place: no moment without the exemption, which a function could cache for its whole cache time.
    expect(text).toContain('renew it in place with a later --expires (trailguard exempt add --replace with the same --rule and --resource)');
    expect(text).not.toContain('remove it and add it again');
    expect(JSON.parse(sent.json)).toMatchObject({ kind: 'exemption-expiry', expiringTotal: 3, expiredTotal: 2, invalid: 1 });
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      level: 'INFO',
      message: 'trailguard exemption expiry',
      expiring: 3,
      expired: 2,
      notification: 'msg-1',
    });
  });

  it('counts a parameter nested below a rule folder as INVALID (the functions never read it), never as expiring', async () => {
    const nested = parseStored('/trailguard/prod', {
      Name: '/trailguard/prod/exemptions/public-bucket/team-a/x',
      Value: JSON.stringify({ resource: 'nested-bucket', reason: 'r', expires: '2026-12-08' }),
    });
    expect(nested).toMatchObject({ exemption: undefined, problem: expect.stringContaining('not read by the functions') });
    const { result, notify } = run([nested, stored('public-bucket', 'soon-bucket', '2026-12-10')]);
    expect(await result).toEqual({ expiring: 1, expired: 0, invalid: 1, notification: 'msg-1' });
    const text = (notify.mock.calls[0]?.[0] as Notification | undefined)?.text ?? '';
    expect(text).not.toContain('nested-bucket');
    expect(text).toContain('1 value in the store the functions ignore');
  });

  it('publishes nothing when nothing expires within 14 days and nothing has expired', async () => {
    const { result, notify, lines } = run([stored('public-bucket', 'far-bucket', '2026-12-22'), stored('*', 'forever')]);
    expect(await result).toEqual({ expiring: 0, expired: 0, invalid: 0, notification: 'none' });
    expect(notify).not.toHaveBeenCalled();
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ message: 'trailguard exemption expiry', notification: 'none' });
  });

  it('strips controls and format characters from store values, one line each', () => {
    const hostile = stored('public-bucket', 'evil\n[HIGH] Root login\u202e', '2026-12-08', 'ok\u001b]0;x\u0007\r\nFAKE LINE\u200b');
    const sent = expiryNotification(expiryFindings([hostile], TODAY), CONTEXT);
    const line = sent?.text.split('\n').find((l) => l.includes('evil')) ?? '';
    expect(line).toBe('  public-bucket evil [HIGH] Root login: expires 2026-12-08 (in 1 day), store; reason: ok ]0;x FAKE LINE');
    expect(sent?.text).not.toMatch(/(?!\n)[\p{Cc}\u200b\u202e]/u);
    expect(sent?.text.split('\n').filter((l) => l.includes('FAKE LINE'))).toHaveLength(1);
  });

  it('caps each list and stays far inside the SNS limit with thousands of exemptions', () => {
    const many = Array.from({ length: 3000 }, (_, i) =>
      stored('public-bucket', `bucket-${i}-${'x'.repeat(900)}`, i % 2 ? '2026-12-01' : '2026-12-09', 'r'.repeat(1000)),
    );
    const sent = expiryNotification(expiryFindings(many, TODAY), CONTEXT);
    expect(sent?.text).toContain(`... and ${1500 - LIST_LIMIT} more (trailguard exempt list shows every one)`);
    expect(publishedBytes(sent as Notification)).toBeLessThan(SNS_MESSAGE_LIMIT);
  });

  it('fails loudly (the Errors alarm) when the store cannot be read or the publish fails, and says there is no topic', async () => {
    const log = new Logger('INFO', () => undefined);
    await expect(
      runExpiryJob({
        ...CONTEXT,
        readStore: async () => {
          throw new Error('AccessDenied');
        },
        deployed: [],
        notify: undefined,
        now: () => NOW,
        log,
      }),
    ).rejects.toThrow('AccessDenied');
    const failing = vi.fn(async () => {
      throw Object.assign(new Error('throttled'), { name: 'Throttling' });
    });
    await expect(
      runExpiryJob({ ...CONTEXT, readStore: async () => [stored('*', 'x', '2026-12-01')], deployed: [], notify: failing, now: () => NOW, log }),
    ).rejects.toThrow('throttled');
    const lines: string[] = [];
    const noTopic = await runExpiryJob({
      ...CONTEXT,
      readStore: undefined,
      deployed: [{ rule: '*', resource: 'x', reason: 'r', expires: '2026-12-08' }],
      notify: undefined,
      now: () => NOW,
      log: new Logger('INFO', (l) => lines.push(l)),
    });
    expect(noTopic).toMatchObject({ expiring: 1, notification: 'no topic' });
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ level: 'WARN', notification: 'no topic' });
  });
});
