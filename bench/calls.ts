// Counts the AWS calls of one remediation, by phase, and compares live mode with the rule's minimum.
import type { Call } from './fake-aws.js';
import type { Minimum } from './minimums.js';

export interface CallCount {
  readonly rule: string;
  readonly sample: string;
  /** Rule calls offline (must be 0: offline has no clients). */
  readonly offline: number;
  readonly dryRunReads: number;
  readonly dryRunWrites: number;
  readonly live: {
    readonly inspectReads: number;
    /** Reads made inside `act`, before or around the write. */
    readonly actReads: number;
    readonly writes: number;
    readonly verifyReads: number;
    readonly sequence: readonly string[];
  };
  readonly minimum: Minimum;
  /** The runner's own calls (state store, SNS), before and after the rule's first write (all before, for no write). */
  readonly runnerBeforeWrite: readonly string[];
  readonly runnerAfterWrite: readonly string[];
  /** What live mode called beyond the minimum (empty when MET). */
  readonly extra: readonly string[];
  readonly verdict: 'MET' | 'MISSED';
}

const label = (call: Call) => `${call.service}.${call.operation}`;
// The state table is trailguard's own, not the account's: a call to it is the runner's even when a rule makes
// it through its context (console-signin-failures counts failures inside inspect).
const STATE_STORE = 'DynamoDB';
const isRule = (call: Call) => call.phase !== 'runner' && call.service !== STATE_STORE;

export function countCalls(
  rule: string,
  sample: string,
  byMode: Readonly<Record<'offline' | 'dry-run' | 'live', readonly Call[]>>,
  minimum: Minimum,
): CallCount {
  const live = byMode.live;
  const ruleCalls = live.filter(isRule);
  const inspect = ruleCalls.filter((c) => c.phase === 'inspect' && c.read);
  const actReads = ruleCalls.filter((c) => c.phase === 'act' && c.read);
  const writes = ruleCalls.filter((c) => !c.read);
  const verify = ruleCalls.filter((c) => c.phase === 'verify' && c.read);
  const firstWrite = live.findIndex((c) => isRule(c) && !c.read);
  const runner = live.map((call, index) => ({ call, index })).filter(({ call }) => !isRule(call));
  const dryRun = byMode['dry-run'].filter(isRule);
  const extra: string[] = [];
  if (inspect.length > minimum.reads) extra.push(`${inspect.length} reads to decide for a minimum of ${minimum.reads} (${inspect.map(label).join(', ')})`);
  if (actReads.length > 0 && inspect.length + actReads.length > minimum.reads)
    extra.push(`${actReads.length} read(s) inside act (${actReads.map(label).join(', ')})`);
  if (writes.length > minimum.writes) extra.push(`${writes.length} writes for a minimum of ${minimum.writes}`);
  if (verify.length > minimum.verify) extra.push(`${verify.length} verification reads for a minimum of ${minimum.verify}`);
  return {
    rule,
    sample,
    offline: byMode.offline.filter(isRule).length,
    dryRunReads: dryRun.filter((c) => c.read).length,
    dryRunWrites: dryRun.filter((c) => !c.read).length,
    live: { inspectReads: inspect.length, actReads: actReads.length, writes: writes.length, verifyReads: verify.length, sequence: ruleCalls.map(label) },
    minimum,
    runnerBeforeWrite: runner.filter(({ index }) => firstWrite === -1 || index < firstWrite).map(({ call }) => label(call)),
    runnerAfterWrite: runner.filter(({ index }) => firstWrite !== -1 && index > firstWrite).map(({ call }) => label(call)),
    extra,
    verdict: extra.length === 0 && writes.length === minimum.writes ? 'MET' : 'MISSED',
  };
}
