import * as v from 'valibot';
import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { isEc2Id, regionArg } from '../../shared/aws/names.js';
import type { ControlId } from '../../shared/controls.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { alert, compliant, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, checked, noCommand, placeholder } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const FLOW_LOG = 'AWS::EC2::FlowLog';
const QUERY_LOG_CONFIG = 'AWS::Route53Resolver::ResolverQueryLoggingConfig';
const VPC = 'AWS::EC2::VPC';

// Ids as the APIs take them: DeleteFlowLogs at most 1,000 ids; Resolver ids are 1-64 characters.
const FlowLogId = v.pipe(v.string(), v.minLength(1), v.maxLength(64));
const ResolverId = v.pipe(v.string(), v.minLength(1), v.maxLength(64));
const isFlowLogId = (value: string): boolean => value.startsWith('fl-') && isEc2Id(value);
const isQueryLogConfigId = (value: string): boolean => /^rqlc-[0-9a-z]{1,59}$/.test(value);
const isVpcId = (value: string): boolean => value.startsWith('vpc-') && isEc2Id(value);

// EC2's query API is logged as the XML request turned into JSON (docs/cloudtrail-shapes.md#delete-flow-logs): one id is
// an object `{content, tag}`, several are an array of them.
const Tagged = v.looseObject({ content: FlowLogId });
const FlowLogsRequest = v.looseObject({
  DeleteFlowLogsRequest: v.looseObject({ FlowLogId: v.union([v.pipe(v.array(Tagged), v.minLength(1), v.maxLength(1000)), Tagged]) }),
});
// `unsuccessful` is "" when every id was deleted, else `{item}`: one item or several, each the id and its error.
// Arrays are tried first: an object schema would take an array too (its fields all optional).
const Unsuccessful = v.looseObject({
  resourceId: v.optional(v.string()),
  error: v.optional(v.looseObject({ code: v.optional(v.string()), message: v.optional(v.string()) })),
});
const FlowLogsResponse = v.looseObject({
  DeleteFlowLogsResponse: v.looseObject({
    unsuccessful: v.optional(v.union([v.string(), v.looseObject({ item: v.optional(v.union([v.array(Unsuccessful), Unsuccessful])) })])),
  }),
});
const QueryLogRequest = v.looseObject({ resolverQueryLogConfigId: ResolverId, resourceId: v.optional(ResolverId) });
const QueryLogResponse = v.nullish(
  v.looseObject({
    resolverQueryLogConfig: v.optional(v.looseObject({ name: v.optional(v.string()), destinationArn: v.optional(v.string()) })),
  }),
);

/** What stopped being logged, as the event says it. */
type LogsFacts =
  | {
      readonly kind: 'flow-logs';
      /** The ids the call named, and those it reports it did not delete (with why). */
      readonly requested: readonly string[];
      readonly notDeleted: ReadonlyMap<string, string>;
      /** False when the response is absent or unreadable: which ids failed is then unknown. */
      readonly responseRead: boolean;
      readonly resources: readonly ResourceRef[];
    }
  | {
      readonly kind: 'query-log-config-deleted';
      readonly config: string;
      readonly name: string | undefined;
      readonly destination: string | undefined;
      readonly resources: readonly ResourceRef[];
    }
  | { readonly kind: 'query-log-disassociated'; readonly config: string; readonly vpc: string; readonly resources: readonly ResourceRef[] };

type Settings = Config['rules']['network-logs-deleted'];

/** What this rule reports: flow logs deleted, a Resolver query logging configuration deleted, a VPC's DNS query logging stopped. */
export const FINDINGS = ['flow-logs-deleted', 'dns-query-logging-deleted', 'dns-query-logging-disassociated'] as const;
type Finding = (typeof FINDINGS)[number];

/** At most this many ids in a reason (DeleteFlowLogs takes 1,000); the record's resources hold them all. */
const LISTED = 10;
const shown = (text: string): string => terminalValue(text.length > 200 ? `${text.slice(0, 200)}…` : text);
const listed = (ids: readonly string[]): string =>
  `${ids.slice(0, LISTED).map(shown).join(', ')}${ids.length > LISTED ? ` and ${ids.length - LISTED} more` : ''}`;

function unsuccessfulOf(response: unknown): { readonly read: boolean; readonly failed: Map<string, string> } {
  const parsed = v.safeParse(FlowLogsResponse, response);
  if (!parsed.success) return { read: false, failed: new Map() };
  const unsuccessful = parsed.output.DeleteFlowLogsResponse.unsuccessful;
  const items = typeof unsuccessful === 'object' && unsuccessful.item !== undefined ? [unsuccessful.item].flat() : [];
  const failed = new Map<string, string>();
  for (const item of items) if (item.resourceId !== undefined) failed.set(item.resourceId, item.error?.code ?? 'not deleted');
  return { read: true, failed };
}

function parse({ record, event }: EventContext): LogsFacts {
  if (record.eventName === 'DeleteFlowLogs') {
    const request = parseWith(FlowLogsRequest, record.requestParameters, 'detail.requestParameters', event.id);
    const requested = [...new Set([request.DeleteFlowLogsRequest.FlowLogId].flat().map((tagged) => tagged.content))];
    const { read, failed } = unsuccessfulOf(record.responseElements);
    return {
      kind: 'flow-logs',
      requested,
      notDeleted: failed,
      responseRead: read,
      resources: requested.filter((id) => !failed.has(id)).map((id) => ({ type: FLOW_LOG, id })),
    };
  }
  const request = parseWith(QueryLogRequest, record.requestParameters, 'detail.requestParameters', event.id);
  const config = request.resolverQueryLogConfigId;
  if (record.eventName === 'DisassociateResolverQueryLogConfig') {
    const vpc = parseWith(ResolverId, request.resourceId, 'detail.requestParameters.resourceId', event.id);
    return {
      kind: 'query-log-disassociated',
      config,
      vpc,
      resources: [
        { type: VPC, id: vpc },
        { type: QUERY_LOG_CONFIG, id: config },
      ],
    };
  }
  // The response only adds the configuration's name and destination, for the reader.
  const response = v.safeParse(QueryLogResponse, record.responseElements);
  const described = response.success ? response.output?.resolverQueryLogConfig : undefined;
  return {
    kind: 'query-log-config-deleted',
    config,
    name: described?.name,
    destination: described?.destinationArn,
    resources: [{ type: QUERY_LOG_CONFIG, id: config, ...(described?.name ? { name: described.name } : {}) }],
  };
}

function decide(facts: LogsFacts, _state: undefined, _settings: Settings): Decision {
  switch (facts.kind) {
    case 'flow-logs': {
      const deleted = facts.resources.map((resource) => resource.id);
      const failed = [...facts.notDeleted].filter(([id]) => facts.requested.includes(id)).map(([id, code]) => `${shown(id)} (${shown(code)})`);
      if (deleted.length === 0) {
        return compliant(`no flow log was deleted: the call reports each one unsuccessful: ${failed.slice(0, LISTED).join(', ')}`);
      }
      const unsure = facts.responseRead ? '' : ' (the response did not say which were deleted: each one named is counted as deleted)';
      const kept = failed.length > 0 ? `; not deleted: ${failed.slice(0, LISTED).join(', ')}` : '';
      return alert(
        `${deleted.length === 1 ? 'VPC flow log' : `${deleted.length} VPC flow logs`} ${listed(deleted)} deleted${unsure}${kept}: the traffic of the VPCs, subnets or network interfaces ${deleted.length === 1 ? 'it' : 'they'} watched is no longer recorded`,
        'HIGH',
        facts.resources,
        'flow-logs-deleted',
      );
    }
    case 'query-log-config-deleted': {
      const named = facts.name ? ` (${shown(facts.name)})` : '';
      const to = facts.destination ? `, which logged to ${shown(facts.destination)}` : '';
      return alert(
        `Route 53 Resolver query logging configuration ${shown(facts.config)}${named}${to}, was deleted: DNS queries of the VPCs it served are no longer logged`,
        'HIGH',
        facts.resources,
        'dns-query-logging-deleted',
      );
    }
    case 'query-log-disassociated':
      return alert(
        `DNS query logging stopped for VPC ${shown(facts.vpc)}: it was disassociated from Route 53 Resolver query logging configuration ${shown(facts.config)}`,
        'HIGH',
        facts.resources,
        'dns-query-logging-disassociated',
      );
  }
}

const idsOf = (record: RemediationRecord, type: string): string[] => record.resources.filter((r) => r.type === type).map((r) => r.id);

function titleOf(record: RemediationRecord, finding: Finding | undefined): string {
  if (finding === 'dns-query-logging-deleted') return `DNS query logging configuration deleted: ${idsOf(record, QUERY_LOG_CONFIG)[0] ?? 'unknown'}`;
  if (finding === 'dns-query-logging-disassociated') return `DNS query logging stopped for VPC: ${idsOf(record, VPC)[0] ?? 'unknown'}`;
  const flowLogs = idsOf(record, FLOW_LOG);
  return `VPC flow log${flowLogs.length > 1 ? 's' : ''} deleted: ${flowLogs[0] ?? 'unknown'}${flowLogs.length > 1 ? ` and ${flowLogs.length - 1} more` : ''}`;
}

function checkNext(record: RemediationRecord, finding: Finding | undefined): readonly string[] {
  const region = regionArg(record.region);
  const who =
    'was it a planned teardown (a stack or VPC deletion by the pipeline)? The actor and user agent are below; a deletion followed by no VPC deletion is the suspicious kind';
  if (finding === 'dns-query-logging-deleted' || finding === 'dns-query-logging-disassociated') {
    const config = checked(idsOf(record, QUERY_LOG_CONFIG)[0], 'query logging configuration id', isQueryLogConfigId);
    const vpc = checked(idsOf(record, VPC)[0], 'VPC id', isVpcId);
    const restore =
      finding === 'dns-query-logging-disassociated'
        ? `if unintended, while the configuration exists: ${awsCommand('route53resolver', 'associate-resolver-query-log-config', { resolverQueryLogConfigId: config, resourceId: vpc, region })}`
        : `if unintended: create a configuration again (${awsCommand('route53resolver', 'create-resolver-query-log-config', { name: placeholder('<name>'), destinationArn: placeholder('<log-destination-arn>'), region })}) and associate each VPC with it`;
    return [
      who,
      `which VPCs still log DNS queries: ${awsCommand('route53resolver', 'list-resolver-query-log-config-associations', { region })}, and the configurations left: ${awsCommand('route53resolver', 'list-resolver-query-log-configs', { region })}`,
      restore,
    ];
  }
  const deleted = idsOf(record, FLOW_LOG);
  const first = checked(deleted[0], 'flow log id', isFlowLogId);
  // The lookup attribute is built from the id only once it is a valid flow log id (and is quoted whole).
  const lookup =
    'valid' in first
      ? awsCommand('cloudtrail', 'lookup-events', { lookupAttributes: `AttributeKey=ResourceName,AttributeValue=${first.valid}`, region })
      : noCommand(first.invalid);
  // Event history answers for the last 90 days, one id per lookup: an older flow log's creation is only in the
  // trail's own files (or AWS Config's history, where it records flow logs).
  const others = deleted.length > 1 ? `; it looks up the first id only, so repeat it for the ${deleted.length - 1} other${deleted.length > 2 ? 's' : ''}` : '';
  return [
    who,
    `what each deleted flow log watched: its CreateFlowLogs call (${lookup}: Event history keeps the last 90 days only${others}; an older one is in the trail's S3 logs, queried with Athena, or in AWS Config's history of the flow log, ${awsCommand('configservice', 'get-resource-config-history', { resourceType: 'AWS::EC2::FlowLog', resourceId: first, region })}), and the flow logs left: ${awsCommand('ec2', 'describe-flow-logs', { region })}`,
    `if unintended: ${awsCommand('ec2', 'create-flow-logs', { resourceType: 'VPC', resourceIds: placeholder('<vpc-id>'), trafficType: 'ALL', logDestinationType: placeholder('<cloud-watch-logs-or-s3>'), logDestination: placeholder('<destination-arn>'), region })}`,
  ];
}

/** Network and DNS logging taken away: VPC flow logs deleted, Route 53 Resolver query logging deleted or detached from a VPC. */
export const networkLogsDeleted = alertRule<LogsFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'network-logs-deleted',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['network-logs-deleted'],
  parse,
  decide,
  title: titleOf,
  checkNext,
  // A deleted flow log leaves its VPC (or subnet, interface) unlogged: what EC2.6 fails on. DNS query logging has no control.
  controls: { byFinding: { 'flow-logs-deleted': ['EC2.6'] } satisfies Partial<Record<Finding, readonly ControlId[]>> },
});
