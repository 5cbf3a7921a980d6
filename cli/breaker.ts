import { RULES } from '../functions/rules.js';
import { SWEEPS } from '../functions/sweeps.js';
import type { Config } from '../shared/config.js';
import { consoleOut } from '../shared/log.js';
import { breakerOf, breakerWindow } from '../shared/runner/breaker.js';
import type { StateStore } from '../shared/state/store.js';
import { plainTerminal, wrap } from './output.js';
import { EXIT } from './replay.js';
import { count, type Shown, type Terminal } from './terminal.js';
import { closest } from './usage.js';

/** The breakers there are: one per rule that writes, and one per sweep of such a rule (`RULE:sweep`). Notify-only rules write nothing, so have none. */
export function breakerIds(): string[] {
  const writing = RULES.filter((rule) => rule.actions.length > 0).map((rule) => rule.id);
  const swept = new Set(SWEEPS.map((sweep) => sweep.rule.id));
  return writing.flatMap((id) => (swept.has(id) ? [id, breakerOf(id, 'sweep')] : [id]));
}

export interface BreakerOptions {
  readonly store: StateStore;
  /** The breaker's limit and window (`reliability.breaker`). */
  readonly limits: Config['reliability']['breaker'];
  readonly terminal?: Terminal;
  readonly err?: (text: string) => void;
  readonly now?: () => number;
}

/** `trailguard breaker status [RULE]` and `trailguard breaker reset RULE`: the operator's side of the circuit breaker. */
export async function breaker(action: string | undefined, rule: string | undefined, options: BreakerOptions): Promise<number> {
  const t = options.terminal ?? plainTerminal();
  const err = options.err ?? consoleOut.stderr;
  const known = breakerIds();
  if (rule && !known.includes(rule)) {
    const alerting = RULES.some((r) => r.id === rule);
    const guess = alerting ? undefined : closest(rule, known);
    err(
      alerting
        ? `trailguard: ${rule} only notifies and writes nothing, so it has no circuit breaker; rules that write: ${known.join(', ')}\n`
        : `trailguard: unknown rule "${t.value(rule)}"${guess ? ` (did you mean ${guess}?)` : ''}; one of ${known.join(', ')}\n`,
    );
    return EXIT.badInput;
  }
  if (action === 'status') {
    const { maxWrites, windowMinutes } = options.limits;
    const now = (options.now ?? Date.now)();
    const ids = rule ? [rule] : known;
    const width = Math.max(...known.map((id) => id.length));
    // Each label painted alone: painting joins runs of spaces (and line breaks) into one space.
    t.write(
      `${t.paint('bold', 'BREAKER')}${' '.repeat(width - 7)}  ${t.paint('bold', 'STATE')}   ${t.paint('bold', `WRITES IN THIS ${windowMinutes}-MIN WINDOW`)}\n` as Shown,
    );
    for (const id of ids) {
      const { counter, start } = breakerWindow(id, now, windowMinutes);
      const [state, writes] = await Promise.all([options.store.breakerState(id), options.store.windowTotal(counter, start)]);
      const used = `${writes} of ${maxWrites}`;
      t.write(
        `${id.padEnd(width)}  ${state.open ? t.paint('bad', 'OPEN  ') : t.paint('good', 'closed')}  ${writes > maxWrites ? t.paint('bad', used) : used}\n` as Shown,
      );
      if (state.open) {
        // The store's reason and time: shown safe, on lines of their own under the breaker, wrapped to the terminal.
        const why = `open since ${t.value(state.since ?? '?')} (${t.value(state.reason ?? '')}): the rule reports only and writes nothing`;
        const lines = t.width === undefined ? [why] : wrap(why, t.width - 4);
        t.write(lines.map((l) => `    ${l}\n`).join('') as Shown);
      }
    }
    if (!rule)
      t.write(
        t.text(
          `\n${count(ids.length, 'breaker')}: one per rule that writes, and one per its sweep; notify-only rules have none.\nReset an open one with: trailguard breaker reset RULE\n`,
        ),
      );
    return EXIT.ok;
  }
  if (action === 'reset' && rule) {
    await options.store.resetBreaker(rule);
    t.write(t.text(`${rule}: breaker reset; the next violation is remediated again (writes are counted from zero in the next window)\n`));
    return EXIT.ok;
  }
  err('trailguard: usage: trailguard breaker status [RULE] | trailguard breaker reset RULE (RULE or RULE:sweep)\n');
  return EXIT.badInput;
}
