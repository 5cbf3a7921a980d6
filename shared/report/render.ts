/**
 * The report as text (a terminal), JSON (machines) or one self-contained HTML page (a ticket attachment:
 * inline CSS, an inline SVG chart, no script, no external asset, every event value escaped).
 */
import { displayValue } from '../notifier.js';
import { OUTCOMES } from '../remediation-log.js';
import { terminalText, terminalValue } from '../safe-text.js';
import { formatDuration, type Report } from './aggregate.js';

export type ReportFormat = 'text' | 'json' | 'html';

export function renderReport(report: Report, format: ReportFormat): string {
  switch (format) {
    // Still JSON with the same values: C1 and Unicode format characters become \u escapes for the terminal.
    case 'json': return `${terminalText(JSON.stringify(report, null, 2))}\n`;
    case 'html': return renderHtml(report);
    case 'text': return renderText(report);
  }
}

// ---------------------------------------------------------------- text

const show = (value: string | null | undefined, limit = 300) => displayValue(value, limit);
const pad = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}~` : text.padEnd(width));

function errorText(error: Report['failures'][number]['error']): string {
  if (!error) return '';
  return ` [${error.kind} ${show(error.code)}${error.permission ? `, needs ${show(error.permission)}` : ''}]`;
}

export function renderText(report: Report): string {
  const lines: string[] = [];
  const window = report.since ? `since ${report.since}` : 'all records';
  lines.push(`trailguard report: ${report.total} records, ${window} (generated ${report.generatedAt})`);
  lines.push(`sources: ${report.sources.map((s) => show(s)).join(', ') || '-'}`, '');

  lines.push('Counts per rule and outcome');
  lines.push(`  ${pad('RULE', 20)} ${pad('TOTAL', 6)} ${OUTCOMES.map((o) => pad(o, o.length + 1)).join(' ')}`);
  for (const row of report.counts) {
    lines.push(`  ${pad(show(row.rule), 20)} ${pad(String(row.total), 6)} ${OUTCOMES.map((o) => pad(String(row.outcomes[o]), o.length + 1)).join(' ')}`);
  }
  lines.push(`  ${pad('all', 20)} ${pad(String(report.total), 6)} ${OUTCOMES.map((o) => pad(String(report.outcomeTotals[o]), o.length + 1)).join(' ')}`, '');

  lines.push(`Failures (${report.failures.length})`);
  if (report.failures.length === 0) lines.push('  none');
  for (const f of report.failures) {
    lines.push(`  ${f.time ?? '-'} ${show(f.rule)} ${show(f.eventName)} on ${show(f.resource)} (event ${show(f.eventId)}): ${show(f.reason, 1000)}${errorText(f.error)}`);
  }
  lines.push('');

  lines.push(`Actors behind violations (${report.actors.length})`);
  if (report.actors.length === 0) lines.push('  none');
  for (const a of report.actors) {
    const outcomes = Object.entries(a.outcomes).map(([o, n]) => `${n} ${o}`).join(', ');
    lines.push(`  ${a.violations} ${show(a.actor)} (${show(a.actorType)}): ${a.rules.map((r) => show(r)).join(', ')}; ${outcomes}; last ${a.lastSeen ?? '-'}`);
  }
  lines.push('');

  lines.push('Exposure (live remediations: CloudTrail event time to verified fix)');
  if (report.exposure.length === 0) lines.push('  no live remediation with an exposure window');
  else lines.push(`  ${pad('RULE', 20)} ${pad('FIXES', 6)} ${pad('P50', 10)} ${pad('P95', 10)} MAX`);
  for (const e of report.exposure) {
    lines.push(`  ${pad(show(e.rule), 20)} ${pad(String(e.count), 6)} ${pad(formatDuration(e.p50Ms), 10)} ${pad(formatDuration(e.p95Ms), 10)} ${formatDuration(e.maxMs)}`);
  }
  lines.push('');

  lines.push(`Actions and how to reverse them (${report.actions.length})`);
  if (report.actions.length === 0) lines.push('  none');
  for (const a of report.actions) {
    lines.push(`  ${a.time ?? '-'} ${show(a.rule)} ${show(a.api)} on ${show(a.resource)}: ${a.status} (${a.outcome}, event ${show(a.eventId)})`);
    lines.push(`    reverse: ${show(a.reversal.text, 2000)}`);
  }
  // Every value above went through `show`; this catches any that did not (a log file is only as clean as its writer).
  return `${terminalText(lines.join('\n'))}\n`;
}

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

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.meta{color:#57606a;margin:0 0 16px}table{border-collapse:collapse;width:100%;margin:4px 0}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f6f8fa}
td.n{text-align:right;font-variant-numeric:tabular-nums}code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all;white-space:pre-wrap}
.failed{color:#cf222e}.none{color:#57606a}.chart{max-width:900px}.legend span{display:inline-block;margin-right:16px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px}`;

function table(headers: readonly string[], rows: readonly (readonly string[])[], numeric: ReadonlySet<number> = new Set()): string {
  if (rows.length === 0) return '<p class="none">none</p>';
  const head = `<tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>`;
  // Cells arrive already escaped (some hold <code>).
  const body = rows.map((row) => `<tr>${row.map((cell, i) => `<td${numeric.has(i) ? ' class="n"' : ''}>${cell}</td>`).join('')}</tr>`).join('\n');
  return `<table>\n${head}\n${body}\n</table>`;
}

/** Inline SVG: violations per bucket as bars (left axis), the largest exposure per bucket as a line (right axis). */
export function chartSvg(report: Report): string {
  const buckets = report.timeline;
  const width = 860;
  const height = 240;
  const left = 44;
  const right = 70;
  const top = 16;
  const bottom = 36;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const maxViolations = Math.max(1, ...buckets.map((b) => b.violations));
  const maxExposure = Math.max(1, ...buckets.map((b) => b.maxExposureMs ?? 0));
  const step = plotW / Math.max(1, buckets.length);
  const barW = Math.max(1, step * 0.7);
  const parts: string[] = [];
  parts.push(`<svg class="chart" role="img" aria-label="Violations and exposure over time" viewBox="0 0 ${width} ${height}" width="100%">`);
  parts.push(`<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="#fff" stroke="#d0d7de"/>`);
  buckets.forEach((b, i) => {
    const h = (b.violations / maxViolations) * plotH;
    const x = left + i * step + (step - barW) / 2;
    const exposure = b.maxExposureMs === null ? 'no exposure window' : `max exposure ${formatDuration(b.maxExposureMs)}`;
    parts.push(`<rect x="${x.toFixed(1)}" y="${(top + plotH - h).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="#0969da"><title>${escapeHtml(`${b.start}: ${b.violations} violations, ${b.remediated} remediated, ${exposure}`)}</title></rect>`);
  });
  const points = buckets.flatMap((b, i) => (b.maxExposureMs === null ? [] : [{
    x: left + i * step + step / 2, y: top + plotH - (b.maxExposureMs / maxExposure) * plotH, b,
  }]));
  if (points.length > 1) parts.push(`<polyline fill="none" stroke="#cf222e" stroke-width="2" points="${points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ')}"/>`);
  for (const p of points) {
    parts.push(`<circle cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="3" fill="#cf222e"><title>${escapeHtml(`${p.b.start}: max exposure ${formatDuration(p.b.maxExposureMs ?? 0)}`)}</title></circle>`);
  }
  const text = (x: number, y: number, anchor: string, value: string, color = '#57606a') =>
    `<text x="${x}" y="${y}" font-size="11" text-anchor="${anchor}" fill="${color}">${escapeHtml(value)}</text>`;
  parts.push(text(left - 6, top + 10, 'end', String(maxViolations), '#0969da'));
  parts.push(text(left - 6, top + plotH, 'end', '0', '#0969da'));
  parts.push(text(width - right + 6, top + 10, 'start', formatDuration(maxExposure), '#cf222e'));
  parts.push(text(width - right + 6, top + plotH, 'start', '0', '#cf222e'));
  if (buckets.length > 0) {
    const axisLabel = (start: string | undefined) => axisTime(start ?? '', report.bucketMs);
    parts.push(text(left, height - 12, 'start', axisLabel(buckets[0]?.start)));
    parts.push(text(width - right, height - 12, 'end', axisLabel(buckets[buckets.length - 1]?.start)));
  }
  parts.push('</svg>');
  return parts.join('\n');
}

const HOUR = 3_600_000;

/** The chart's bucket as a person says it: hour, day, week (the sizes `bucketSizeFor` picks). */
function bucketName(bucketMs: number): string {
  if (bucketMs === HOUR) return 'hour';
  if (bucketMs === 24 * HOUR) return 'day';
  if (bucketMs === 7 * 24 * HOUR) return 'week';
  return formatDuration(bucketMs);
}

/** An axis label without noise: the date for day and week buckets, date and hour for hourly ones (UTC). */
function axisTime(iso: string, bucketMs: number): string {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}/.test(iso)) return iso;
  return bucketMs < 24 * HOUR ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : iso.slice(0, 10);
}

export function renderHtml(report: Report): string {
  const e = escapeHtml;
  const window = report.since ? `since ${report.since}` : 'all records';
  const bucket = bucketName(report.bucketMs);
  const counts = table(
    ['rule', 'total', ...OUTCOMES],
    [...report.counts.map((row) => [e(row.rule), String(row.total), ...OUTCOMES.map((o) => String(row.outcomes[o]))]),
      ['<strong>all</strong>', String(report.total), ...OUTCOMES.map((o) => String(report.outcomeTotals[o]))]],
    new Set(Array.from({ length: OUTCOMES.length + 1 }, (_, i) => i + 1)),
  );
  const failures = table(
    ['time', 'rule', 'event', 'resource', 'reason', 'error'],
    report.failures.map((f) => [
      e(f.time ?? '-'), e(f.rule), `${e(f.eventName ?? '-')}<br><code>${e(f.eventId)}</code>`, `<code>${e(f.resource)}</code>`,
      `<span class="failed">${e(f.reason)}</span>`,
      f.error ? `${e(f.error.kind)} ${e(f.error.code)}${f.error.permission ? `<br>needs <code>${e(f.error.permission)}</code>` : ''}` : '-',
    ]),
  );
  const actors = table(
    ['actor', 'type', 'violations', 'rules', 'outcomes', 'last seen'],
    report.actors.map((a) => [
      `<code>${e(a.actor)}</code>`, e(a.actorType ?? '-'), String(a.violations), e(a.rules.join(', ')),
      e(Object.entries(a.outcomes).map(([o, n]) => `${n} ${o}`).join(', ')), e(a.lastSeen ?? '-'),
    ]),
    new Set([2]),
  );
  const exposure = table(
    ['rule', 'fixes', 'p50', 'p95', 'max'],
    report.exposure.map((x) => [e(x.rule), String(x.count), e(formatDuration(x.p50Ms)), e(formatDuration(x.p95Ms)), e(formatDuration(x.maxMs))]),
    new Set([1, 2, 3, 4]),
  );
  const actions = table(
    ['time', 'rule', 'action', 'resource', 'status', 'how to reverse'],
    report.actions.map((a) => [
      e(a.time ?? '-'), e(a.rule), `${e(a.api)}<br><code>${e(a.eventId)}</code>`, `<code>${e(a.resource)}</code>`, `${e(a.status)} (${e(a.outcome)})`,
      a.reversal.kind === 'none' ? `<span class="none">${e(a.reversal.text)}</span>` : `<code>${e(a.reversal.text)}</code>`,
    ]),
  );
  return `<!DOCTYPE html>
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
<p class="meta">${report.total} records, ${e(window)}; generated ${e(report.generatedAt)}. Sources: ${e(report.sources.join(', ') || '-')}.</p>
<h2>Violations and exposure over time</h2>
<p class="legend"><span><i class="sw" style="background:#0969da"></i>violations per ${e(bucket)} (left axis)</span><span><i class="sw" style="background:#cf222e"></i>largest exposure window (right axis)</span></p>
${chartSvg(report)}
<h2>Counts per rule and outcome</h2>
${counts}
<h2>Exposure: CloudTrail event time to verified fix (live remediations)</h2>
${exposure}
<h2>Failures (${report.failures.length})</h2>
${failures}
<h2>Actors behind violations (${report.actors.length})</h2>
${actors}
<h2>Actions and how to reverse them (${report.actions.length})</h2>
${actions}
</body>
</html>
`;
}
