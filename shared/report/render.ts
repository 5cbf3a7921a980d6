/**
 * The report as JSON (machines) or one self-contained HTML page (a ticket attachment: inline CSS, inline SVG
 * charts, no script, no external asset, every event value escaped). Both have the same sections, in the same
 * order: summary, findings by severity, chart, counts, exposure, failures, actors, actions. The text form is
 * cli/report-text.ts (it needs the terminal: width and colour).
 */
import { displayValue } from '../notifier.js';
import { OUTCOMES, type Outcome } from '../remediation-log.js';
import { terminalText, terminalValue } from '../safe-text.js';
import { FINDING_OUTCOMES, SEVERITIES, formatDuration, type ExposureStats, type FindingOutcome, type Report, type TimelineBucket } from './aggregate.js';

export type ReportFormat = 'text' | 'json' | 'html';

/** Rows a page lists per section before it says how many more there are and how to narrow them. */
export const PAGE_ROWS = { findings: 100, failures: 100, actors: 50, actions: 100 } as const;

/** The JSON form: the page's sections, every row included (a machine needs no cap). */
export function reportJson(report: Report) {
  return {
    summary: {
      generatedAt: report.generatedAt,
      since: report.since,
      sources: report.sources,
      filter: report.filter,
      records: report.total,
      filteredOut: report.filteredOut,
      findings: report.findings.length,
      bySeverity: report.severityTotals,
      outcomes: report.outcomeTotals,
    },
    findings: { total: report.findings.length, bySeverity: report.severityTotals, rows: report.findings },
    chart: { bucketMs: report.bucketMs, bucket: bucketName(report.bucketMs), buckets: report.timeline },
    counts: { rules: report.counts, allRules: report.ruleTotals, unmatched: report.unmatched, plannedActions: report.plannedActions },
    exposure: { overall: report.exposureOverall, byRule: report.exposure },
    failures: report.failures,
    actors: report.actors,
    actions: { planned: report.plannedActions, rows: report.actions },
  };
}

/** The report as JSON or HTML; text is rendered by the CLI, which knows the terminal. */
export function renderReport(report: Report, format: Exclude<ReportFormat, 'text'>): string {
  switch (format) {
    // Still JSON with the same values: C1 and Unicode format characters become \u escapes for the terminal.
    case 'json':
      return `${terminalText(JSON.stringify(reportJson(report), null, 2))}\n`;
    case 'html':
      return renderHtml(report);
  }
}

const HOUR = 3_600_000;

/** The chart's bucket as a person says it: hour, day, week (the sizes `bucketSizeFor` picks). */
export function bucketName(bucketMs: number): string {
  if (bucketMs === HOUR) return 'hour';
  if (bucketMs === 24 * HOUR) return 'day';
  if (bucketMs === 7 * 24 * HOUR) return 'week';
  return formatDuration(bucketMs);
}

/** `2026-11-25T11:58:00.000Z` → `2026-11-25 11:58` (UTC, as the column header says). */
export function shortTime(iso: string | null): string {
  if (iso === null) return '-';
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(iso) ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : iso;
}

/** What the CLI suggests when a section is cut: the options that narrow it. */
export const NARROWING = '--severity CRITICAL,HIGH, --rule RULE or --since 24h (or --format json for every row)';

// ---------------------------------------------------------------- html

/**
 * Escapes text for HTML element content and double-quoted attributes. Controls and Unicode format characters
 * (bidi overrides reorder a command as shown; a character reference would still be one) appear as `\uXXXX`.
 */
export function escapeHtml(value: unknown): string {
  return terminalValue(String(value ?? ''))
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * An id or ARN that never breaks inside a part: each part between `/`, `:` and `,` is unbreakable, and a line may
 * break only after one of those (a `<wbr>` outside the unbreakable spans). A part wider than its cell scrolls.
 */
export function idHtml(value: string): string {
  const parts = value.match(/[^/:,]*(?:[/:,]+|$)/g)?.filter((p) => p !== '') ?? [value];
  return `<code class="id">${parts.map((p) => `<span>${escapeHtml(p)}</span>`).join('<wbr>')}</code>`;
}

const time = (iso: string | null) => (iso === null ? '-' : `<time class="nw" datetime="${escapeHtml(iso)}">${escapeHtml(shortTime(iso))}</time>`);

/** Outcome colours: the chart's stacks, the legend and the findings' outcome column agree. */
const OUTCOME_COLOUR: Readonly<Record<FindingOutcome, string>> = {
  remediated: '#1a7f37',
  'would-remediate': '#bf8700',
  alerted: '#0969da',
  failed: '#cf222e',
};

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
p{margin:6px 0}.meta,.note,.none{color:#57606a}
table{border-collapse:collapse;width:100%;margin:4px 0}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:break-word}
table.fixed{table-layout:fixed;font-size:13px}th{background:#f6f8fa;white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.scroll{overflow-x:auto}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
code.id span,.nw{white-space:nowrap}
code.id{display:inline-block;max-width:100%;overflow-x:auto;vertical-align:top}
pre.cmd{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;margin:0;white-space:pre;overflow-x:auto;max-width:100%}
.sev{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;font-weight:600;white-space:nowrap;color:#fff}
.sev-CRITICAL{background:#82071e}.sev-HIGH{background:#cf222e}.sev-MEDIUM{background:#9a6700}.sev-LOW{background:#0550ae}.sev-none{background:#6e7781}
.tiles{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}
.tile{border:1px solid #d0d7de;border-radius:6px;padding:6px 12px;min-width:80px}.tile strong{display:block;font-size:20px}
.out{white-space:nowrap}.out i,.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
.legend{margin:4px 0}.legend span{display:inline-block;margin-right:16px;white-space:nowrap}
.failed{color:#cf222e}
svg{display:block;width:100%;height:auto}svg text{font-family:system-ui,sans-serif}
.narrow{display:none}
@media (max-width:640px){
body{margin:12px}.wide{display:none}.narrow{display:block}.tile{min-width:0;padding:4px 8px}
table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
table.cards colgroup,table.cards tr:first-child{display:none}
table.cards tr{border:1px solid #d0d7de;border-radius:6px;margin:0 0 8px;padding:4px 0}
table.cards td{border:0;padding:2px 8px}
table.cards td::before{content:attr(data-label);display:inline-block;min-width:72px;color:#57606a;font-size:12px}
pre.cmd{max-width:100%}
}`;

type Cell = string | { readonly html: string; readonly numeric?: boolean };

/**
 * A table whose cells arrive escaped. With column widths (CSS lengths, '' for the rest) it is a card per row on a
 * phone (each cell labelled with its header) and of fixed layout elsewhere, so a long value wraps or scrolls in its
 * cell instead of widening the page.
 */
function table(headers: readonly string[], rows: readonly (readonly Cell[])[], widths?: readonly string[]): string {
  if (rows.length === 0) return '<p class="none">none</p>';
  const cards = widths !== undefined;
  const cols = cards ? `<colgroup>${widths.map((w) => (w ? `<col style="width:${w}">` : '<col>')).join('')}</colgroup>\n` : '';
  const head = `${cols}<tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  const body = rows
    .map(
      (row) =>
        `<tr>${row
          .map((cell, i) => {
            const { html, numeric } = typeof cell === 'string' ? { html: cell, numeric: false } : cell;
            return `<td${numeric ? ' class="n"' : ''}${cards ? ` data-label="${escapeHtml(headers[i] ?? '')}"` : ''}>${html}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('\n');
  const html = `<table${cards ? ' class="cards fixed"' : ''}>\n${head}\n${body}\n</table>`;
  return cards ? html : `<div class="scroll">${html}</div>`;
}

const num = (n: number): Cell => ({ html: n.toLocaleString('en-US'), numeric: true });
const plural = (n: number, singular: string, many = `${singular}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? singular : many}`;

/** "Showing 200 of 4,512 …": said under a section the page cut. */
function moreNote(shown: number, total: number, what: string): string {
  if (total <= shown) return '';
  return `<p class="note">Showing ${shown.toLocaleString('en-US')} of ${plural(total, what)}. Narrow with <code>${escapeHtml(NARROWING)}</code>.</p>`;
}

const severityBadge = (severity: string | null) => `<span class="sev sev-${escapeHtml(severity ?? 'none')}">${escapeHtml(severity ?? 'none')}</span>`;
const outcomeBadge = (outcome: Outcome) => {
  const colour = (OUTCOME_COLOUR as Readonly<Record<string, string>>)[outcome];
  return `<span class="out">${colour ? `<i style="background:${colour}"></i>` : ''}${escapeHtml(outcome)}</span>`;
};

// ---------------------------------------------------------------- charts

interface ChartLayout {
  readonly className: 'wide' | 'narrow';
  readonly width: number;
  readonly labels: number;
  readonly font: number;
}

const WIDE: ChartLayout = { className: 'wide', width: 1000, labels: 10, font: 12 };
const NARROW: ChartLayout = { className: 'narrow', width: 360, labels: 3, font: 11 };

/** A round axis top at or above n: 1, 2, 5 × 10^k. */
function niceCeil(n: number): number {
  if (n <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(n));
  const step = [1, 2, 5, 10].find((m) => m * power >= n) ?? 10;
  return step * power;
}

/** The label under a bucket: the day, or day and hour for hourly buckets (UTC, as the caption says). */
function bucketLabel(start: string, bucketMs: number): string {
  return bucketMs < 24 * HOUR ? `${start.slice(5, 10)} ${start.slice(11, 16)}` : start.slice(0, 10);
}

const svgText = (x: number, y: number, anchor: 'start' | 'middle' | 'end', value: string, font: number, fill = '#57606a') =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${font}" text-anchor="${anchor}" fill="${fill}">${escapeHtml(value)}</text>`;

/** Labels every `every` buckets, and the bucket ticks under them. */
function xAxis(buckets: readonly TimelineBucket[], layout: ChartLayout, left: number, step: number, y: number, bucketMs: number): string[] {
  const every = Math.max(1, Math.ceil(buckets.length / layout.labels));
  return buckets.flatMap((b, i) => {
    if (i % every !== 0) return [];
    const x = left + i * step + step / 2;
    return [
      `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${y}" y2="${y + 4}" stroke="#8c959f"/>`,
      svgText(x, y + 6 + layout.font, 'middle', bucketLabel(b.start, bucketMs), layout.font),
    ];
  });
}

/** Findings per bucket, stacked by outcome; the partial (current) bucket drawn lighter and labelled. */
export function findingsChartSvg(report: Report, layout: ChartLayout = WIDE): string {
  const buckets = report.timeline;
  const left = 36;
  const right = 8;
  const top = 16;
  const height = 200;
  const bottom = 26;
  const plotW = layout.width - left - right;
  const plotH = height - top - bottom;
  const total = (b: TimelineBucket) => FINDING_OUTCOMES.reduce((n, o) => n + b.findings[o], 0);
  const max = niceCeil(Math.max(1, ...buckets.map(total)));
  const step = plotW / Math.max(1, buckets.length);
  const barW = Math.max(1, step * 0.72);
  const y = (n: number) => top + plotH - (n / max) * plotH;
  const parts = [
    `<svg class="${layout.className}" role="img" aria-label="Findings per ${escapeHtml(bucketName(report.bucketMs))} by outcome" viewBox="0 0 ${layout.width} ${height}">`,
  ];
  for (const tick of [0, max / 2, max]) {
    parts.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="${tick === 0 ? '#8c959f' : '#eaeef2'}"/>`,
    );
    if (Number.isInteger(tick)) parts.push(svgText(left - 6, y(tick) + layout.font / 3, 'end', String(tick), layout.font));
  }
  buckets.forEach((b, i) => {
    const x = left + i * step + (step - barW) / 2;
    let base = 0;
    const summary = `${shortTime(b.start)} UTC${b.partial ? ' (partial)' : ''}: ${FINDING_OUTCOMES.map((o) => `${b.findings[o]} ${o}`).join(', ')}`;
    parts.push(`<g${b.partial ? ' fill-opacity="0.45"' : ''}><title>${escapeHtml(summary)}</title>`);
    for (const outcome of FINDING_OUTCOMES) {
      const n = b.findings[outcome];
      if (n === 0) continue;
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${y(base + n).toFixed(1)}" width="${barW.toFixed(1)}" height="${(y(base) - y(base + n)).toFixed(1)}" fill="${OUTCOME_COLOUR[outcome]}"/>`,
      );
      base += n;
    }
    parts.push('</g>');
    if (b.partial) {
      parts.push(`<rect x="${x.toFixed(1)}" y="${top}" width="${barW.toFixed(1)}" height="${plotH}" fill="none" stroke="#8c959f" stroke-dasharray="3 3"/>`);
      parts.push(svgText(Math.min(x + barW / 2, left + plotW - 20), top - 4, 'middle', 'partial', layout.font - 1));
    }
  });
  parts.push(...xAxis(buckets, layout, left, step, top + plotH, report.bucketMs));
  parts.push('</svg>');
  return parts.join('\n');
}

/** Round durations for a log-scale axis, with their labels. */
const LOG_TICKS: readonly (readonly [number, string])[] = [
  [100, '100 ms'],
  [1_000, '1 s'],
  [10_000, '10 s'],
  [60_000, '1 min'],
  [600_000, '10 min'],
  [HOUR, '1 h'],
  [6 * HOUR, '6 h'],
  [24 * HOUR, '1 d'],
  [7 * 24 * HOUR, '1 w'],
];

/**
 * Exposure per bucket on a log scale: a band from p50 to p95 and a dot at p50, so a typical 9-second fix and a
 * 23-minute outlier are both readable. Only buckets with a live remediation are drawn.
 */
export function exposureChartSvg(report: Report, layout: ChartLayout = WIDE): string {
  const buckets = report.timeline;
  const left = 52;
  const right = 8;
  const top = 10;
  const height = 170;
  const bottom = 26;
  const plotW = layout.width - left - right;
  const plotH = height - top - bottom;
  const stats = buckets.flatMap((b) => (b.exposure ? [b.exposure] : []));
  const low = Math.max(1, Math.min(...stats.map((s) => s.p50Ms)));
  const high = Math.max(low * 10, ...stats.map((s) => s.p95Ms));
  // The ticks around the data (one beyond each end at most), and the axis spans them.
  const below = LOG_TICKS.filter(([t]) => t <= low).slice(-1);
  const above = LOG_TICKS.filter(([t]) => t >= high).slice(0, 1);
  const ticks = [...below, ...LOG_TICKS.filter(([t]) => t > low && t < high), ...above];
  const min = Math.min(low, ticks[0]?.[0] ?? low);
  const max = Math.max(high, ticks[ticks.length - 1]?.[0] ?? high);
  const y = (ms: number) => top + plotH - ((Math.log10(Math.max(ms, min)) - Math.log10(min)) / (Math.log10(max) - Math.log10(min))) * plotH;
  const step = plotW / Math.max(1, buckets.length);
  const parts = [
    `<svg class="${layout.className}" role="img" aria-label="Exposure per ${escapeHtml(bucketName(report.bucketMs))}, p50 and p95, log scale" viewBox="0 0 ${layout.width} ${height}">`,
  ];
  for (const [tick, label] of ticks) {
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#eaeef2"/>`);
    parts.push(svgText(left - 6, y(tick) + layout.font / 3, 'end', label, layout.font));
  }
  parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#8c959f"/>`);
  buckets.forEach((b, i) => {
    if (!b.exposure) return;
    const x = left + i * step + step / 2;
    const w = Math.max(3, step * 0.5);
    const title = `${shortTime(b.start)} UTC: ${plural(b.exposure.count, 'live fix', 'live fixes')}, p50 ${formatDuration(b.exposure.p50Ms)}, p95 ${formatDuration(b.exposure.p95Ms)}, max ${formatDuration(b.exposure.maxMs)}`;
    parts.push(
      `<g><title>${escapeHtml(title)}</title>`
        + `<rect x="${(x - w / 2).toFixed(1)}" y="${y(b.exposure.p95Ms).toFixed(1)}" width="${w.toFixed(1)}" height="${Math.max(1, y(b.exposure.p50Ms) - y(b.exposure.p95Ms)).toFixed(1)}" fill="#cf222e" fill-opacity="0.25"/>`
        + `<circle cx="${x.toFixed(1)}" cy="${y(b.exposure.p50Ms).toFixed(1)}" r="3.5" fill="#cf222e"/></g>`,
    );
  });
  parts.push(...xAxis(buckets, layout, left, step, top + plotH, report.bucketMs));
  parts.push('</svg>');
  return parts.join('\n');
}

const exposureLine = (s: ExposureStats) =>
  `p50 ${formatDuration(s.p50Ms)}, p95 ${formatDuration(s.p95Ms)}, max ${formatDuration(s.maxMs)} over ${plural(s.count, 'live fix', 'live fixes')}`;

// ---------------------------------------------------------------- page

function summaryHtml(report: Report): string {
  const e = escapeHtml;
  const tiles = SEVERITIES.map((s) => `<div class="tile">${severityBadge(s)}<strong>${report.severityTotals[s].toLocaleString('en-US')}</strong></div>`);
  if (report.severityTotals.none > 0)
    tiles.push(`<div class="tile">${severityBadge(null)}<strong>${report.severityTotals.none.toLocaleString('en-US')}</strong></div>`);
  const outcomes = FINDING_OUTCOMES.map((o) => `${outcomeBadge(o)} ${report.outcomeTotals[o].toLocaleString('en-US')}`).join(' &nbsp; ');
  const filter = report.filter
    ? `<p class="note">Filtered to ${[report.filter.severities ? `severity ${e(report.filter.severities.join(', '))}` : '', report.filter.rules ? `rule ${e(report.filter.rules.join(', '))}` : ''].filter(Boolean).join(' and ')}: ${e(plural(report.filteredOut, 'other record'))} left out.</p>`
    : '';
  return `<h2>Summary</h2>
<p><strong>${e(plural(report.findings.length, 'finding'))}</strong> in ${e(plural(report.total, 'record'))}${report.exposureOverall ? `; exposure ${e(exposureLine(report.exposureOverall))}` : ''}.</p>
<div class="tiles">${tiles.join('')}</div>
<p>${outcomes}</p>
${filter}`;
}

function findingsHtml(report: Report): string {
  const e = escapeHtml;
  const rows = report.findings
    .slice(0, PAGE_ROWS.findings)
    .map((f) => [
      time(f.time),
      severityBadge(f.severity),
      `<span class="nw">${e(f.rule)}</span>`,
      idHtml(f.resource),
      f.actor === null ? `<span class="none">(${e(f.trigger)})</span>` : idHtml(f.actor),
      e(displayValue(f.reason, 300)),
      outcomeBadge(f.outcome),
    ]);
  return `<h2>Findings by severity (${report.findings.length.toLocaleString('en-US')})</h2>
<p class="note">CRITICAL and HIGH first, the latest first within a severity. Times are UTC.</p>
${table(['time', 'severity', 'rule', 'resource', 'actor', 'reason', 'outcome'], rows, ['8rem', '6rem', '11.5rem', '13%', '13%', '', '8.5rem'])}
${moreNote(rows.length, report.findings.length, 'finding')}`;
}

function chartHtml(report: Report): string {
  const bucket = bucketName(report.bucketMs);
  const legend = FINDING_OUTCOMES.map((o) => `<span><i style="background:${OUTCOME_COLOUR[o]}"></i>${escapeHtml(o)}</span>`).join('');
  const partial = report.timeline.some((b) => b.partial) ? `<span>dashed, lighter: the current ${escapeHtml(bucket)}, still partial</span>` : '';
  const exposure = report.exposureOverall
    ? `<h2>Exposure per ${escapeHtml(bucket)}: change to verified fix (live remediations)</h2>
<p class="legend"><span><i style="background:#cf222e"></i>p50 (median)</span><span><i style="background:#cf222e;opacity:.25"></i>p50 to p95</span><span>log scale; UTC</span></p>
${exposureChartSvg(report, WIDE)}
${exposureChartSvg(report, NARROW)}`
    : '<p class="note">No live remediation in this window, so no exposure chart.</p>';
  return `<h2>Findings per ${escapeHtml(bucket)} by outcome</h2>
<p class="legend">${legend}${partial}<span>UTC</span></p>
${findingsChartSvg(report, WIDE)}
${findingsChartSvg(report, NARROW)}
${exposure}`;
}

function countsHtml(report: Report): string {
  const e = escapeHtml;
  // Columns no rule's record reached say nothing; the footnote below counts what the table leaves out.
  const shown = OUTCOMES.filter((o) => report.ruleTotals[o] > 0);
  const rows = report.counts.map((row) => [`<span class="nw">${e(row.rule)}</span>`, num(row.total), ...shown.map((o) => num(row.outcomes[o]))]);
  if (rows.length > 0)
    rows.push(['<strong>all rules</strong>', num(report.counts.reduce((n, r) => n + r.total, 0)), ...shown.map((o) => num(report.ruleTotals[o]))]);
  const notes: string[] = [];
  if (report.unmatched.total > 0) {
    const byOutcome = OUTCOMES.filter((o) => report.unmatched.outcomes[o] > 0)
      .map((o) => `${report.unmatched.outcomes[o].toLocaleString('en-US')} ${o}`)
      .join(', ');
    notes.push(`Not in the table: ${e(plural(report.unmatched.total, 'event'))} no rule matched (${e(byOutcome)}).`);
  }
  if (report.plannedActions > 0) notes.push(`${e(plural(report.plannedActions, 'planned write'))} (offline or dry-run) not made: nothing to reverse.`);
  return `<h2>Counts per rule and outcome</h2>
${table(['rule', 'total', ...shown], rows)}
${notes.map((n) => `<p class="note">${n}</p>`).join('\n')}`;
}

function exposureHtml(report: Report): string {
  const e = escapeHtml;
  if (!report.exposureOverall) return '';
  const rows = report.exposure.map((x) => [
    `<span class="nw">${e(x.rule)}</span>`,
    num(x.count),
    { html: e(formatDuration(x.p50Ms)), numeric: true },
    { html: e(formatDuration(x.p95Ms)), numeric: true },
    { html: e(formatDuration(x.maxMs)), numeric: true },
  ]);
  const all = report.exposureOverall;
  rows.push([
    '<strong>all rules</strong>',
    num(all.count),
    { html: e(formatDuration(all.p50Ms)), numeric: true },
    { html: e(formatDuration(all.p95Ms)), numeric: true },
    { html: e(formatDuration(all.maxMs)), numeric: true },
  ]);
  return `<h2>Exposure per rule (live remediations)</h2>
${table(['rule', 'fixes', 'p50', 'p95', 'max'], rows)}`;
}

function failuresHtml(report: Report): string {
  const e = escapeHtml;
  const rows = report.failures
    .slice(-PAGE_ROWS.failures)
    .reverse()
    .map((f) => [
      time(f.time),
      `<span class="nw">${e(f.rule)}</span>`,
      `${e(f.eventName ?? '-')}<br>${idHtml(f.eventId)}`,
      idHtml(f.resource),
      `<span class="failed">${e(f.reason)}</span>`,
      f.error ? `${e(f.error.kind)} ${e(f.error.code)}${f.error.permission ? `<br>needs ${idHtml(f.error.permission)}` : ''}` : '-',
    ]);
  return `<h2>Failures (${report.failures.length.toLocaleString('en-US')})</h2>
${table(['time', 'rule', 'event', 'resource', 'reason', 'error'], rows, ['8.5rem', '12rem', '18%', '18%', '', '16%'])}
${moreNote(rows.length, report.failures.length, 'failure')}`;
}

function actorsHtml(report: Report): string {
  const e = escapeHtml;
  const rows = report.actors.slice(0, PAGE_ROWS.actors).map((a) => [
    idHtml(a.actor),
    e(a.actorType ?? '-'),
    num(a.violations),
    a.rules.map((r) => `<span class="nw">${e(r)}</span>`).join(', '),
    e(
      Object.entries(a.outcomes)
        .map(([o, n]) => `${n} ${o}`)
        .join(', '),
    ),
    time(a.lastSeen),
  ]);
  return `<h2>Actors behind violations (${report.actors.length.toLocaleString('en-US')})</h2>
${table(['actor', 'type', 'violations', 'rules', 'outcomes', 'last seen'], rows, ['28%', '8rem', '6rem', '', '14rem', '8.5rem'])}
${moreNote(rows.length, report.actors.length, 'actor')}`;
}

function actionsHtml(report: Report): string {
  const e = escapeHtml;
  const rows = report.actions
    .slice(-PAGE_ROWS.actions)
    .reverse()
    .map((a) => [
      time(a.time),
      `<span class="nw">${e(a.rule)}</span>`,
      `${e(a.api)}<br>${idHtml(a.eventId)}`,
      idHtml(a.resource),
      `${e(a.status)} (${e(a.outcome)})`,
      a.reversal.kind === 'none' ? `<span class="none">${e(a.reversal.text)}</span>` : `<pre class="cmd">${e(a.reversal.text)}</pre>`,
    ]);
  const planned =
    report.plannedActions > 0
      ? `<p class="note">And ${e(plural(report.plannedActions, 'planned write'))} not made (offline or dry-run): nothing to reverse.</p>`
      : '';
  return `<h2>Writes made and how to reverse them (${report.actions.length.toLocaleString('en-US')})</h2>
${table(['time', 'rule', 'action', 'resource', 'status', 'how to reverse'], rows, ['8.5rem', '12rem', '16%', '14%', '9rem', ''])}
${moreNote(rows.length, report.actions.length, 'write')}
${planned}`;
}

export function renderHtml(report: Report): string {
  const e = escapeHtml;
  const window = report.since ? `since ${shortTime(report.since)} UTC` : 'all records';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>trailguard report ${e(report.generatedAt)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>trailguard remediation report</h1>
<p class="meta">${e(plural(report.total, 'record'))}, ${e(window)}; generated ${time(report.generatedAt)} UTC. Sources: ${report.sources.map((s) => idHtml(s)).join(', ') || '-'}.</p>
${summaryHtml(report)}
${findingsHtml(report)}
${chartHtml(report)}
${countsHtml(report)}
${exposureHtml(report)}
${failuresHtml(report)}
${actorsHtml(report)}
${actionsHtml(report)}
</body>
</html>
`;
}
