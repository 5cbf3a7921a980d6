import { ALERT_RULE_IDS, RULE_IDS, type Config } from '../shared/config.js';
import { consoleOut } from '../shared/log.js';
import { breakerOf } from '../shared/runner/run.js';
import type { StateStore } from '../shared/state/store.js';
import { terminalSafe } from './output.js';
import { EXIT } from './replay.js';

/** `trailguard breaker status [RULE]` and `trailguard breaker reset RULE`: the operator's side of the circuit breaker. */
export async function breaker(
  action: string | undefined,
  rule: string | undefined,
  store: StateStore,
  write: (text: string) => void = consoleOut.stdout,
): Promise<number> {
  const out = terminalSafe(write);
  const err = terminalSafe(consoleOut.stderr);
  // Each remediation rule has two breakers: its own (events, enforcement checks) and its sweep's (`RULE:sweep`).
  const known = [...RULE_IDS, ...RULE_IDS.filter((id) => !(ALERT_RULE_IDS as readonly string[]).includes(id)).map((id) => breakerOf(id, 'sweep'))];
  const rules: readonly string[] = rule ? [rule] : known;
  if (rule && !known.includes(rule)) {
    err(`trailguard: unknown rule "${rule}"; one of ${known.join(', ')}\n`);
    return EXIT.badInput;
  }
  if (action === 'status') {
    for (const id of rules) {
      const state = await store.breakerState(id);
      out(state.open ? `${id}: OPEN since ${state.since} (${state.reason}): reports only, writes nothing\n` : `${id}: closed\n`);
    }
    return EXIT.ok;
  }
  if (action === 'reset' && rule) {
    await store.resetBreaker(rule);
    out(`${rule}: breaker reset; the next violation is remediated again (writes are counted from zero in the next window)\n`);
    return EXIT.ok;
  }
  err('usage: trailguard breaker status [RULE] | trailguard breaker reset RULE (RULE or RULE:sweep)\n');
  return EXIT.badInput;
}

/** The table the breaker lives in, or why there is none. */
export function stateTableOf(config: Config): string | undefined {
  return config.stateTable;
}
