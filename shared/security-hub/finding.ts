/**
 * One remediation record as AWS Security Hub findings (ASFF), one per resource the record names: a pure mapping, so
 * Security Hub tells the story the record tells (docs/security-hub.md). Every text from the record is
 * attacker-controlled (a session name, a bucket name): controls and format characters out, cut to ASFF's limits on a
 * code point, never inside one.
 */
import { createHash } from 'node:crypto';
import type { AwsSecurityFinding, Resource, SeverityLabel } from '@aws-sdk/client-securityhub';
import { isAccountId, isBucketName, isEc2Id, isInstanceId, isRegionName } from '../aws/names.js';
import { eventLink, resourceLink } from '../console-links.js';
import { CONTROLS, controlsOf, type NamedControl, type RuleControls } from '../controls.js';
import type { Outcome, RemediationRecord, ReverseCommand } from '../remediation-log.js';
import type { ResourceRef } from '../rule.js';
import { withoutFormatCharacters } from '../safe-text.js';

/** Where the findings are imported: the importing account (which must be every finding's AwsAccountId) and Region. */
export interface HubTarget {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

/**
 * What a record written before `controls` existed does not hold: its rule's declared controls (a caller that has the
 * rules, `trailguard undo`, passes them). A record's own `controls` win.
 */
export interface FindingContext {
  readonly controls?: RuleControls;
}

/**
 * The outcomes exported: the ones a person is told about (NOTIFIED_OUTCOMES), and `compliant`, which resolves an open
 * finding on the resource (imported ARCHIVED, so one that never had a finding shows in no default view). `exempt` is
 * not: the resource still violates, its finding stays open until someone suppresses it. `ignored` changed nothing.
 */
export const EXPORTED_OUTCOMES: ReadonlySet<Outcome> = new Set(['remediated', 'would-remediate', 'failed', 'alerted', 'reverted', 'compliant']);

/** ASFF field limits (Security Hub user guide, "ASFF required/optional top-level attributes"). */
export const LIMITS = { title: 256, description: 1024, recommendation: 512, productFieldValue: 2048, resourceId: 512, requirements: 32 } as const;

/** At most this many controls taken from a record: the catalogue's rules declare two or three. */
const CONTROLS_PER_RECORD_LIMIT = 8;

/** At most this many findings from one record: a launch of 500 untagged instances is 100 findings, the log has them all. */
export const FINDINGS_PER_RECORD_LIMIT = 100;

// Cc/Cf/Zl/Zp: controls, bidi and zero-width characters, line and paragraph separators (shared/safe-text.ts says why).
const UNSAFE = /[\p{Cc}\p{Zl}\p{Zp}]/gu;

/** Attacker-controlled text for a finding field: one line, printable, at most `limit` characters, cut on a code point. */
export function findingText(value: string | null | undefined, limit: number, fallback = '-'): string {
  const clean = withoutFormatCharacters(value ?? '')
    .replace(UNSAFE, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (clean === '') return fallback;
  const points = Array.from(clean);
  return points.length <= limit ? clean : `${points.slice(0, limit - 3).join('')}...`;
}

/** An ISO time Security Hub takes (RFC 3339, UTC), from a record's time; undefined when it is not a plausible time. */
export function isoTime(value: string | number | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  return Number.isFinite(ms) && ms > Date.UTC(2006, 0, 1) ? new Date(ms).toISOString() : undefined;
}

/**
 * The finding id: stable per (account, Region, rule, resource), so a later decision on the resource updates the same
 * finding. The resource part is hashed: its id is attacker-chosen and of any length, the finding id is at most 512.
 */
export function findingIdOf(record: Pick<RemediationRecord, 'rule' | 'account' | 'region'>, resource: ResourceRef | undefined): string {
  const key = JSON.stringify([record.account, resource?.region ?? record.region, record.rule, resource?.type ?? null, resource?.id ?? null]);
  const digest = createHash('sha256').update(key).digest('hex').slice(0, 40);
  return `trailguard/${safeIdPart(record.rule ?? 'none')}/${safeIdPart(record.account ?? 'unknown')}/${digest}`;
}
const safeIdPart = (text: string) => text.replace(/[^a-zA-Z0-9-]/g, '_').slice(0, 64);

const LABELS: Readonly<Record<string, SeverityLabel>> = { LOW: 'LOW', MEDIUM: 'MEDIUM', HIGH: 'HIGH', CRITICAL: 'CRITICAL' };

/** Open (FAILED) unless trailguard fixed it, or the resource was found compliant: then PASSED. */
function complianceOf(outcome: Outcome): 'PASSED' | 'FAILED' {
  return outcome === 'remediated' || outcome === 'compliant' ? 'PASSED' : 'FAILED';
}

/** What trailguard did, or would do, for a person: the recommendation text. */
function recommendationOf(record: RemediationRecord, reverse: readonly string[]): string {
  const writes = record.actions.map((action) => `${action.api} on ${action.resource}`).join('; ');
  switch (record.outcome) {
    // The command first: a long list of writes must not cut it off. Pasted as is it may be remediated again.
    case 'remediated':
      return reverse.length > 0
        ? `To reverse (exempt the resource first, or use trailguard undo with trailguard/eventId): ${reverse.join(' && ')}. trailguard remediated it (${writes}).`
        : `trailguard remediated it (${writes}).`;
    case 'would-remediate':
      return `trailguard would ${writes || 'remediate it'} (mode ${record.mode}); deploy it live or fix it by hand.`;
    case 'failed':
      return `trailguard could not remediate it${writes ? ` (${writes})` : ''}: ${record.error?.code ?? 'see the record'}. Fix it by hand.`;
    case 'reverted':
      return `An operator undid trailguard's remediation (${writes}): the resource is exposed again unless exempted on purpose.`;
    case 'alerted':
      return 'trailguard alerts only: review the activity and who performed it.';
    default:
      return findingText(record.reason, LIMITS.recommendation);
  }
}

/** ASFF resource type and id (an ARN where its shape is known and the id is well formed), else `Other` with the id. */
function resourceOf(resource: ResourceRef, record: RemediationRecord, target: HubTarget): Resource {
  const region = resource.region ?? record.region;
  const validRegion = region && isRegionName(region) ? region : undefined;
  const account = record.account && isAccountId(record.account) ? record.account : undefined;
  const p = target.partition;
  const id = resource.id;
  const typed = ((): { Type: string; Id: string } | undefined => {
    switch (resource.type) {
      case 'AWS::S3::Bucket':
        return isBucketName(id) ? { Type: 'AwsS3Bucket', Id: `arn:${p}:s3:::${id}` } : undefined;
      case 'AWS::EC2::SecurityGroup':
        return validRegion && account && isEc2Id(id) && id.startsWith('sg-')
          ? { Type: 'AwsEc2SecurityGroup', Id: `arn:${p}:ec2:${validRegion}:${account}:security-group/${id}` }
          : undefined;
      case 'AWS::EC2::Instance':
        return validRegion && account && isInstanceId(id) ? { Type: 'AwsEc2Instance', Id: `arn:${p}:ec2:${validRegion}:${account}:instance/${id}` } : undefined;
      case 'AWS::CloudTrail::Trail':
        if (/^arn:[\w-]+:cloudtrail:[\w-]+:\d{12}:trail\/[\w.-]{3,128}$/.test(id)) return { Type: 'AwsCloudTrailTrail', Id: id };
        return validRegion && account && /^[\w.-]{3,128}$/.test(id)
          ? { Type: 'AwsCloudTrailTrail', Id: `arn:${p}:cloudtrail:${validRegion}:${account}:trail/${id}` }
          : undefined;
      default:
        return undefined;
    }
  })();
  return {
    Type: typed?.Type ?? 'Other',
    Id: typed?.Id ?? findingText(`${resource.type} ${id}`, LIMITS.resourceId),
    Partition: p as Resource['Partition'],
    ...(validRegion ? { Region: validRegion } : {}),
    // The member account in organisation mode: the finding is the central account's (it imports), the resource is not.
    ...(account && account !== target.account ? { Details: { Other: { account } } } : {}),
  };
}

/** Security Hub's standard ids for the CIS versions the catalogue names (v1.2.0 has the older ruleset id). */
function cisStandardOf(version: string): string {
  return version === 'v1.2.0' ? 'ruleset/cis-aws-foundations-benchmark/v/1.2.0' : `standards/cis-aws-foundations-benchmark/v/${version.slice(1)}`;
}

/**
 * The controls a record names: its own `controls` (ids of the catalogue only: the line is read back from a log), else
 * its rule's declaration from the context.
 */
function recordControls(record: RemediationRecord, context: FindingContext): readonly NamedControl[] {
  if (!Array.isArray(record.controls)) return controlsOf(context.controls, record.finding);
  return [...new Set<unknown>(record.controls)]
    .filter((id): id is keyof typeof CONTROLS => typeof id === 'string' && isControlId(id))
    .slice(0, CONTROLS_PER_RECORD_LIMIT)
    .map((id) => ({ id, ...CONTROLS[id] }));
}

/** The record's reverse commands for one resource, each one printable line (the record is read back from a log). */
function reverseCommandsFor(record: RemediationRecord, resource: ResourceRef | undefined): string[] {
  if (record.outcome !== 'remediated' || !resource || !Array.isArray(record.reverseCommands)) return [];
  return (record.reverseCommands as readonly unknown[])
    .filter(
      (entry): entry is ReverseCommand =>
        typeof entry === 'object'
        && entry !== null
        && typeof (entry as ReverseCommand).resource === 'string'
        && typeof (entry as ReverseCommand).command === 'string',
    )
    .filter((entry) => entry.resource === resource.id)
    .map((entry) => findingText(entry.command, LIMITS.productFieldValue, ''))
    .filter((command) => command !== '');
}

/** The record's findings, one per resource (at most FINDINGS_PER_RECORD_LIMIT); none for an outcome not exported. */
export function findingsOf(record: RemediationRecord, loggedAt: number | undefined, target: HubTarget, context: FindingContext = {}): AwsSecurityFinding[] {
  if (!EXPORTED_OUTCOMES.has(record.outcome)) return [];
  const updatedAt = isoTime(loggedAt) ?? isoTime(record.eventTime);
  if (!updatedAt) return [];
  const observedAt = isoTime(record.eventTime) ?? updatedAt;
  const status = complianceOf(record.outcome);
  const controls = recordControls(record, context);
  const cis = controls.flatMap((control) => (control.cis ? [control.cis] : []));
  const severity = {
    // A passed check is INFORMATIONAL (ASFF "Severity"); Original keeps what the rule said.
    Label: status === 'PASSED' ? 'INFORMATIONAL' : ((record.severity ? LABELS[record.severity] : undefined) ?? 'INFORMATIONAL'),
    Original: record.severity ?? 'INFORMATIONAL',
  } satisfies AwsSecurityFinding['Severity'];
  const types = [
    record.outcome === 'alerted' ? 'Unusual Behaviors/User' : 'Software and Configuration Checks/AWS Security Best Practices',
    ...(cis.length > 0 ? ['Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark'] : []),
  ];
  const rule = findingText(record.rule, 64, 'trailguard');
  const resources: readonly (ResourceRef | undefined)[] = record.resources.length > 0 ? record.resources.slice(0, FINDINGS_PER_RECORD_LIMIT) : [undefined];
  return resources.map((resource) => {
    const reverse = reverseCommandsFor(record, resource);
    const link = (resource ? resourceLink(resource, record.region) : undefined) ?? eventLink(record);
    const productFields: Record<string, string> = {
      'trailguard/rule': rule,
      'trailguard/outcome': record.outcome,
      'trailguard/trigger': record.trigger,
      'trailguard/mode': record.mode,
      'trailguard/eventId': findingText(record.eventId, 256),
      'trailguard/eventName': findingText(record.eventName, 256),
      'trailguard/actor': findingText(record.actor, 512),
      'trailguard/account': findingText(record.account, 32),
      'trailguard/region': findingText(record.region, 32),
      ...(record.finding ? { 'trailguard/finding': findingText(record.finding, 128) } : {}),
      ...(record.actions.length > 0
        ? { 'trailguard/actions': findingText(record.actions.map((a) => `${a.api} ${a.resource} ${a.status}`).join('; '), LIMITS.productFieldValue) }
        : {}),
      ...(reverse.length > 0 ? { 'trailguard/reverseCommand': findingText(reverse.join(' && '), LIMITS.productFieldValue) } : {}),
      ...(record.error ? { 'trailguard/error': findingText(`${record.error.kind} ${record.error.code}`, 256) } : {}),
    };
    return {
      SchemaVersion: '2018-10-08',
      Id: findingIdOf(record, resource),
      ProductArn: `arn:${target.partition}:securityhub:${target.region}:${target.account}:product/${target.account}/default`,
      ProductName: 'trailguard',
      CompanyName: 'trailguard',
      GeneratorId: `trailguard/${rule}`,
      // BatchImportFindings takes findings of the calling account only (default product ARN): the member account of
      // an organisation-mode record is in the resource and in ProductFields (docs/security-hub.md, "Organisations").
      AwsAccountId: target.account,
      ...(record.region && isRegionName(record.region) ? { Region: record.region } : {}),
      Types: types,
      CreatedAt: observedAt,
      // The decision's time. Security Hub updates a finding only when the update's UpdatedAt occurs after the
      // finding's ("BatchImportFindings for finding providers", "Determining whether to create or update a finding"):
      // a delivery that arrives late never overwrites a newer decision (nor is it resolved: confirm.ts reads back).
      UpdatedAt: updatedAt,
      FirstObservedAt: observedAt,
      LastObservedAt: observedAt,
      Severity: severity,
      // Security Hub takes later Severity and Types updates from here (BatchImportFindings: "Finding providers also
      // should not use BatchImportFindings to update … Severity, Types. Instead, … FindingProviderFields").
      FindingProviderFields: { Severity: severity, Types: types },
      Title: findingText(`trailguard ${rule}: ${record.outcome} ${resource ? `${resource.type} ${resource.id}` : (record.eventName ?? '')}`, LIMITS.title),
      Description: findingText(record.reason, LIMITS.description),
      Remediation: { Recommendation: { Text: findingText(recommendationOf(record, reverse), LIMITS.recommendation) } },
      ...(link ? { SourceUrl: link.url } : {}),
      ProductFields: productFields,
      Resources: [
        resource
          ? resourceOf(resource, record, target)
          : {
              Type: 'Other',
              Id: findingText(`account ${record.account ?? 'unknown'}`, LIMITS.resourceId),
              Partition: target.partition as Resource['Partition'],
            },
      ],
      Compliance: {
        Status: status,
        ...(controls[0] ? { SecurityControlId: controls[0].id } : {}),
        ...(controls.length > 0
          ? {
              AssociatedStandards: [
                { StandardsId: 'standards/aws-foundational-security-best-practices/v/1.0.0' },
                ...[...new Set(cis.map((c) => c.split(' ')[0] ?? ''))].map((version) => ({ StandardsId: cisStandardOf(version) })),
              ],
              RelatedRequirements: [
                ...controls.map((control) => `AWS Foundational Security Best Practices ${control.id}`),
                ...cis.map((c) => `CIS AWS Foundations Benchmark ${c}`),
              ].slice(0, LIMITS.requirements),
            }
          : {}),
      },
      // Workflow is not set here: BatchImportFindings "cannot be used to update … Workflow" after creation. The exporter
      // resolves a PASSED finding with BatchUpdateFindings (workflow.ts); Security Hub itself resets RESOLVED or NOTIFIED
      // to NEW when Compliance.Status goes from PASSED to FAILED or RecordState from ARCHIVED to ACTIVE (API reference,
      // "WorkflowUpdate"): that is how a `reverted` record reopens the finding.
      RecordState: record.outcome === 'compliant' ? 'ARCHIVED' : 'ACTIVE',
    } satisfies AwsSecurityFinding;
  });
}

/** True for a control id of the catalogue (shared/controls.ts): the exporter's configuration names no other. */
export function isControlId(value: string): value is keyof typeof CONTROLS {
  return Object.hasOwn(CONTROLS, value);
}
