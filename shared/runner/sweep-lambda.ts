import { withCallDeadline } from '../aws/client-options.js';
import { parseArn } from '../events/normalize.js';
import { logger } from '../log.js';
import type { AnyRule, RuleFacts } from '../rule.js';
import { deadlineOf } from './deadline.js';
import type { LiveConfigSource } from '../live-config/live-config.js';
import { lambdaDeps, liveConfigOf } from './lambda.js';
import type { RunDeps } from './run.js';
import { runSweep, SWEEP_MESSAGE, type Sweep, type SweepSummary } from './sweep.js';

/** The part of the Lambda context a sweep reads. */
export interface SweepContext {
  getRemainingTimeInMillis(): number;
  readonly invokedFunctionArn: string;
}

/** Share of the remaining invocation time a sweep may spend before it stops starting new work. */
export const SWEEP_BUDGET_SHARE = 0.8;

/**
 * The window a scheduled invocation names: the EventBridge schedule's `time` (the same on Lambda's async
 * retries, so a retried sweep's findings are duplicates), else the current hour.
 */
export function windowOf(event: unknown, nowMs: number): string {
  const time = event && typeof event === 'object' ? (event as { time?: unknown }).time : undefined;
  if (typeof time === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(time) && !Number.isNaN(Date.parse(time))) {
    return new Date(Date.parse(time)).toISOString();
  }
  return new Date(Math.floor(nowMs / 3_600_000) * 3_600_000).toISOString();
}

/**
 * The Lambda handler body of a rule's sweep. A transient list failure is logged and left to the next
 * scheduled sweep (throwing would only re-scan the account at once); a denied or invalid one is thrown
 * after its summary, so the function's Errors alarm tells an operator the sweep cannot see the account.
 */
export function sweepHandler<R extends AnyRule, F extends RuleFacts, C>(sweep: Sweep<R, F, C>, depsFor: () => RunDeps = lambdaDeps) {
  let container: RunDeps | undefined;
  let live: LiveConfigSource | undefined;
  return async (event: unknown, context: SweepContext): Promise<SweepSummary> => {
    if (!container) {
      const base = depsFor();
      container = { ...base, mode: base.config.sweepMode ?? base.mode };
      live = liveConfigOf(sweep.rule.id, container);
    }
    const started = container.now();
    // The live configuration, as the rule's events see it; unreadable before any good read, the sweep throws (the
    // function's Errors alarm; the next scheduled sweep reads again) rather than sweep without the exemptions.
    const deps: RunDeps = live ? { ...container, config: await live.read(started, deadlineOf(started, context)) } : container;
    const region = deps.config.region ?? parseArn(context.invokedFunctionArn)?.region ?? 'us-east-1';
    const account = parseArn(context.invokedFunctionArn)?.account || undefined;
    // The budget stops starting findings; the deadline ends the AWS calls of a list page or finding still
    // running then, so each finding's record is written and its claim settled before the function times out.
    const deadline = deadlineOf(started, context);
    const bounded = { ...deps, deadline };
    const summary = await withCallDeadline(deadline, deps.now, () =>
      runSweep(sweep, bounded, {
        region,
        account,
        window: windowOf(event, started),
        deadline: started + context.getRemainingTimeInMillis() * SWEEP_BUDGET_SHARE,
      }),
    );
    if (summary.error && summary.error.kind !== 'transient') {
      logger.error(SWEEP_MESSAGE, { ...summary });
      throw new Error(`trailguard sweep of ${summary.rule} in ${summary.region} failed: ${summary.stoppedAt ?? summary.error.code}`);
    }
    if (summary.complete) logger.info(SWEEP_MESSAGE, { ...summary });
    else logger.warn(SWEEP_MESSAGE, { ...summary });
    return summary;
  };
}
