/**
 * The report for a terminal: the page's sections (summary, findings by severity, chart, counts, exposure, failures,
 * actors, writes), fitted to the terminal's width when it is one, severity coloured when colour is on. Every value
 * from a record enters through `Terminal.value`/`fitted`/`paint`; a rule id is never cut (its column is as wide as
 * the longest one shown), so no cut id reads as another rule's.
 */
import { FINDING_OUTCOMES, SEVERITIES, formatDuration, type ExposureStats, type FindingOutcome, type Report } from '../shared/report/aggregate.js';
import { NARROWING, bucketName, shortTime } from '../shared/report/render.js';
import { OUTCOMES, type Outcome } from '../shared/remediation-log.js';
import { SEVERITY_STYLE, count, widthOf, type Shown, type Style, type Terminal } from './terminal.js';

/** Rows the text lists per section before it says how many more and how to narrow them. */
export const TEXT_ROWS = { findings: 50, failures: 20, actors: 10, actions: 20, buckets: 30 } as const;

const OUTCOME_STYLE: Readonly<Partial<Record<Outcome, Style>>> = {
  remediated: 'good',
  'would-remediate': 'warn',
  alerted: 'bold',
  failed: 'bad',
  reverted: 'dim',
};

/** One glyph per outcome, so the stacked bar reads without colour too. */
const BAR_GLYPH: Readonly<Record<FindingOutcome, string>> = { remediated: '█', 'would-remediate': '▓', alerted: '▒', failed: '░' };
const BAR_STYLE: Readonly<Record<FindingOutcome, Style>> = { remediated: 'good', 'would-remediate': 'warn', alerted: 'low', failed: 'bad' };

const exposureText = (s: ExposureStats) =>
  `p50 ${formatDuration(s.p50Ms)}, p95 ${formatDuration(s.p95Ms)}, max ${formatDuration(s.maxMs)} over ${count(s.count, 'live fix', 'live fixes')}`;

/** Renders the report as lines of shown text for this terminal. */
export function reportText(report: Report, terminal: Terminal): Shown[] {
  const t = terminal;
  const width = t.width;
  const lines: Shown[][] = [];
  const line = (...parts: Shown[]) => lines.push(parts);
  const ours = (text: string) => t.text(text);
  const heading = (text: string) => line(t.fitted(text, width, 'bold'));
  const blank = () => line();
  /** Our own sentence (it may hold values, made safe by `fitted`), wrapped at spaces to the width; a word too long for a line is cut. */
  const say = (text: string, indent = 2) => {
    const room = width === undefined ? undefined : Math.max(10, width - indent);
    if (room === undefined || t.value(text).length <= room) {
      line(ours(' '.repeat(indent)), t.fitted(text, room));
      return;
    }
    // Continuation lines hang two columns deeper.
    let current = '';
    let first = true;
    const flush = () => {
      line(ours(' '.repeat(first ? indent : indent + 2)), t.fitted(current, first ? room : room - 2));
      first = false;
    };
    for (const word of text.split(' ')) {
      if (current !== '' && t.value(`${current} ${word}`).length > (first ? room : room - 2)) {
        flush();
        current = word;
      } else {
        current = current === '' ? word : `${current} ${word}`;
      }
    }
    if (current !== '') flush();
  };
  const more = (shown: number, total: number, what: string, plural?: string) => {
    if (total > shown) say(`… ${count(total - shown, `more ${what}`, `more ${plural ?? `${what}s`}`)}: narrow with ${NARROWING}`);
  };

  // ---- summary
  const window = report.since ? `since ${shortTime(report.since)} UTC` : 'all records';
  say(`trailguard report: ${count(report.total, 'record')}, ${window}; generated ${shortTime(report.generatedAt)} UTC`, 0);
  say(`sources: ${report.sources.join(', ') || '-'}`, 0);
  blank();
  heading('Summary');
  const severities: Shown[] = [];
  for (const severity of SEVERITIES) {
    severities.push(
      ours(severities.length === 0 ? ' ' : ', '),
      ours(`${report.severityTotals[severity].toLocaleString('en-US')} `),
      t.paint(SEVERITY_STYLE[severity], severity),
    );
  }
  if (report.severityTotals.none > 0) severities.push(ours(`, ${report.severityTotals.none.toLocaleString('en-US')} without severity`));
  line(ours(`  ${count(report.findings.length, 'finding')}:`), ...severities);
  say(FINDING_OUTCOMES.map((o) => `${report.outcomeTotals[o].toLocaleString('en-US')} ${o}`).join(', '));
  say(report.exposureOverall ? `exposure (change to verified fix): ${exposureText(report.exposureOverall)}` : 'no live remediation: no exposure figures');
  if (report.filter) {
    const filter = [
      report.filter.severities ? `severity ${report.filter.severities.join(', ')}` : '',
      report.filter.rules ? `rule ${report.filter.rules.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join(' and ');
    say(`filtered to ${filter}: ${count(report.filteredOut, 'other record')} left out`);
  }
  blank();

  // ---- findings
  heading(`Findings by severity (${report.findings.length.toLocaleString('en-US')})`);
  if (report.findings.length === 0) say('none');
  else say('CRITICAL and HIGH first, the latest first within a severity; times UTC');
  const findings = report.findings.slice(0, TEXT_ROWS.findings);
  const ruleWidth = Math.max(4, ...findings.map((f) => t.value(f.rule).length));
  for (const f of findings) {
    const severity = f.severity ?? '-';
    const head = `  ${severity.padEnd(8)} ${shortTime(f.time).padEnd(16)} ${t.value(f.rule).padEnd(ruleWidth)} `;
    // The rule is in the fixed part: only the resource after it is ever cut.
    const room = width === undefined ? undefined : width - head.length;
    // Too narrow for the resource after the rule: it gets a line of its own.
    const ownLine = room !== undefined && room < 12;
    line(
      ours('  '),
      f.severity ? t.paint(SEVERITY_STYLE[f.severity], severity) : ours(severity),
      ours(' '.repeat(8 - severity.length)),
      ours(` ${shortTime(f.time).padEnd(16)} `),
      t.value(f.rule),
      ...(ownLine ? [] : [ours(' '.repeat(ruleWidth - t.value(f.rule).length + 1)), t.fitted(f.resource, room)]),
    );
    if (ownLine) say(f.resource, 11);
    // The reason, then who: an ARN is long, and the reason is what a reader needs first.
    line(
      ours(' '.repeat(11)),
      t.paint(OUTCOME_STYLE[f.outcome] ?? 'dim', f.outcome),
      t.fitted(`: ${f.reason}`, width === undefined ? undefined : Math.max(10, width - 11 - f.outcome.length)),
    );
    line(
      ours(' '.repeat(11)),
      t.fitted(f.actor === null ? `found by a ${f.trigger}` : `by ${f.actor}`, width === undefined ? undefined : Math.max(10, width - 11), 'dim'),
    );
  }
  more(findings.length, report.findings.length, 'finding');
  blank();

  // ---- chart
  const bucket = bucketName(report.bucketMs);
  heading(`Findings per ${bucket} by outcome (UTC)`);
  const busy = report.timeline.filter((b) => FINDING_OUTCOMES.some((o) => b.findings[o] > 0) || b.exposure !== null);
  if (busy.length === 0) say('none');
  else {
    line(ours('  '), ...FINDING_OUTCOMES.flatMap((o, i) => [ours(i === 0 ? '' : '  '), t.paint(BAR_STYLE[o], BAR_GLYPH[o]), ours(` ${o}`)]));
    const shown = busy.slice(-TEXT_ROWS.buckets);
    if (busy.length > shown.length) say(`(${count(busy.length - shown.length, `earlier ${bucket}`)} with findings not shown)`);
    const total = (b: (typeof busy)[number]) => FINDING_OUTCOMES.reduce((n, o) => n + b.findings[o], 0);
    const max = Math.max(1, ...shown.map(total));
    const labelWidth = report.bucketMs < 86_400_000 ? 16 : 10;
    const numberWidth = String(max).length;
    const suffix = (b: (typeof busy)[number]) =>
      `${b.partial ? ' (partial)' : ''}${b.exposure ? `  exposure p50 ${formatDuration(b.exposure.p50Ms)}, p95 ${formatDuration(b.exposure.p95Ms)}` : ''}`;
    // The bars take what the label, the count and the longest exposure note leave (10 to 50 columns).
    const barRoom = Math.max(10, Math.min(50, (width ?? 100) - 2 - labelWidth - 1 - 1 - numberWidth - Math.max(0, ...shown.map((b) => suffix(b).length))));
    for (const b of shown) {
      const n = total(b);
      const bar = FINDING_OUTCOMES.flatMap((o) => {
        const cells = b.findings[o] === 0 ? 0 : Math.max(1, Math.round((b.findings[o] / max) * barRoom));
        return cells === 0 ? [] : [t.paint(BAR_STYLE[o], BAR_GLYPH[o].repeat(cells))];
      });
      const barWidth = bar.reduce((w, s) => w + widthOf(s), 0);
      line(
        ours(`  ${shortTime(b.start).slice(0, labelWidth).padEnd(labelWidth)} `),
        ...bar,
        ours(`${' '.repeat(Math.max(0, barRoom - barWidth))} ${String(n).padStart(numberWidth)}`),
        t.fitted(suffix(b), width === undefined ? undefined : Math.max(0, width - 2 - labelWidth - 2 - barRoom - numberWidth), 'dim'),
      );
    }
  }
  blank();

  // ---- counts
  heading('Counts per rule and outcome');
  const columns = OUTCOMES.filter((o) => report.ruleTotals[o] > 0);
  const countRuleWidth = Math.max(9, ...report.counts.map((c) => t.value(c.rule).length));
  const cell = (o: Outcome | 'total') => Math.max(o.length, 5);
  const tableWidth = 2 + countRuleWidth + 1 + 6 + columns.reduce((w, o) => w + cell(o) + 1, 0);
  if (report.counts.length === 0) say('none');
  else if (width === undefined || tableWidth <= width) {
    line(ours(`  ${'RULE'.padEnd(countRuleWidth)} ${'TOTAL'.padStart(6)}`), ...columns.map((o) => ours(` ${o.padStart(cell(o))}`)));
    for (const c of report.counts) {
      line(
        ours('  '),
        t.value(c.rule),
        ours(`${' '.repeat(countRuleWidth - t.value(c.rule).length)} ${String(c.total).padStart(6)}`),
        ...columns.map((o) => ours(` ${String(c.outcomes[o]).padStart(cell(o))}`)),
      );
    }
    const all = report.counts.reduce((n, c) => n + c.total, 0);
    line(
      ours(`  ${'all rules'.padEnd(countRuleWidth)} ${String(all).padStart(6)}`),
      ...columns.map((o) => ours(` ${String(report.ruleTotals[o]).padStart(cell(o))}`)),
    );
  } else {
    // Too narrow for a column per outcome: one line per rule, naming only the outcomes it had.
    for (const c of report.counts) {
      const parts = columns
        .filter((o) => c.outcomes[o] > 0)
        .map((o) => `${c.outcomes[o]} ${o}`)
        .join(', ');
      line(ours('  '), t.value(c.rule), t.fitted(`: ${c.total} (${parts})`, width - 2 - t.value(c.rule).length));
    }
  }
  if (report.unmatched.total > 0) {
    const byOutcome = OUTCOMES.filter((o) => report.unmatched.outcomes[o] > 0)
      .map((o) => `${report.unmatched.outcomes[o].toLocaleString('en-US')} ${o}`)
      .join(', ');
    say(`not in the table: ${count(report.unmatched.total, 'event')} no rule matched (${byOutcome})`);
  }
  if (report.plannedActions > 0) say(`${count(report.plannedActions, 'planned write')} (offline or dry-run) not made: nothing to reverse`);
  blank();

  // ---- exposure
  if (report.exposureOverall) {
    heading('Exposure per rule (live fixes: change to verified fix)');
    const exposureRuleWidth = Math.max(9, ...report.exposure.map((e) => t.value(e.rule).length));
    line(ours(`  ${'RULE'.padEnd(exposureRuleWidth)} ${'FIXES'.padStart(6)} ${'P50'.padStart(9)} ${'P95'.padStart(9)} ${'MAX'.padStart(9)}`));
    const row = (rule: Shown, s: ExposureStats) =>
      line(
        ours('  '),
        rule,
        ours(
          `${' '.repeat(exposureRuleWidth - widthOf(rule))} ${String(s.count).padStart(6)} ${formatDuration(s.p50Ms).padStart(9)} ${formatDuration(s.p95Ms).padStart(9)} ${formatDuration(s.maxMs).padStart(9)}`,
        ),
      );
    for (const e of report.exposure) row(t.value(e.rule), e);
    row(ours('all rules'), report.exposureOverall);
    blank();
  }

  // ---- failures
  heading(`Failures (${report.failures.length.toLocaleString('en-US')})`);
  if (report.failures.length === 0) say('none');
  const failures = report.failures.slice(-TEXT_ROWS.failures).reverse();
  for (const f of failures) {
    const error = f.error ? ` [${f.error.kind} ${f.error.code}${f.error.permission ? `, needs ${f.error.permission}` : ''}]` : '';
    line(
      ours(`  ${shortTime(f.time)} `),
      t.value(f.rule),
      t.fitted(
        ` ${f.eventName ?? '-'} on ${f.resource} (event ${f.eventId})`,
        width === undefined ? undefined : Math.max(10, width - 19 - t.value(f.rule).length),
      ),
    );
    line(ours('    '), t.fitted(`${f.reason}${error}`, width === undefined ? undefined : Math.max(10, width - 4), 'bad'));
  }
  more(failures.length, report.failures.length, 'failure');
  blank();

  // ---- actors
  heading(`Actors behind violations (${report.actors.length.toLocaleString('en-US')})`);
  if (report.actors.length === 0) say('none');
  const actors = report.actors.slice(0, TEXT_ROWS.actors);
  for (const a of actors) {
    const outcomes = Object.entries(a.outcomes)
      .map(([o, n]) => `${n} ${o}`)
      .join(', ');
    line(
      ours(`  ${String(a.violations).padStart(5)} `),
      t.fitted(`${a.actor} (${a.actorType ?? '-'})`, width === undefined ? undefined : Math.max(10, width - 8)),
    );
    line(
      ours('        '),
      t.fitted(`${a.rules.join(', ')}; ${outcomes}; last ${shortTime(a.lastSeen)}`, width === undefined ? undefined : Math.max(10, width - 8)),
    );
  }
  more(actors.length, report.actors.length, 'actor');
  blank();

  // ---- writes
  heading(`Writes made and how to reverse them (${report.actions.length.toLocaleString('en-US')})`);
  if (report.actions.length === 0) say('none');
  const actions = report.actions.slice(-TEXT_ROWS.actions).reverse();
  for (const a of actions) {
    line(
      ours(`  ${shortTime(a.time)} `),
      t.value(a.rule),
      t.fitted(
        ` ${a.api} on ${a.resource}: ${a.status} (${a.outcome}, event ${a.eventId})`,
        width === undefined ? undefined : Math.max(10, width - 19 - t.value(a.rule).length),
      ),
    );
    // A command is never cut: a cut command would do something else. The terminal wraps it.
    line(ours('    reverse: '), a.reversal.kind === 'none' ? t.paint('dim', a.reversal.text) : t.value(a.reversal.text));
  }
  more(actions.length, report.actions.length, 'write');
  if (report.plannedActions > 0) say(`and ${count(report.plannedActions, 'planned write')} not made (offline or dry-run): nothing to reverse`);

  return lines.flatMap((parts) => [...parts, ours('\n')]);
}
