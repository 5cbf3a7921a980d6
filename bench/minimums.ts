// The sample each rule is measured on, the outcome it must end in, and the fewest AWS calls it needs in live
// mode, and why. The bench compares the counted calls against these; dry-run needs the same reads, offline
// none. Keyed by RuleId, so a rule added to shared/config.ts without an entry here does not compile, and
// test/bench/bench.test.ts fails for a rule of functions/rules.ts that has none.
import { ALERT_RULE_IDS, parseConfig, type AlertRuleId, type Mode, type RuleId } from '../shared/config.js';
import type { Outcome } from '../shared/remediation-log.js';

/**
 * The sample per rule (events/<rule>/<name>.json) whose calls are counted and timed: a violation for a
 * remediation rule, an event that alerts for an audit alert.
 */
export const BENCH_SAMPLES: Readonly<Record<RuleId, string>> = {
  'public-bucket': 'would-remediate.delete-public-access-block',
  'open-security-group': 'would-remediate.authorize-ipv4-world-ssh-with-rule-ids',
  'untagged-instance': 'would-remediate.console-iam-user-no-tags',
  'trail-logging': 'would-remediate.stop-logging-by-name',
  'root-activity': 'alerted.api-call-with-root-access-key',
  'console-signin-without-mfa': 'alerted.iam-user-without-mfa',
  'console-signin-failures': 'alerted.failure-iam-user',
  'iam-policy-change': 'alerted.attach-user-policy-administrator-access',
  'kms-key-deletion': 'alerted.schedule-key-deletion',
  'config-recorder-stopped': 'alerted.stop-configuration-recorder',
  'network-change': 'alerted.create-route-default-to-internet-gateway',
  's3-bucket-deleted': 'alerted.delete-cloudtrail-bucket',
};

/**
 * Events of the same sample handled before each measured one, in the same fake world (neither timed nor
 * counted): console-signin-failures alerts on the threshold-th failure of a user or IP in its window, so the
 * measured failure follows threshold - 1 others (the state table's counters count, bench/fake-aws.ts).
 */
export const PRIOR_EVENTS: Readonly<Partial<Record<RuleId, number>>> = {
  'console-signin-failures': parseConfig({}).rules['console-signin-failures'].threshold - 1,
};

export const isAlertRule = (rule: string): rule is AlertRuleId => (ALERT_RULE_IDS as readonly string[]).includes(rule);

/**
 * The outcome every measured event must end in: an audit alert alerts in every mode (console-signin-failures
 * in dry-run and live because of its PRIOR_EVENTS; offline it does not count, and reports each failure); a
 * remediation rule would remediate, and remediates (verified) in live mode.
 */
export function expectedOutcome(rule: RuleId, mode: Mode): Outcome {
  if (isAlertRule(rule)) return 'alerted';
  return mode === 'live' ? 'remediated' : 'would-remediate';
}

export interface Minimum {
  /** Reads needed to decide on current state (dry-run and live). */
  readonly reads: number;
  readonly writes: number;
  /** Reads back after the write (live). */
  readonly verify: number;
  readonly why: string;
}

/** Notify-only: no read, no write, nothing to read back; the runner's SNS Publish is the whole job. */
const NOTIFY_ONLY = (why: string): Minimum => ({ reads: 0, writes: 0, verify: 0, why });

export const MINIMUMS: Readonly<Record<RuleId, Minimum>> = {
  'public-bucket': { reads: 1, writes: 1, verify: 1,
    why: 'a Block Public Access removal: GetPublicAccessBlock alone says whether it is still off; 1 put; 1 read-back' },
  'open-security-group': { reads: 2, writes: 1, verify: 1,
    why: 'DescribeSecurityGroupRules for the rules now (by id), DescribeSecurityGroups for the group name that name-glob exemptions match; 1 revoke; 1 read-back' },
  'untagged-instance': { reads: 1, writes: 1, verify: 1,
    why: 'DescribeInstances gives state and tags; 1 CreateTags; 1 DescribeTags read-back' },
  'trail-logging': { reads: 1, writes: 1, verify: 1,
    why: 'a by-name StopLogging that succeeded was made in the home Region of a trail of this account: GetTrailStatus decides; 1 StartLogging; 1 read-back' },
  'root-activity': NOTIFY_ONLY('the event alone says the caller is root'),
  'console-signin-without-mfa': NOTIFY_ONLY('the event alone says MFAUsed is No'),
  'console-signin-failures': NOTIFY_ONLY('the failures are counted in trailguard\'s own state table (UpdateItem counters, runner calls), not read from the account'),
  'iam-policy-change': NOTIFY_ONLY('the event holds the policy change'),
  'kms-key-deletion': NOTIFY_ONLY('the event holds the key and the pending window'),
  'config-recorder-stopped': NOTIFY_ONLY('the event names the recorder'),
  'network-change': NOTIFY_ONLY('the event holds the route, gateway or ACL entry'),
  's3-bucket-deleted': { reads: 1, writes: 0, verify: 0,
    why: 'DescribeTrails (shadow trails included) says whether the bucket held CloudTrail logs, which sets the severity; notify-only' },
};
