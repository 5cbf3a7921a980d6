// The fewest AWS calls each rule needs to remediate its violation sample in live mode, and why. The
// bench compares the counted calls against these; dry-run needs the same reads, offline none.

/** The violation sample per rule (events/<rule>/<name>.json) whose calls are counted and timed. */
export const VIOLATION_SAMPLES = {
  'public-bucket': 'would-remediate.delete-public-access-block',
  'open-security-group': 'would-remediate.authorize-ipv4-world-ssh-with-rule-ids',
  'untagged-instance': 'would-remediate.console-iam-user-no-tags',
  'trail-logging': 'would-remediate.stop-logging-by-name',
} as const;

export interface Minimum {
  /** Reads needed to decide on current state (dry-run and live). */
  readonly reads: number;
  readonly writes: number;
  /** Reads back after the write (live). */
  readonly verify: number;
  readonly why: string;
}

export const MINIMUMS: Readonly<Record<keyof typeof VIOLATION_SAMPLES, Minimum>> = {
  'public-bucket': { reads: 1, writes: 1, verify: 1,
    why: 'a Block Public Access removal: GetPublicAccessBlock alone says whether it is still off; 1 put; 1 read-back' },
  'open-security-group': { reads: 2, writes: 1, verify: 1,
    why: 'DescribeSecurityGroupRules for the rules now (by id), DescribeSecurityGroups for the group name that name-glob exemptions match; 1 revoke; 1 read-back' },
  'untagged-instance': { reads: 1, writes: 1, verify: 1,
    why: 'DescribeInstances gives state and tags; 1 CreateTags; 1 DescribeTags read-back' },
  'trail-logging': { reads: 1, writes: 1, verify: 1,
    why: 'a by-name StopLogging that succeeded was made in the home Region of a trail of this account: GetTrailStatus decides; 1 StartLogging; 1 read-back' },
};
