import { Parser } from 'htmlparser2';
import { describe, expect, it } from 'vitest';
import { aggregate, formatDuration, percentile } from '../../../shared/report/aggregate.js';
import { parseDuration, parseRecordLine, type LoggedRecord } from '../../../shared/report/records.js';
import { renderHtml, renderText } from '../../../shared/report/render.js';
import { ACTION_TYPES } from '../../../shared/actions/registry.js';
import { reversalOf as reversalWith, reversalText } from '../../../shared/actions/reversal.js';
import type { ActionRecord, RemediationRecord } from '../../../shared/remediation-log.js';

const reversalOf = (r: RemediationRecord, a: ActionRecord) => reversalWith(ACTION_TYPES, r, a);
import { DONE_ACTIONS, liveRecords, record, TRAIL } from '../../helpers/records.js';

const logged = (r: ReturnType<typeof record>, loggedAt?: number): LoggedRecord => ({ record: r, loggedAt, source: 'test' });
const NOW = Date.parse('2026-11-21T00:00:00Z');

describe('parseRecordLine', () => {
  const r = record();
  it('reads the JSON lines replay prints', () => {
    expect(parseRecordLine(JSON.stringify(r), 'f:1')).toEqual({ record: r, loggedAt: undefined, source: 'f:1' });
  });
  it('reads Lambda log lines and drops the logger keys', () => {
    const line = JSON.stringify({ level: 'INFO', message: 'trailguard remediation', timestamp: '2026-11-20T09:15:04.000Z', ...r });
    expect(parseRecordLine(line, 'f:2')).toEqual({ record: r, loggedAt: Date.parse('2026-11-20T09:15:04.000Z'), source: 'f:2' });
  });
  it('reads CloudWatch-exported lines with a timestamp prefix', () => {
    const line = `2026-11-20T09:15:05.000Z\t${JSON.stringify({ level: 'INFO', message: 'trailguard remediation', ...r })}`;
    expect(parseRecordLine(line, 'f:3')?.loggedAt).toBe(Date.parse('2026-11-20T09:15:05.000Z'));
    expect(parseRecordLine(`1795000000000 ${JSON.stringify(r)}`, 'f:4')?.loggedAt).toBe(1795000000000);
  });
  it('skips other log lines', () => {
    expect(parseRecordLine(JSON.stringify({ level: 'INFO', message: 'something else', ...r }), 'x')).toBeUndefined();
    expect(parseRecordLine('START RequestId: 1 Version: $LATEST', 'x')).toBeUndefined();
    expect(parseRecordLine('{"not":"a record"}', 'x')).toBeUndefined();
    expect(parseRecordLine('{broken', 'x')).toBeUndefined();
  });
  it('parses durations', () => {
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('7d')).toBe(7 * 86_400_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('1y')).toBeUndefined();
    expect(parseDuration('0h')).toBeUndefined();
  });
});

describe('reversals: the exact command for each rule', () => {
  const live = liveRecords();
  const cli = (r: ReturnType<typeof record>) => reversalText(reversalOf(r, r.actions[0]!));

  it('public-bucket: deletes the block when there was none, else puts the earlier one back', () => {
    expect(cli(live.bucket)).toBe("aws s3api delete-public-access-block --region 'eu-west-1' --bucket 'example-reports' --expected-bucket-owner '111122223333'");
    const some = record({ actions: [DONE_ACTIONS.bucketHadSome] });
    expect(cli(some)).toBe(`aws s3api put-public-access-block --region 'eu-west-1' --bucket 'example-reports' --expected-bucket-owner '111122223333' --public-access-block-configuration '{"BlockPublicAcls":true,"IgnorePublicAcls":true,"BlockPublicPolicy":false,"RestrictPublicBuckets":false}'`);
  });

  it('open-security-group: re-authorizes the revoked rules as IpPermissions', () => {
    const reversal = reversalOf(live.group, live.group.actions[0]!);
    expect(reversal).toMatchObject({ kind: 'steps', steps: [{ action: { api: 'EC2.AuthorizeSecurityGroupIngress', params: {
      GroupId: 'sg-0123456789abcdef0',
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: "ops' ssh" }] },
        { IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '::/0' }] },
      ],
    } } }] });
    expect(cli(live.group)).toBe(`aws ec2 authorize-security-group-ingress --region 'eu-west-1' --group-id 'sg-0123456789abcdef0' --ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0","Description":"ops'\\'' ssh"}]},{"IpProtocol":"-1","Ipv6Ranges":[{"CidrIpv6":"::/0"}]}]'`);
  });

  it('untagged-instance: deletes exactly the keys it added, never one that existed before', () => {
    const reversal = reversalOf(live.instance, live.instance.actions[0]!);
    expect(reversal).toMatchObject({ kind: 'steps', steps: [{ action: { api: 'EC2.DeleteTags', params: {
      Resources: ['i-0123456789abcdef0'],
      Tags: [{ Key: 'Owner', Value: 'arn:aws:iam::111122223333:user/alice' }, { Key: 'trailguard:tagged-at', Value: '2026-11-20T09:15:00Z' }],
    } } }] });
    expect(cli(live.instance)).toBe(`aws ec2 delete-tags --region 'eu-west-1' --resources 'i-0123456789abcdef0' --tags '[{"Key":"Owner","Value":"arn:aws:iam::111122223333:user/alice"},{"Key":"trailguard:tagged-at","Value":"2026-11-20T09:15:00Z"}]'`);
    expect(cli(live.instance)).not.toContain('CostCenter');
  });

  it('trail-logging: UpdateTrail back to the previous settings; StartLogging is never undone', () => {
    expect(cli(live.trail)).toBe("aws cloudtrail update-trail --region 'eu-west-1' --name 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail' --no-enable-log-file-validation --no-is-multi-region-trail");
    const started = record({ rule: 'trail-logging', resources: [TRAIL], actions: [DONE_ACTIONS.startLogging] });
    expect(reversalOf(started, started.actions[0]!)).toMatchObject({ kind: 'none', why: expect.stringContaining('StartLogging is never undone') });
  });

  it('has nothing to reverse for planned actions, unread previous state, or an undo', () => {
    const planned = record({ outcome: 'would-remediate', mode: 'dry-run', actions: [{ ...DONE_ACTIONS.bucketHadNone, status: 'planned' }] });
    expect(reversalOf(planned, planned.actions[0]!).kind).toBe('none');
    const { previous: _p, ...unread } = DONE_ACTIONS.tags;
    const blind = record({ rule: 'untagged-instance', actions: [unread] });
    expect(reversalOf(blind, blind.actions[0]!)).toMatchObject({ kind: 'none', why: expect.stringContaining('no tag is removed blindly') });
    const undone = record({ trigger: 'undo', actions: [DONE_ACTIONS.bucketHadNone] });
    expect(reversalOf(undone, undone.actions[0]!).kind).toBe('none');
  });
});

describe('records written before this version, read at the edge', () => {
  const line = (r: object) => parseRecordLine(JSON.stringify({ level: 'INFO', message: 'trailguard remediation', timestamp: '2026-11-20T09:15:04.000Z', ...r }), 'old.log');

  it('an action that found its resource already gone (said only in its detail) has nothing to reverse', () => {
    const { finding: _f, ...old } = record({ outcome: 'ignored', actions: [{ ...DONE_ACTIONS.bucketHadNone, verification: { ok: true, detail: 'already gone (NoSuchBucket)' } }] });
    const read = line(old)?.record;
    expect(read?.actions[0]?.verification).toEqual({ ok: true, detail: 'already gone (NoSuchBucket)', gone: true });
    expect(read?.finding).toBeNull();
    expect(reversalOf(read!, read!.actions[0]!)).toMatchObject({ kind: 'none', why: expect.stringContaining('already gone') });
    // A done write that read back normally still reverses.
    const fixed = line(record({ actions: [DONE_ACTIONS.bucketHadNone] }))?.record;
    expect(reversalOf(fixed!, fixed!.actions[0]!).kind).toBe('steps');
  });

  it('an undo that succeeded, logged as remediated, is read as reverted', () => {
    expect(line(record({ trigger: 'undo', outcome: 'remediated' }))?.record.outcome).toBe('reverted');
    expect(line(record({ trigger: 'event', outcome: 'remediated' }))?.record.outcome).toBe('remediated');
  });
});

describe('aggregate', () => {
  it('uses nearest-rank percentiles', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => (i + 1) * 1000);
    expect(percentile(sorted, 0.5)).toBe(50_000);
    expect(percentile(sorted, 0.95)).toBe(95_000);
    expect(percentile([7], 0.95)).toBe(7);
    expect(formatDuration(1_500)).toBe('1.5 s');
    expect(formatDuration(90_000)).toBe('1m 30s');
  });

  it('counts per rule and outcome, lists failures, actors and exposure p50/p95/max', () => {
    const base = Date.parse('2026-11-20T09:00:00Z');
    const exposures = [1_000, 2_000, 3_000, 4_000, 60_000];
    const records = [
      ...exposures.map((ms, i) => logged(record({ eventId: `ok-${i}`, exposureMs: ms, actions: [DONE_ACTIONS.bucketHadNone] }), base + i * 60_000)),
      logged(record({ eventId: 'f-1', outcome: 'failed', actor: 'arn:aws:iam::111122223333:user/bob', reason: 'denied by an SCP',
        error: { kind: 'denied', code: 'AccessDenied', api: 'S3.PutPublicAccessBlock', permission: 's3:PutBucketPublicAccessBlock', message: 'no' } }), base + 10 * 60_000),
      logged(record({ rule: 'open-security-group', eventId: 'c-1', outcome: 'compliant', actor: 'arn:aws:iam::111122223333:user/carol' }), base),
      logged(record({ rule: null, eventId: 'u-1', outcome: 'ignored' }), base),
      logged(record({ eventId: 'ok-0', trigger: 'undo', reason: 'undo of ok-0', exposureMs: null }), base + 20 * 60_000),
      logged(record({ eventId: 'old', exposureMs: 999_999 }), base - 3 * 86_400_000),
    ];
    const report = aggregate(records, { since: base - 86_400_000, now: NOW, sources: ['a.jsonl'] });
    expect(report.total).toBe(9); // the old one is out of the window
    expect(report.counts.find((c) => c.rule === 'public-bucket')?.outcomes).toMatchObject({ remediated: 6, failed: 1 });
    expect(report.counts.find((c) => c.rule === '(no rule)')?.outcomes.ignored).toBe(1);
    expect(report.failures).toEqual([expect.objectContaining({ eventId: 'f-1', reason: 'denied by an SCP', error: expect.objectContaining({ permission: 's3:PutBucketPublicAccessBlock' }) })]);
    // The undo is not a violation and carries no exposure; the compliant call is not a violation either.
    expect(report.actors).toEqual([
      expect.objectContaining({ actor: 'arn:aws:iam::111122223333:user/alice', violations: 5, outcomes: { remediated: 5 } }),
      expect.objectContaining({ actor: 'arn:aws:iam::111122223333:user/bob', violations: 1, outcomes: { failed: 1 } }),
    ]);
    expect(report.exposure).toEqual([{ rule: 'public-bucket', count: 5, p50Ms: 3_000, p95Ms: 60_000, maxMs: 60_000 }]);
    expect(report.actions.filter((a) => a.trigger === 'event')).toHaveLength(5);
    expect(report.actions[0]?.reversal).toEqual({ kind: 'steps', text: expect.stringContaining('delete-public-access-block') });
    expect(report.bucketMs).toBe(3_600_000);
    expect(report.timeline.reduce((n, b) => n + b.violations, 0)).toBe(6);
    expect(Math.max(...report.timeline.map((b) => b.maxExposureMs ?? 0))).toBe(60_000);
  });

  it('drops exact duplicates read from two sources', () => {
    const one = logged(record(), 1);
    expect(aggregate([one, { ...one, source: 'other' }], { since: undefined, now: NOW, sources: [] }).total).toBe(1);
  });
});

/** Parses the page: every element with its attributes, and the visible text. */
function parseHtml(html: string) {
  const elements: { name: string; attributes: Record<string, string> }[] = [];
  let text = '';
  let styles = '';
  let inStyle = false;
  const rows: string[][] = [];
  let cell: string | undefined;
  const parser = new Parser({
    onopentag(name, attributes) {
      elements.push({ name, attributes });
      inStyle = name === 'style';
      if (name === 'tr') rows.push([]);
      if (name === 'td' || name === 'th') cell = '';
    },
    onclosetag(name) {
      inStyle = false;
      if ((name === 'td' || name === 'th') && cell !== undefined) { rows[rows.length - 1]?.push(cell.trim()); cell = undefined; }
    },
    ontext(data) {
      if (inStyle) styles += data;
      else text += data;
      if (cell !== undefined) cell += data;
    },
  }, { decodeEntities: true });
  parser.write(html);
  parser.end();
  return { elements, text, styles, rows };
}

describe('the HTML page', () => {
  const hostile = '<script>alert(1)</script>';
  const live = liveRecords();
  const records = [
    ...Object.values(live).map((r, i) => logged(r, Date.parse('2026-11-20T09:00:00Z') + i * 600_000)),
    logged(record({ eventId: 'evil', outcome: 'failed', actor: hostile, reason: `bucket "x" <img src=https://evil.example/x.png> failed`,
      resources: [{ type: 'AWS::S3::Bucket', id: '<b>bucket</b>' }] }), Date.parse('2026-11-20T10:00:00Z')),
  ];
  const report = aggregate(records, { since: Date.parse('2026-11-20T00:00:00Z'), now: NOW, sources: ['logs:/aws/lambda/trailguard-prod-'] });
  const html = renderHtml(report);
  const page = parseHtml(html);

  it('is self-contained: no script, no external URL, no link or image', () => {
    expect(page.elements.map((e) => e.name)).not.toContain('script');
    expect(page.elements.map((e) => e.name)).not.toContain('img');
    expect(page.elements.map((e) => e.name)).not.toContain('link');
    for (const element of page.elements) {
      for (const [name, value] of Object.entries(element.attributes)) {
        expect(name).not.toMatch(/^(src|href|xlink:href|srcset|action|on\w+)$/);
        expect(value).not.toMatch(/https?:|\/\//);
      }
    }
    expect(page.styles).not.toMatch(/url\(|@import/);
    expect(page.elements.filter((e) => e.name === 'svg')).toHaveLength(1);
    expect(page.elements.find((e) => e.name === 'meta' && e.attributes['http-equiv'])?.attributes.content).toContain("default-src 'none'");
  });

  it('escapes hostile event values: they show as text, never as markup', () => {
    expect(html).not.toContain(hostile);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.text).toContain(hostile);
    expect(page.text).toContain('<img src=https://evil.example/x.png>');
    expect(page.elements.map((e) => e.name)).not.toContain('b');
  });

  it('shows the figures: counts, p50/p95/max per rule, failures and reversals', () => {
    const text = page.text.replace(/\s+/g, ' ');
    expect(text).toContain('5 records');
    expect(page.rows).toContainEqual(['rule', 'total', 'remediated', 'would-remediate', 'compliant', 'exempt', 'ignored', 'alerted', 'failed', 'reverted']);
    expect(page.rows).toContainEqual(['public-bucket', '2', '1', '0', '0', '0', '0', '0', '1', '0']);
    expect(page.rows).toContainEqual(['all', '5', '4', '0', '0', '0', '0', '0', '1', '0']);
    expect(page.rows).toContainEqual(['rule', 'fixes', 'p50', 'p95', 'max']);
    expect(page.rows).toContainEqual(['open-security-group', '1', '2.0 s', '2.0 s', '2.0 s']);
    expect(page.rows).toContainEqual(['public-bucket', '1', '4.0 s', '4.0 s', '4.0 s']);
    expect(page.rows).toContainEqual(['untagged-instance', '1', '1.5 s', '1.5 s', '1.5 s']);
    expect(page.rows).toContainEqual(['trail-logging', '1', '3.0 s', '3.0 s', '3.0 s']);
    expect(text).toContain("aws ec2 delete-tags --region 'eu-west-1' --resources 'i-0123456789abcdef0'");
    expect(text).toContain('Failures (1)');
    // The chart: one bar per bucket, with the exposure line's points.
    expect(page.elements.filter((e) => e.name === 'rect').length).toBe(report.timeline.length + 1);
    expect(page.elements.filter((e) => e.name === 'circle')).toHaveLength(report.timeline.filter((b) => b.maxExposureMs !== null).length);
    expect(report.timeline.find((b) => b.start === '2026-11-20T09:00:00.000Z')).toMatchObject({ violations: 4, remediated: 4, maxExposureMs: 4_000 });
  });

  it('text output has the same figures, with control characters stripped', () => {
    const text = renderText(aggregate([logged(record({ actor: 'mallory\n[forged] line', exposureMs: 2_000 }), NOW - 1000)], { since: undefined, now: NOW, sources: ['f'] }));
    expect(text).toContain('mallory [forged] line');
    expect(text).not.toContain('mallory\n');
    expect(text).toMatch(/public-bucket\s+1\s+2\.0 s\s+2\.0 s\s+2\.0 s/);
  });
});
