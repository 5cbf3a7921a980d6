/**
 * The AWS Security Hub controls (and CIS AWS Foundations Benchmark recommendations) a notification names, so a reader
 * can match trailguard's finding to the control their compliance report shows. Each id, title and CIS number is
 * from the Security Hub user guide: the controls reference per service and "CIS AWS Foundations Benchmark in
 * Security Hub CSPM", whose mapping table gives the CIS number per benchmark version. The newest version that has
 * the recommendation is named: v5.0.0 where Security Hub checks it, else the version whose recommendation it checks
 * (the CloudWatch.x metric-filter controls are manual checks from v3.0.0 on, so their number is v1.4.0's or v1.2.0's).
 * A rule declares which of these its findings match (`Rule.controls`); where none matches, it names none.
 */
export const CONTROLS = {
  'S3.8': { title: 'S3 general purpose buckets should block public access', cis: 'v5.0.0 2.1.4' },
  'S3.6': { title: 'S3 general purpose bucket policies should restrict access to other AWS accounts' },
  'EC2.1': { title: 'Amazon EBS snapshots should not be publicly restorable' },
  'RDS.1': { title: 'RDS snapshot should be private' },
  'Lambda.1': { title: 'Lambda function policies should prohibit public access' },
  'EC2.6': { title: 'VPC flow logging should be enabled in all VPCs', cis: 'v5.0.0 3.7' },
  'EC2.18': { title: 'Security groups should only allow unrestricted incoming traffic for authorized ports' },
  'EC2.19': { title: 'Security groups should not allow unrestricted access to ports with high risk' },
  'EC2.21': { title: 'Network ACLs should not allow ingress from 0.0.0.0/0 to port 22 or port 3389', cis: 'v5.0.0 5.2' },
  'EC2.53': { title: 'EC2 security groups should not allow ingress from 0.0.0.0/0 to remote server administration ports', cis: 'v5.0.0 5.3' },
  'EC2.54': { title: 'EC2 security groups should not allow ingress from ::/0 to remote server administration ports', cis: 'v5.0.0 5.4' },
  'CloudTrail.1': {
    title: 'CloudTrail should be enabled and configured with at least one multi-Region trail that includes read and write management events',
    cis: 'v5.0.0 3.1',
  },
  'CloudTrail.2': { title: 'CloudTrail should have encryption at-rest enabled', cis: 'v5.0.0 3.5' },
  'CloudTrail.4': { title: 'CloudTrail log file validation should be enabled', cis: 'v5.0.0 3.2' },
  'CloudWatch.1': { title: 'A log metric filter and alarm should exist for usage of the "root" user', cis: 'v1.4.0 4.3' },
  'CloudWatch.3': { title: 'Ensure a log metric filter and alarm exist for Management Console sign-in without MFA', cis: 'v1.2.0 3.2' },
  'CloudWatch.4': { title: 'Ensure a log metric filter and alarm exist for IAM policy changes', cis: 'v1.4.0 4.4' },
  'CloudWatch.5': { title: 'Ensure a log metric filter and alarm exist for CloudTrail configuration changes', cis: 'v1.4.0 4.5' },
  'CloudWatch.6': { title: 'Ensure a log metric filter and alarm exist for AWS Management Console authentication failures', cis: 'v1.4.0 4.6' },
  'CloudWatch.7': { title: 'Ensure a log metric filter and alarm exist for disabling or scheduled deletion of customer managed keys', cis: 'v1.4.0 4.7' },
  'CloudWatch.9': { title: 'Ensure a log metric filter and alarm exist for AWS Config configuration changes', cis: 'v1.4.0 4.9' },
  'CloudWatch.10': { title: 'Ensure a log metric filter and alarm exist for security group changes', cis: 'v1.4.0 4.10' },
  'CloudWatch.11': { title: 'Ensure a log metric filter and alarm exist for changes to Network Access Control Lists (NACL)', cis: 'v1.4.0 4.11' },
  'CloudWatch.13': { title: 'Ensure a log metric filter and alarm exist for route table changes', cis: 'v1.4.0 4.13' },
  'CloudWatch.14': { title: 'Ensure a log metric filter and alarm exist for VPC changes', cis: 'v1.4.0 4.14' },
  'Config.1': { title: 'AWS Config should be enabled and use the service-linked role for resource recording', cis: 'v5.0.0 3.3' },
  'IAM.1': { title: 'IAM policies should not allow full "*" administrative privileges', cis: 'v1.4.0 1.16' },
  'IAM.4': { title: 'IAM root user access key should not exist', cis: 'v5.0.0 1.3' },
  'IAM.5': { title: 'MFA should be enabled for all IAM users that have a console password', cis: 'v5.0.0 1.9' },
  'IAM.9': { title: 'MFA should be enabled for the root user', cis: 'v5.0.0 1.4' },
  'KMS.3': { title: 'AWS KMS keys should not be deleted unintentionally' },
} as const satisfies Readonly<Record<string, { readonly title: string; readonly cis?: string }>>;

/** A Security Hub control id of the catalogue (`S3.8`). */
export type ControlId = keyof typeof CONTROLS;

/**
 * The controls a rule's findings match: per finding code (the record's `finding`), else `other` (records whose
 * finding has no entry, or none). A finding listed with `[]` names none on purpose.
 */
export interface RuleControls<Finding extends string = string> {
  readonly byFinding?: Partial<Readonly<Record<Finding, readonly ControlId[]>>>;
  readonly other?: readonly ControlId[];
}

/** A control as a notification carries it: the JSON form's `controls` entries. */
export interface NamedControl {
  readonly id: ControlId;
  readonly title: string;
  /** The CIS AWS Foundations Benchmark version and recommendation (`v5.0.0 2.1.4`), where one exists. */
  readonly cis?: string;
}

/** The controls a record matches, from its rule's declaration. */
export function controlsOf(controls: RuleControls | undefined, finding: string | null): readonly NamedControl[] {
  if (!controls) return [];
  const listed = finding !== null ? controls.byFinding?.[finding] : undefined;
  return (listed ?? controls.other ?? []).map((id) => ({ id, ...CONTROLS[id] }));
}

/** One line for a person: `S3.8 S3 general purpose buckets should block public access (CIS v5.0.0 2.1.4)`. */
export function controlText(control: NamedControl): string {
  return `${control.id} ${control.title}${control.cis ? ` (CIS ${control.cis})` : ''}`;
}
