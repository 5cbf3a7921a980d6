import type { Config, Mode } from '../shared/config.js';
import { snsNotifier, type Notify } from '../shared/notifier.js';

/** The CLI commands that run rules, and so may publish their records' notifications. */
export type PublishingCommand = 'replay' | 'redrive' | 'sweep';

/** What a CLI run gives `run` for notifications: a publisher, or why there is none (the record says it). */
export interface CliNotification {
  readonly notify: Notify | undefined;
  readonly notifySkipReason: string;
}

/**
 * Whether a workstation run publishes to the alert topic. It pages the security team unasked only where it
 * stands in for the deployed functions and changes the account: a live redrive (a dead letter's alert was
 * deferred to a retry that never came) and a live sweep (its fixes are the scheduled sweep's). Any replay,
 * backtests included, and any dry-run are an operator's own look: they publish only with `--notify`.
 * Offline makes no AWS call, so it never publishes. (`undo --apply` always notifies: a fix was reversed.)
 */
export function cliNotification(command: PublishingCommand, mode: Mode, config: Config, asked: boolean): CliNotification {
  if (mode === 'offline') return { notify: undefined, notifySkipReason: `offline ${command} publishes nothing` };
  const unasked = mode === 'live' && command !== 'replay';
  if (!asked && !unasked) {
    return {
      notify: undefined,
      notifySkipReason: command === 'replay' ? 'replay publishes only with --notify' : `a dry-run ${command} publishes only with --notify`,
    };
  }
  if (!config.topicArn) return { notify: undefined, notifySkipReason: 'no SNS topic configured' };
  return { notify: snsNotifier(config.topicArn, config.endpoint), notifySkipReason: 'no SNS topic configured' };
}

/** Why `--notify` cannot be honoured for this run (main exits 2 with it), or undefined. */
export async function notifyFlagProblem(command: string, mode: Mode, configOf: () => Promise<Config>): Promise<string | undefined> {
  if (command !== 'replay' && command !== 'redrive' && command !== 'sweep') return `--notify goes with replay, redrive or sweep, not ${command}`;
  if (mode === 'offline') return '--notify publishes to the alert topic, which offline never calls: use --mode dry-run or live';
  if (!(await configOf()).topicArn) return '--notify needs the alert topic: set TRAILGUARD_TOPIC_ARN (stack output AlertTopicArn) or "topicArn" in --config';
  return undefined;
}
