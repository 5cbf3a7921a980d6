import { randomUUID } from 'node:crypto';
import type { RuleId } from '../../../shared/config.js';
import { isBareRecord, wrapRecord } from '../../../shared/events/schema.js';
import { loadSample } from '../../helpers/samples.js';
import { ACCOUNT, REGION } from './emulator.js';

/** The account the samples are written for (fake data), replaced by the emulator's. */
const SAMPLE_ACCOUNT = '111122223333';

/** An EventBridge envelope with its CloudTrail record, loosely typed: tests patch it. */
export interface Envelope {
  id: string;
  account: string;
  region: string;
  source: string;
  'detail-type': string;
  detail: Record<string, unknown> & { requestParameters?: unknown; responseElements?: unknown; eventID: string; awsRegion: string };
  [key: string]: unknown;
}

/**
 * The event a call would have produced, built from a sample in `events/`: moto emits no CloudTrail events
 * (its README), so each test builds the record of the call it just made. The sample keeps its shape; the
 * account, region and ids become those of the emulator, every event id is fresh (idempotency keys on it),
 * and `patch` replaces record fields (requestParameters, responseElements, …) with what was created.
 */
export function sampleEvent(rule: RuleId, name: string, patch: Record<string, unknown> = {}, region = REGION): Envelope {
  const sample = loadSample(rule, name);
  const envelope = (isBareRecord(sample) ? wrapRecord(sample) : sample) as Envelope;
  const event = JSON.parse(JSON.stringify(envelope).replaceAll(SAMPLE_ACCOUNT, ACCOUNT)) as Envelope;
  const eventId = randomUUID();
  Object.assign(event, { id: randomUUID(), region });
  Object.assign(event.detail, { eventID: eventId, awsRegion: region, recipientAccountId: ACCOUNT, eventTime: new Date().toISOString() }, patch);
  return event;
}

type Tagged = { Key?: string | undefined; Value?: string | undefined };

/** EC2's query-API list as CloudTrail records it: `{items: [...]}`, or `{}` when empty. */
const items = <T>(list: readonly T[] | undefined): { items: T[] } | Record<string, never> => (list && list.length > 0 ? { items: [...list] } : {});

/** SDK tags (`Key`/`Value`) as a CloudTrail `tagSet`. */
export function tagSet(tags: readonly Tagged[] | undefined) {
  return items((tags ?? []).map((tag) => ({ key: tag.Key, value: tag.Value })));
}

/** An SDK IpPermission as CloudTrail records it in `ipPermissions.items[]`. */
export function recordedPermission(permission: {
  IpProtocol?: string | undefined;
  FromPort?: number | undefined;
  ToPort?: number | undefined;
  IpRanges?: { CidrIp?: string | undefined; Description?: string | undefined }[] | undefined;
  Ipv6Ranges?: { CidrIpv6?: string | undefined; Description?: string | undefined }[] | undefined;
}) {
  return {
    ipProtocol: permission.IpProtocol,
    ...(permission.FromPort !== undefined ? { fromPort: permission.FromPort, toPort: permission.ToPort } : {}),
    groups: {},
    ipRanges: items(permission.IpRanges?.map((r) => ({ cidrIp: r.CidrIp, ...(r.Description ? { description: r.Description } : {}) }))),
    ipv6Ranges: items(permission.Ipv6Ranges?.map((r) => ({ cidrIpv6: r.CidrIpv6, ...(r.Description ? { description: r.Description } : {}) }))),
    prefixListIds: {},
  };
}

/** An SDK SecurityGroupRule (AuthorizeSecurityGroupIngress's answer) as CloudTrail records it in `securityGroupRuleSet.items[]`. */
export function recordedRule(rule: {
  SecurityGroupRuleId?: string | undefined;
  GroupId?: string | undefined;
  IsEgress?: boolean | undefined;
  IpProtocol?: string | undefined;
  FromPort?: number | undefined;
  ToPort?: number | undefined;
  CidrIpv4?: string | undefined;
  CidrIpv6?: string | undefined;
  Description?: string | undefined;
}) {
  return {
    groupId: rule.GroupId,
    groupOwnerId: ACCOUNT,
    ipProtocol: rule.IpProtocol,
    isEgress: rule.IsEgress,
    fromPort: rule.FromPort,
    toPort: rule.ToPort,
    ...(rule.CidrIpv4 ? { cidrIpv4: rule.CidrIpv4 } : {}),
    ...(rule.CidrIpv6 ? { cidrIpv6: rule.CidrIpv6 } : {}),
    securityGroupRuleArn: `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group-rule/${rule.SecurityGroupRuleId}`,
    securityGroupRuleId: rule.SecurityGroupRuleId,
    ...(rule.Description ? { description: rule.Description } : {}),
  };
}
