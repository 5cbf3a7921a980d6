import { SWEEPS } from '../functions/sweeps.js';
import { type Config, type Mode, type RuleId, ruleOverridesOf } from '../shared/config.js';
import { consoleOut } from '../shared/log.js';
import type { RunDeps } from '../shared/runner/run.js';
import { runSweep, type SweepSummary } from '../shared/runner/sweep.js';
import { dynamoStateStore } from '../shared/state/dynamo-store.js';
import { RecordPrinter, terminalSafe, type Format } from './output.js';
import { loadRunConfig } from './live-store.js';
import { cliNotification } from './publishing.js';
import { EXIT, outputTerminal } from './replay.js';
import { count, type Terminal } from './terminal.js';

export interface SweepOptions {
  /** The rules to sweep; all when absent. */
  readonly rule: RuleId | undefined;
  readonly mode: Exclude<Mode, 'offline'>;
  readonly format: Format;
  readonly region: string;
  readonly account: string | undefined;
  readonly config: Config;
  readonly out?: (text: string) => void;
  /** Where text output goes. @default the terminal of standard output (or `out`) */
  readonly terminal?: Terminal;
  readonly err?: (text: string) => void;
  /** `--notify`: a dry-run sweep publishes only with it; a live one always does (see cliNotification). */
  readonly notify?: boolean;
  /** The rules `config` overrides in the live configuration (cli/live-store.ts). @default TRAILGUARD_RULES' */
  readonly ruleOverrides?: readonly RuleId[];
}

function summaryLine(summary: SweepSummary): string {
  const outcomes =
    Object.entries(summary.outcomes)
      .map(([outcome, n]) => `${n} ${outcome}`)
      .join(', ') || 'no records';
  const state = summary.complete ? 'complete' : `INCOMPLETE: stopped ${summary.stoppedAt ?? ''}`;
  return `trailguard: sweep ${summary.rule} in ${summary.region} (${summary.mode}): ${summary.scanned.toLocaleString('en-US')} scanned, ${count(summary.findings, 'finding')} (${outcomes}); ${state}\n`;
}

/**
 * `trailguard sweep`: the Lambda sweeps' scan and runner from a workstation, printing each finding's record
 * like replay. Live needs the state table, so the circuit breaker caps what a sweep may write.
 */
export async function sweep(options: SweepOptions): Promise<number> {
  const err = terminalSafe(options.err ?? consoleOut.stderr);
  const { mode } = options;
  // The store's exemptions and rule settings, as the sweep functions apply them (a live sweep refuses without them).
  const { config } = await loadRunConfig({
    config: options.config,
    mode,
    ruleOverrides: options.ruleOverrides ?? ruleOverridesOf(process.env),
    err,
    region: options.region,
  });
  const printer = new RecordPrinter(options.format, outputTerminal(options, process.env), { unit: 'finding' });
  const deps: RunDeps = {
    config,
    mode,
    ...cliNotification('sweep', mode, config, options.notify === true),
    write: (record) => printer.printEvent([record], 'sweep'),
    now: Date.now,
    // Live only: a dry-run writes nothing, so it needs no breaker, and must leave no claims behind.
    ...(mode === 'live' && config.stateTable ? { store: dynamoStateStore(config.stateTable, config.region ?? options.region, config.endpoint) } : {}),
  };
  const started = Date.now();
  let exit: number = EXIT.ok;
  for (const chosen of SWEEPS.filter((s) => options.rule === undefined || s.rule.id === options.rule)) {
    const summary = await runSweep(chosen, deps, {
      region: options.region,
      account: options.account,
      window: new Date(started).toISOString(),
      deadline: Number.POSITIVE_INFINITY,
    });
    err(summaryLine(summary));
    if (summary.error || (summary.outcomes.failed ?? 0) > 0) exit = EXIT.remediationFailed;
  }
  printer.finish();
  return exit;
}
