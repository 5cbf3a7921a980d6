import { withCallDeadline } from '../aws/client-options.js';
import { AwsCallError } from '../errors.js';

/** The part of the Lambda context an invocation's deadline comes from. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
  /** Lambda keeps it across its retries of one asynchronous invocation (see RunDeps.invocationId). */
  readonly awsRequestId: string;
}

/**
 * Kept after an invocation's deadline for what must still happen when its AWS work ran out of time: writing
 * the record (transient `failed`), settling the claim, and the notification of a run that just finished.
 */
export const DEADLINE_MARGIN_MS = 3_000;

/** Of the margin, what the record's notification and the claim's settling may spend on AWS calls. */
const SETTLE_MS = 2_000;

/** How long past the deadline a run may take to end on its own (its AWS calls end at the deadline) before it is cut. */
const BACKSTOP_MS = 250;

/**
 * The deadline (epoch ms) of an invocation with this context: its remaining time less the margin. None without
 * a Lambda context (a local or test invocation may pass `{}`): such a run is not bounded, as in replay.
 */
export function deadlineOf(nowMs: number, context: Partial<InvocationContext> | undefined): number | undefined {
  return typeof context?.getRemainingTimeInMillis === 'function' ? nowMs + context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS : undefined;
}

interface DeadlineDeps {
  readonly deadline?: number | undefined;
  readonly now: () => number;
}

/**
 * How long a claim taken now holds: until the invocation itself ends (the remaining time, as Powertools
 * idempotency sets its lock), so a retry after a crash waits no longer than needed. `fallback` without a deadline.
 */
export function claimLockMs(deps: DeadlineDeps, fallback: number): number {
  return deps.deadline === undefined ? fallback : Math.max(0, deps.deadline + DEADLINE_MARGIN_MS - deps.now());
}

/**
 * Runs the deciding part of a run (claim, inspect, act, verify) within the deadline: its AWS calls end at it,
 * and should the run still wait on anything else, it is cut a moment later with a transient error, so the
 * record is written, the claim given back and the error thrown while the function still runs.
 */
export async function beforeDeadline<T>(deps: DeadlineDeps, work: () => Promise<T>): Promise<T> {
  const { deadline, now } = deps;
  if (deadline === undefined) return work();
  const running = withCallDeadline(deadline, now, work);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const backstop = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new AwsCallError(
            'Lambda.Invoke',
            'this invocation',
            'transient',
            'DeadlineExceeded',
            `the run was still busy at its deadline ${new Date(deadline).toISOString()}; retried with the event`,
          ),
        ),
      Math.max(0, deadline + BACKSTOP_MS - now()),
    );
  });
  // A run that is cut keeps going in the background until its next AWS call, which the guard refuses.
  running.catch(() => undefined);
  try {
    return await Promise.race([running, backstop]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the settling part (notify, count, settle the claim) with its AWS calls ending inside the margin. */
export function settleWithinMargin<T>(deps: DeadlineDeps, work: () => Promise<T>): Promise<T> {
  return withCallDeadline(deps.deadline === undefined ? undefined : deps.deadline + SETTLE_MS, deps.now, work);
}
