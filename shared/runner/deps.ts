/**
 * What a run needs from the world (RunDeps) and what started it (Trigger): the one set of inputs every part of
 * the runner reads. Lambda, the sweep, replay and the CLI differ only in these.
 */
import type { Config, Mode } from '../config.js';
import type { Notify } from '../notifier.js';
import type { RemediationRecord } from '../remediation-log.js';
import type { StateStore } from '../state/store.js';

/** Wall-clock time in epoch ms, as `Date.now` gives it. */
export type WallClock = () => number;

/** What started a run: an EventBridge event, the reconciliation sweep, or a scheduled follow-up. */
export type Trigger = RemediationRecord['trigger'];

/** Everything `run` needs from the world; Lambda and replay differ only in these. */
export interface RunDeps {
  readonly config: Config;
  readonly mode: Mode;
  /** Absent when nothing may be published (no topic, or offline): the record says why in `notification`. */
  readonly notify: Notify | undefined;
  /** Why `notify` is absent, for the record. @default 'no SNS topic configured' */
  readonly notifySkipReason?: string;
  readonly write: (record: RemediationRecord) => void;
  /**
   * The one clock: wall-clock time in epoch ms (`Date.now`), for exemption expiry dates, claim locks,
   * breaker and digest windows, exposure and durations. Never a monotonic clock (`performance.now()` counts
   * from process start, so "today" would be 1970-01-01 and an exemption that expired in 2001 would hold).
   */
  readonly now: WallClock;
  /**
   * Idempotency, circuit breaker and digests. Always set in Lambda and for every live CLI run; absent in an
   * offline or dry-run replay, whose fixture ids repeat (docs/cloudtrail-shapes.md#types-times-and-fixture-artefacts): a store would take them for duplicates.
   */
  readonly store?: StateStore;
  /**
   * When this invocation's AWS work must end (epoch ms): the Lambda adapters set it from the context's remaining
   * time less DEADLINE_MARGIN_MS (deadline.ts), kept for the record and the claim. Absent in replay and the CLI.
   */
  readonly deadline?: number;
  /**
   * The Lambda request id. Lambda keeps it on its retries of one asynchronous invocation and starts a retry only
   * once the try before has ended, so an in-progress claim held under this id is an earlier try's that could not
   * give it back (its give-back failed, or it was cut): the retry takes it over at once instead of waiting for its
   * lock to lapse. Absent in replay and the CLI.
   */
  readonly invocationId?: string;
  /**
   * Nothing retries this run (an operator's undo, run once from the CLI): a transient error is final, told now
   * rather than deferred to a retry that never comes.
   */
  readonly once?: true;
}
