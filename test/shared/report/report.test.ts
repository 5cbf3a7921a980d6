import { Parser } from 'htmlparser2';
import { describe, expect, it } from 'vitest';
import { aggregate, formatDuration, percentile } from '../../../shared/report/aggregate.js';
import { parseDuration, parseRecordLine, type LoggedRecord } from '../../../shared/report/records.js';
import { idHtml, PAGE_ROWS, renderHtml } from '../../../shared/report/render.js';
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
    expect(cli(live.bucket)).toBe(
      "aws s3api delete-public-access-block --region 'eu-west-1' --bucket 'example-reports' --expected-bucket-owner '111122223333'",
    );
    const some = record({ actions: [DONE_ACTIONS.bucketHadSome] });
    expect(cli(some)).toBe(
      `aws s3api put-public-access-block --region 'eu-west-1' --bucket 'example-reports' --expected-bucket-owner '111122223333' --public-access-block-configuration '{"BlockPublicAcls":true,"IgnorePublicAcls":true,"BlockPublicPolicy":false,"RestrictPublicBuckets":false}'`,
    );
  });

  it('open-security-group: re-authorizes the revoked rules as IpPermissions', () => {
    const reversal = reversalOf(live.group, live.group.actions[0]!);
    expect(reversal).toMatchObject({
      kind: 'steps',
      steps: [
        {
          action: {
            api: 'EC2.AuthorizeSecurityGroupIngress',
            params: {
              GroupId: 'sg-0123456789abcdef0',
              IpPermissions: [
                { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: "ops' ssh" }] },
                { IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '::/0' }] },
              ],
            },
          },
        },
      ],
    });
    expect(cli(live.group)).toBe(
      `aws ec2 authorize-security-group-ingress --region 'eu-west-1' --group-id 'sg-0123456789abcdef0' --ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0","Description":"ops'\\'' ssh"}]},{"IpProtocol":"-1","Ipv6Ranges":[{"CidrIpv6":"::/0"}]}]'`,
    );
  });

  it('untagged-instance: deletes exactly the keys it added, never one that existed before', () => {
    const reversal = reversalOf(live.instance, live.instance.actions[0]!);
    expect(reversal).toMatchObject({
      kind: 'steps',
      steps: [
        {
          action: {
            api: 'EC2.DeleteTags',
            params: {
              Resources: ['i-0123456789abcdef0'],
              Tags: [
                { Key: 'Owner', Value: 'arn:aws:iam::111122223333:user/alice' },
                { Key: 'trailguard:tagged-at', Value: '2026-11-20T09:15:00Z' },
              ],
            },
          },
        },
      ],
    });
    expect(cli(live.instance)).toBe(
      `aws ec2 delete-tags --region 'eu-west-1' --resources 'i-0123456789abcdef0' --tags '[{"Key":"Owner","Value":"arn:aws:iam::111122223333:user/alice"},{"Key":"trailguard:tagged-at","Value":"2026-11-20T09:15:00Z"}]'`,
    );
    expect(cli(live.instance)).not.toContain('CostCenter');
  });

  it('trail-logging: UpdateTrail back to the previous settings; StartLogging is never undone', () => {
    expect(cli(live.trail)).toBe(
      "aws cloudtrail update-trail --region 'eu-west-1' --name 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail' --no-enable-log-file-validation --no-is-multi-region-trail",
    );
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
  const line = (r: object) =>
    parseRecordLine(JSON.stringify({ level: 'INFO', message: 'trailguard remediation', timestamp: '2026-11-20T09:15:04.000Z', ...r }), 'old.log');

  it('an action that found its resource already gone (said only in its detail) has nothing to reverse', () => {
    const { finding: _f, ...old } = record({
      outcome: 'ignored',
      actions: [{ ...DONE_ACTIONS.bucketHadNone, verification: { ok: true, detail: 'already gone (NoSuchBucket)' } }],
    });
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
      logged(
        record({
          eventId: 'f-1',
          outcome: 'failed',
          actor: 'arn:aws:iam::111122223333:user/bob',
          reason: 'denied by an SCP',
          error: { kind: 'denied', code: 'AccessDenied', api: 'S3.PutPublicAccessBlock', permission: 's3:PutBucketPublicAccessBlock', message: 'no' },
        }),
        base + 10 * 60_000,
      ),
      logged(record({ rule: 'open-security-group', eventId: 'c-1', outcome: 'compliant', actor: 'arn:aws:iam::111122223333:user/carol' }), base),
      logged(record({ rule: null, eventId: 'u-1', outcome: 'ignored' }), base),
      logged(record({ eventId: 'ok-0', trigger: 'undo', reason: 'undo of ok-0', exposureMs: null }), base + 20 * 60_000),
      logged(record({ eventId: 'old', exposureMs: 999_999 }), base - 3 * 86_400_000),
    ];
    const report = aggregate(records, { since: base - 86_400_000, now: NOW, sources: ['a.jsonl'] });
    expect(report.total).toBe(9); // the old one is out of the window
    expect(report.counts.find((c) => c.rule === 'public-bucket')?.outcomes).toMatchObject({ remediated: 6, failed: 1 });
    // Unmatched events are a footnote, not a rule's row.
    expect(report.counts.map((c) => c.rule)).toEqual(['open-security-group', 'public-bucket']);
    expect(report.unmatched).toMatchObject({ total: 1, outcomes: { ignored: 1 } });
    expect(report.failures).toEqual([
      expect.objectContaining({ eventId: 'f-1', reason: 'denied by an SCP', error: expect.objectContaining({ permission: 's3:PutBucketPublicAccessBlock' }) }),
    ]);
    // The undo is not a violation and carries no exposure; the compliant call is not a violation either.
    expect(report.actors).toEqual([
      expect.objectContaining({ actor: 'arn:aws:iam::111122223333:user/alice', violations: 5, outcomes: { remediated: 5 } }),
      expect.objectContaining({ actor: 'arn:aws:iam::111122223333:user/bob', violations: 1, outcomes: { failed: 1 } }),
    ]);
    expect(report.exposure).toEqual([{ rule: 'public-bucket', count: 5, p50Ms: 3_000, p95Ms: 60_000, maxMs: 60_000 }]);
    expect(report.actions.filter((a) => a.trigger === 'event')).toHaveLength(5);
    expect(report.actions[0]?.reversal).toEqual({ kind: 'steps', text: expect.stringContaining('delete-public-access-block') });
    expect(report.bucketMs).toBe(3_600_000);
    // Findings: the five fixes and the failure; not the undo, the compliant call or the unmatched event.
    expect(report.timeline.reduce((n, b) => n + b.findings.remediated + b.findings.failed, 0)).toBe(6);
    expect(Math.max(...report.timeline.map((b) => b.exposure?.maxMs ?? 0))).toBe(60_000);
    expect(report.exposureOverall).toEqual({ count: 5, p50Ms: 3_000, p95Ms: 60_000, maxMs: 60_000 });
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
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        elements.push({ name, attributes });
        inStyle = name === 'style';
        if (name === 'tr') rows.push([]);
        if (name === 'td' || name === 'th') cell = '';
      },
      onclosetag(name) {
        inStyle = false;
        if ((name === 'td' || name === 'th') && cell !== undefined) {
          rows[rows.length - 1]?.push(cell.trim());
          cell = undefined;
        }
      },
      ontext(data) {
        if (inStyle) styles += data;
        else text += data;
        if (cell !== undefined) cell += data;
      },
    },
    { decodeEntities: true },
  );
  parser.write(html);
  parser.end();
  return { elements, text, styles, rows };
}

describe('the HTML page', () => {
  const hostile = '<script>alert(1)</script>';
  const live = liveRecords();
  const records = [
    ...Object.values(live).map((r, i) => logged(r, Date.parse('2026-11-20T09:00:00Z') + i * 600_000)),
    logged(
      record({
        eventId: 'evil',
        outcome: 'failed',
        actor: hostile,
        reason: `bucket "x" <img src=https://evil.example/x.png> failed`,
        resources: [{ type: 'AWS::S3::Bucket', id: '<b>bucket</b>' }],
      }),
      Date.parse('2026-11-20T10:00:00Z'),
    ),
  ];
  const report = aggregate(records, { since: Date.parse('2026-11-20T00:00:00Z'), now: NOW, sources: ['logs:/aws/lambda/trailguard-prod-'] });
  const html = renderHtml(report);
  const page = parseHtml(html);

  it('is self-contained and in standards mode: no script, no external URL, no link or image', () => {
    expect(html.startsWith('<!doctype html>\n')).toBe(true);
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
    // Findings and exposure, each drawn for a wide screen and for a phone (CSS shows one).
    expect(page.elements.filter((e) => e.name === 'svg').map((e) => e.attributes.class)).toEqual(['wide', 'narrow', 'wide', 'narrow']);
    expect(page.styles).toContain('@media (max-width:640px)');
    expect(page.elements.find((e) => e.name === 'meta' && e.attributes['http-equiv'])?.attributes.content).toContain("default-src 'none'");
  });

  it('escapes hostile event values: they show as text, never as markup', () => {
    expect(html).not.toContain(hostile);
    // An actor is shown as an id: its parts (split after "/") escaped one by one.
    expect(html).toContain('<span>&lt;script&gt;alert(1)&lt;/</span><wbr><span>script&gt;</span>');
    expect(page.text).toContain(hostile);
    expect(page.text).toContain('<img src=https://evil.example/x.png>');
    expect(page.elements.map((e) => e.name)).not.toContain('b');
  });

  it('leads with findings by severity, then the chart, counts and exposure', () => {
    const headings = [...html.matchAll(/<h2>([^<(]*)/g)].map((m) => m[1]?.trim());
    expect(headings).toEqual([
      'Summary',
      'Findings by severity',
      'Findings per hour by outcome',
      'Exposure per hour: change to verified fix',
      'Counts per rule and outcome',
      'Exposure per rule',
      'Failures',
      'Actors behind violations',
      'Writes made and how to reverse them',
    ]);
    expect(page.rows).toContainEqual(['time', 'severity', 'rule', 'resource', 'actor', 'reason', 'outcome']);
    // The HIGH ones, the latest first, then the LOW one, though it is later than some HIGH ones.
    const findingRows = page.rows.filter((r) => r.length === 7 && r[0] !== 'time');
    expect(findingRows.map((r) => `${r[1]} ${r[0]} ${r[2]}`)).toEqual([
      'HIGH 2026-11-20 10:00 public-bucket',
      'HIGH 2026-11-20 09:30 trail-logging',
      'HIGH 2026-11-20 09:10 open-security-group',
      'HIGH 2026-11-20 09:00 public-bucket',
      'LOW 2026-11-20 09:20 untagged-instance',
    ]);
    expect(findingRows[0]).toEqual([
      '2026-11-20 10:00',
      'HIGH',
      'public-bucket',
      '<b>bucket</b>',
      hostile,
      `bucket "x" <img src=https://evil.example/x.png> failed`,
      'failed',
    ]);
  });

  it('shows the figures: counts (only outcomes that occurred), p50/p95/max per rule and overall, failures and reversals', () => {
    const text = page.text.replace(/\s+/g, ' ');
    expect(text).toContain('5 records');
    expect(page.rows).toContainEqual(['rule', 'total', 'remediated', 'failed']);
    expect(page.rows).toContainEqual(['public-bucket', '2', '1', '1']);
    expect(page.rows).toContainEqual(['all rules', '5', '4', '1']);
    expect(page.rows).toContainEqual(['rule', 'fixes', 'p50', 'p95', 'max']);
    expect(page.rows).toContainEqual(['open-security-group', '1', '2.0 s', '2.0 s', '2.0 s']);
    expect(page.rows).toContainEqual(['untagged-instance', '1', '1.5 s', '1.5 s', '1.5 s']);
    expect(page.rows).toContainEqual(['all rules', '4', '2.0 s', '4.0 s', '4.0 s']);
    expect(text).toContain("aws ec2 delete-tags --region 'eu-west-1' --resources 'i-0123456789abcdef0'");
    expect(text).toContain('Failures (1)');
  });

  it('never breaks a timestamp or an id inside a part: nowrap parts, break points only after / : or ,', () => {
    expect(html).toMatch(/<time class="nw" datetime="2026-11-20T10:00:00.000Z">2026-11-20 10:00<\/time>/);
    expect(idHtml('arn:aws:iam::111122223333:user/alice')).toBe(
      '<code class="id"><span>arn:</span><wbr><span>aws:</span><wbr><span>iam::</span><wbr><span>111122223333:</span><wbr><span>user/</span><wbr><span>alice</span></code>',
    );
    expect(idHtml('sg-0123456789abcdef0')).toBe('<code class="id"><span>sg-0123456789abcdef0</span></code>');
    expect(page.styles).toMatch(/code\.id span,\.nw\{white-space:nowrap\}/);
  });
});

describe('the chart', () => {
  const HOUR = 3_600_000;
  const at = (hours: number) => Date.parse('2026-11-20T00:00:00Z') + hours * HOUR;

  it('stacks each bucket by outcome and marks the bucket that holds now as partial', () => {
    const records = [
      logged(record({ eventId: 'r1', exposureMs: 5_000 }), at(1)),
      logged(record({ eventId: 'r2', exposureMs: 9_000 }), at(1.5)),
      logged(record({ eventId: 'a1', outcome: 'alerted', severity: 'CRITICAL' }), at(1.2)),
      logged(record({ eventId: 'f1', outcome: 'failed' }), at(1.7)),
      logged(record({ eventId: 'w1', outcome: 'would-remediate', mode: 'dry-run' }), at(5.5)),
      logged(record({ eventId: 'c1', outcome: 'compliant' }), at(5.6)),
    ];
    const report = aggregate(records, { since: at(0), now: at(5.75), sources: [] });
    expect(report.bucketMs).toBe(HOUR);
    expect(report.timeline).toHaveLength(6);
    expect(report.timeline[1]).toEqual({
      start: '2026-11-20T01:00:00.000Z',
      partial: false,
      findings: { remediated: 2, 'would-remediate': 0, alerted: 1, failed: 1 },
      exposure: { count: 2, p50Ms: 5_000, p95Ms: 9_000, maxMs: 9_000 },
    });
    expect(report.timeline[5]).toMatchObject({ partial: true, findings: { 'would-remediate': 1, remediated: 0 }, exposure: null });
    expect(report.timeline.filter((b) => b.partial)).toHaveLength(1);

    const page = parseHtml(renderHtml(report));
    // One rect per outcome present in a bucket, in each of the two drawings, plus the partial bucket's outline.
    const fills = page.elements
      .filter((e) => e.name === 'rect' && e.attributes.fill !== 'none' && e.attributes['fill-opacity'] === undefined)
      .map((e) => e.attributes.fill);
    expect(fills.filter((f) => f === '#1a7f37')).toHaveLength(2);
    expect(fills.filter((f) => f === '#0969da')).toHaveLength(2);
    expect(fills.filter((f) => f === '#cf222e')).toHaveLength(2);
    expect(fills.filter((f) => f === '#bf8700')).toHaveLength(2);
    expect(page.elements.filter((e) => e.name === 'rect' && e.attributes['stroke-dasharray'])).toHaveLength(2);
    expect(page.text).toContain('the current hour, still partial');
  });

  it('labels every few buckets, not only the first and last', () => {
    const records = Array.from({ length: 30 }, (_, day) => logged(record({ eventId: `d${day}` }), Date.parse('2026-10-01T12:00:00Z') + day * 86_400_000));
    const report = aggregate(records, { since: undefined, now: NOW, sources: [] });
    expect(report.bucketMs).toBe(86_400_000);
    const svgs = renderHtml(report).split('<svg').slice(1);
    const labels = (svg: string | undefined) => [...(svg ?? '').matchAll(/>(\d{4}-\d{2}-\d{2})<\/text>/g)].map((m) => m[1]);
    expect(labels(svgs[0])).toEqual([
      '2026-10-01',
      '2026-10-04',
      '2026-10-07',
      '2026-10-10',
      '2026-10-13',
      '2026-10-16',
      '2026-10-19',
      '2026-10-22',
      '2026-10-25',
      '2026-10-28',
    ]);
    expect(labels(svgs[1])).toEqual(['2026-10-01', '2026-10-11', '2026-10-21']);
  });

  it('draws exposure p50 and p95 on a log scale, so a 9-second fix and a 23-minute outlier are both readable', () => {
    const fixes = [...Array.from({ length: 19 }, (_, i) => 8_000 + i * 100), 23 * 60_000];
    const records = fixes.map((ms, i) => logged(record({ eventId: `x${i}`, exposureMs: ms }), Date.parse('2026-11-20T09:00:00Z') + i * 60_000));
    const report = aggregate(records, { since: undefined, now: NOW, sources: [] });
    expect(report.exposureOverall).toEqual({ count: 20, p50Ms: 8_900, p95Ms: 9_800, maxMs: 23 * 60_000 });
    const html = renderHtml(report);
    const exposureSvg = html.split('<svg').find((svg) => svg.startsWith(' class="wide" role="img" aria-label="Exposure')) ?? '';
    // Decades around the data, not a linear axis from 0 to 23 minutes.
    expect([...exposureSvg.matchAll(/>(1 s|10 s|1 min|10 min|1 h)<\/text>/g)].map((m) => m[1])).toEqual(['1 s', '10 s', '1 min', '10 min']);
    expect(exposureSvg).toContain('p50 8.9 s, p95 9.8 s, max 23m 0s');
    expect(parseHtml(html).text).toContain('exposure p50 8.9 s, p95 9.8 s, max 23m 0s over 20 live fixes');
  });

  it('has no exposure axis at all when no live remediation carried a window', () => {
    const records = [
      logged(record({ outcome: 'would-remediate', mode: 'dry-run' }), NOW - 1000),
      logged(record({ eventId: 'a', outcome: 'alerted' }), NOW - 2000),
    ];
    const report = aggregate(records, { since: undefined, now: NOW, sources: [] });
    expect(report.exposureOverall).toBeNull();
    expect(report.exposure).toEqual([]);
    const html = renderHtml(report);
    expect(html).not.toContain('log scale');
    expect(html.match(/<svg/g)).toHaveLength(2);
    expect(parseHtml(html).text).toContain('No live remediation in this window, so no exposure chart.');
  });
});

describe('findings by severity', () => {
  const base = Date.parse('2026-11-20T09:00:00Z');
  const records = [
    logged(record({ eventId: 'low-new', severity: 'LOW', outcome: 'alerted' }), base + 50),
    logged(record({ eventId: 'high-old', severity: 'HIGH' }), base + 10),
    logged(record({ eventId: 'crit-old', severity: 'CRITICAL', rule: 'iam-policy-change', outcome: 'alerted' }), base + 1),
    logged(record({ eventId: 'high-new', severity: 'HIGH', outcome: 'would-remediate', mode: 'dry-run' }), base + 40),
    logged(record({ eventId: 'medium', severity: 'MEDIUM', rule: 'network-change', outcome: 'failed' }), base + 30),
    logged(record({ eventId: 'crit-new', severity: 'CRITICAL', rule: 'root-activity', outcome: 'alerted' }), base + 20),
    logged(record({ eventId: 'compliant', severity: null, outcome: 'compliant' }), base + 60),
    logged(record({ eventId: 'unmatched', rule: null, severity: null, outcome: 'ignored' }), base + 60),
    logged(record({ eventId: 'undo', trigger: 'undo', outcome: 'reverted' }), base + 60),
  ];

  it('lists alerted, remediated, would-remediate and failed records, CRITICAL and HIGH first, the latest first within each', () => {
    const report = aggregate(records, { since: undefined, now: NOW, sources: [] });
    expect(report.findings.map((f) => f.eventId)).toEqual(['crit-new', 'crit-old', 'high-new', 'high-old', 'medium', 'low-new']);
    expect(report.severityTotals).toEqual({ CRITICAL: 2, HIGH: 2, MEDIUM: 1, LOW: 1, none: 0 });
    expect(report.findings[0]).toEqual({
      time: new Date(base + 20).toISOString(),
      severity: 'CRITICAL',
      rule: 'root-activity',
      outcome: 'alerted',
      trigger: 'event',
      eventId: 'crit-new',
      eventName: 'PutBucketAcl',
      resource: 'example-reports',
      actor: 'arn:aws:iam::111122223333:user/alice',
      reason: 'example-reports is public; remediated and verified',
    });
  });

  it('filters by severity and by rule (each list given must match), and says how many records it left out', () => {
    const critical = aggregate(records, { since: undefined, now: NOW, sources: [], only: { severities: ['CRITICAL', 'HIGH'] } });
    expect(critical.findings.map((f) => f.eventId)).toEqual(['crit-new', 'crit-old', 'high-new', 'high-old']);
    expect(critical.filter).toEqual({ severities: ['CRITICAL', 'HIGH'] });
    expect(critical.filteredOut).toBe(4); // LOW, MEDIUM, and the two records with no severity
    expect(critical.unmatched.total).toBe(0);
    const rules = aggregate(records, { since: undefined, now: NOW, sources: [], only: { rules: ['public-bucket', 'network-change'] } });
    expect(rules.findings.map((f) => f.eventId)).toEqual(['high-new', 'high-old', 'medium', 'low-new']);
    expect(rules.counts.map((c) => [c.rule, c.total])).toEqual([
      ['network-change', 1],
      ['public-bucket', 5],
    ]);
    const both = aggregate(records, { since: undefined, now: NOW, sources: [], only: { severities: ['HIGH'], rules: ['network-change'] } });
    expect(both.total).toBe(0);
    expect(both.filteredOut).toBe(9);
    const none = aggregate(records, { since: undefined, now: NOW, sources: [], only: { severities: [], rules: [] } });
    expect(none.filter).toBeNull();
    expect(none.total).toBe(9);
  });

  it('caps the page at PAGE_ROWS findings and says how many more and how to narrow them', () => {
    const many = Array.from({ length: PAGE_ROWS.findings + 37 }, (_, i) =>
      logged(record({ eventId: `e-${i}`, severity: i === PAGE_ROWS.findings + 36 ? 'CRITICAL' : 'LOW', outcome: 'alerted' }), base + i),
    );
    const report = aggregate(many, { since: undefined, now: NOW, sources: [] });
    const page = parseHtml(renderHtml(report));
    const rows = page.rows.filter((r) => r.length === 7 && r[0] !== 'time');
    expect(rows).toHaveLength(PAGE_ROWS.findings);
    expect(rows[0]?.[1]).toBe('CRITICAL');
    expect(page.text.replace(/\s+/g, ' ')).toContain(
      `Showing ${PAGE_ROWS.findings} of ${PAGE_ROWS.findings + 37} findings. Narrow with --severity CRITICAL,HIGH, --rule RULE or --since 24h (or --format json for every row).`,
    );
  });

  it('counts planned writes once, lists only writes made, and footnotes unmatched events', () => {
    const planned = { ...DONE_ACTIONS.bucketHadNone, status: 'planned' as const };
    const report = aggregate(
      [
        ...Array.from({ length: 30 }, (_, i) =>
          logged(record({ eventId: `p-${i}`, outcome: 'would-remediate', mode: 'dry-run', actions: [planned] }), base + i),
        ),
        logged(record({ eventId: 'done', actions: [DONE_ACTIONS.bucketHadNone] }), base + 100),
        ...Array.from({ length: 3 }, (_, i) => logged(record({ eventId: `u-${i}`, rule: null, severity: null, outcome: 'ignored' }), base + i)),
      ],
      { since: undefined, now: NOW, sources: [] },
    );
    expect(report.plannedActions).toBe(30);
    expect(report.actions.map((a) => a.eventId)).toEqual(['done']);
    const page = parseHtml(renderHtml(report));
    const text = page.text.replace(/\s+/g, ' ');
    expect(text).toContain('Not in the table: 3 events no rule matched (3 ignored).');
    expect(text).toContain('30 planned writes (offline or dry-run) not made: nothing to reverse.');
    expect(text).not.toContain('(no rule)');
    expect(page.rows.filter((r) => r[0] === 'public-bucket' && r.length === 4)).toEqual([['public-bucket', '31', '1', '30']]);
  });
});
