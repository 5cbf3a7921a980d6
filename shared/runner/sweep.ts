import type { ClientOptions } from '../aws/client-options.js';
import { classifyAwsError } from '../aws/errors.js';
import type { Mode, RuleId } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Outcome, RecordError } from '../remediation-log.js';
import type { AnyRule, RuleFacts } from '../rule.js';
import { runFinding, type Finding, type RunDeps } from './run.js';

/** Where and when a sweep looks: one region of one account, in one window. */
export interface SweepScope {
  readonly region: string;
  /** The account swept (from the function ARN, or the CLI's --account); undefined when unknown. */
  readonly account: string | undefined;
  /** ISO time naming the window (the scheduled time): findings' event ids include it, so a re-run is a duplicate. */
  readonly window: string;
  /** When the sweep started (epoch ms): scans compare resource times to it, never to the clock. */
  readonly startedAt: number;
}

/** What a scan yields: a page it read (for counts and where it stopped), or a candidate for the rule. */
export type SweepStep<Facts> =
  | {
      readonly kind: 'page';
      /** Resources looked at in this step. */
      readonly scanned: number;
      /** Where the scan goes on from, for an operator: the list call and its page token, or "done". */
      readonly next: string;
    }
  | { readonly kind: 'finding'; readonly resource: string; readonly facts: Facts };

type SettingsOf<R extends AnyRule> = ReturnType<R['settings']>;

/**
 * A rule's reconciliation sweep: the rule its findings go through (inspect and decide re-check each one
 * before any write), the list calls it adds to the rule's permissions, and a read-only scan of one region.
 */
export interface Sweep<R extends AnyRule, Facts extends RuleFacts, Clients> {
  readonly rule: R;
  /** The APIs the scan calls that the rule does not, with their IAM actions (the template test holds the role to them). */
  readonly permissions: Readonly<Record<string, string>>;
  /** Always built read-only: a scan never writes, whatever the mode. */
  clients(options: ClientOptions): Clients;
  /** Yields the rule's own facts type (`BucketFacts`…), so its inspect, decide, act and verify run unchanged. */
  scan(clients: Clients, settings: SettingsOf<R>, scope: SweepScope): AsyncGenerator<SweepStep<Facts>>;
}

/**
 * A sweep of any rule, facts and clients: what the CLI's list of sweeps holds. Its scan gets back the clients it
 * built and its rule's settings; with `unknown`, no sweep whose scan takes its own types would be assignable here.
 */
// biome-ignore lint/suspicious/noExplicitAny: existential type parameters (above)
export type AnySweep = Sweep<AnyRule, any, any>;

/** What one sweep did: logged as one INFO line (`trailguard sweep`), WARN when incomplete, ERROR when a list call failed. */
export interface SweepSummary {
  readonly rule: RuleId;
  readonly region: string;
  readonly mode: Mode;
  /** The window the findings' ids name: a re-run in the same window is deduplicated by the state store. */
  readonly window: string;
  readonly scanned: number;
  readonly findings: number;
  readonly outcomes: Readonly<Partial<Record<Outcome, number>>>;
  /** False when the time budget ran out or a list call failed: the rest of the region was not looked at. */
  readonly complete: boolean;
  /** Where an incomplete sweep stopped, for the operator. */
  readonly stoppedAt: string | null;
  /** The list call that failed (transient ones are retried by the next scheduled sweep). */
  readonly error: RecordError | null;
  readonly durationMs: number;
}

/** The message of the summary line, so Logs Insights can select it. */
export const SWEEP_MESSAGE = 'trailguard sweep';

/** A sweep's finding: its id names rule, resource and window, so a re-run in the same window is a duplicate. */
export function sweepFinding<F extends RuleFacts>(ruleId: RuleId, resource: string, scope: SweepScope, facts: F): Finding {
  return { trigger: 'sweep', id: `sweep:${ruleId}:${resource}:${scope.window}`, account: scope.account, region: scope.region, facts };
}

/** A paginator's pages with each failure classified once, naming the API and the region. */
export async function* classifiedPages<T>(api: string, region: string, pages: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = pages[Symbol.asyncIterator]();
  try {
    while (true) {
      let next: IteratorResult<T>;
      try {
        next = await iterator.next();
      } catch (error) {
        throw classifyAwsError(error, api, region);
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await iterator.return?.();
  }
}

/** How one sweep runs: where, in which window, and when to stop starting new work. */
export interface SweepRun {
  readonly region: string;
  readonly account: string | undefined;
  readonly window: string;
  /** Epoch ms after which no further page or finding is started. */
  readonly deadline: number;
}

/**
 * Scans one region for a rule's candidates and runs each through `runFinding` with trigger `sweep`:
 * one record per finding (written by the runner), and one summary. It never throws for an AWS fault: a
 * failed list call ends the sweep as incomplete with the classified error in the summary.
 */
export async function runSweep<R extends AnyRule, F extends RuleFacts, C>(sweep: Sweep<R, F, C>, deps: RunDeps, run: SweepRun): Promise<SweepSummary> {
  const started = deps.now();
  const rule = sweep.rule;
  const scope: SweepScope = { region: run.region, account: run.account, window: run.window, startedAt: started };
  // A scan reads AWS by nature; offline promises no AWS call at all.
  if (deps.mode === 'offline') throw new ConfigError('mode', 'a sweep reads the account: use dry-run or live, not offline');
  const outcomes: Partial<Record<Outcome, number>> = {};
  let scanned = 0;
  let findings = 0;
  let stoppedAt: string | null = null;
  let error: RecordError | null = null;
  let where = 'before the first page';
  const summary = (complete: boolean): SweepSummary => ({
    rule: rule.id,
    region: scope.region,
    mode: deps.mode,
    window: run.window,
    scanned,
    findings,
    outcomes,
    complete,
    stoppedAt,
    error,
    durationMs: Math.max(0, Math.round(deps.now() - started)),
  });
  const settings = rule.settings(deps.config) as SettingsOf<R>;
  if (!settings.enabled) return summary(true);
  const clients = sweep.clients({ region: scope.region, endpoint: deps.config.endpoint, readOnly: true });
  try {
    for await (const step of sweep.scan(clients, settings, scope)) {
      if (deps.now() >= run.deadline) {
        stoppedAt = `time budget spent ${step.kind === 'finding' ? `before finding ${step.resource}` : 'before the next finding'} (${where})`;
        return summary(false);
      }
      if (step.kind === 'page') {
        scanned += step.scanned;
        where = `after ${scanned} scanned; next: ${step.next}`;
        continue;
      }
      findings += 1;
      const record = await runFinding(rule, sweepFinding(rule.id, step.resource, scope, step.facts), deps);
      outcomes[record.outcome] = (outcomes[record.outcome] ?? 0) + 1;
    }
  } catch (thrown) {
    const classified = classifyAwsError(thrown, 'sweep', scope.region);
    error = { kind: classified.kind, code: classified.code, api: classified.api, message: classified.message.slice(0, 300) };
    stoppedAt = `${classified.api} failed (${classified.kind}: ${classified.code}) ${where}`;
    return summary(false);
  }
  return summary(true);
}
