import * as v from 'valibot';
import { ParseError } from '../errors.js';
import { asList } from '../events/normalize.js';
import { parseWith } from '../events/schema.js';
import { parseCidr } from '../net/cidr.js';
import { isSameRule, normalizeProtocol, portsFor, type CidrRule } from './world-open.js';

/**
 * What a security-group call changed, read from its CloudTrail record (shapes: docs/cloudtrail-shapes.md#lists and #security-groups).
 * Only CIDR sources are read: rules from other groups (`groups.items[]`) or prefix lists are never revoked.
 */
export interface SecurityGroupChange {
  readonly groupId: string | undefined;
  /** Default VPC calls may name the group only by name. */
  readonly groupName: string | undefined;
  /** The CIDR-sourced ingress rules the call created or rewrote, with their ids when the record has them. */
  readonly rules: readonly CidrRule[];
  /** Response rule ids that cannot be this group's (another group named, or several): no evidence about it, so unused. */
  readonly foreignRuleIds: readonly string[];
}

/** Security group ids: `sg-` and 8 (legacy) or 17 hex digits. */
export const GROUP_ID = /^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
/** Security group rule ids: `sgr-` and 8 or 17 hex digits. */
export const RULE_ID = /^sgr-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;

const GroupId = v.pipe(v.string(), v.regex(GROUP_ID, 'a security group id (sg- and 8 or 17 hex digits)'));
const RuleId = v.pipe(v.string(), v.regex(RULE_ID, 'a security group rule id (sgr- and 8 or 17 hex digits)'));
const GroupName = v.pipe(v.string(), v.regex(/^[\x20-\x7e]{1,255}$/, 'a security group name (1-255 printable ASCII characters)'));
const Protocol = v.pipe(
  v.union([v.string(), v.pipe(v.number(), v.transform(String))]),
  v.regex(/^(?:-1|\d{1,3}|[A-Za-z][A-Za-z0-9]{0,15})$/, 'an IP protocol (name, number or -1)'),
  v.transform((value: string) => normalizeProtocol(value)),
);
// PascalCase ModifySecurityGroupRules requests are rendered from the query API and may carry numbers as strings.
const Port = v.pipe(v.union([v.number(), v.pipe(v.string(), v.regex(/^-?\d{1,5}$/), v.transform(Number))]), v.integer(), v.minValue(-1), v.maxValue(65535));
const Cidr = v.pipe(
  v.string(),
  v.check((text) => parseCidr(text) !== undefined, 'a CIDR block'),
);
const Description = v.optional(v.string());

/** An EC2 query-API list: `{items: [...]}`, `{}` or missing (docs/cloudtrail-shapes.md#lists); one object is accepted as a list of one. */
function ec2List<T extends v.GenericSchema>(item: T): v.GenericSchema<unknown, readonly v.InferOutput<T>[]> {
  // The default runs through the pipe too, so a missing key also becomes [] (an object schema skips absent keys).
  const list = v.pipe(
    v.nullable(
      v.looseObject({
        items: v.optional(
          v.pipe(
            v.unknown(),
            v.transform((items) => asList(items)),
            v.array(item),
          ),
        ),
      }),
    ),
    v.transform((value): readonly v.InferOutput<T>[] => value?.items ?? []),
  );
  return v.optional(list, {} as v.InferInput<typeof list>) as v.GenericSchema<unknown, readonly v.InferOutput<T>[]>;
}

const Permission = v.looseObject({
  ipProtocol: Protocol,
  fromPort: v.optional(Port),
  toPort: v.optional(Port),
  ipRanges: ec2List(v.looseObject({ cidrIp: Cidr, description: Description })),
  ipv6Ranges: ec2List(v.looseObject({ cidrIpv6: Cidr, description: Description })),
});

const AuthorizeRequest = v.looseObject({
  groupId: v.optional(GroupId),
  groupName: v.optional(GroupName),
  ipPermissions: ec2List(Permission),
  // The flat form (`CidrIp` + `IpProtocol` + ports at the top level) leaves `ipPermissions` as `{}`.
  cidrIp: v.optional(Cidr),
  ipProtocol: v.optional(Protocol),
  fromPort: v.optional(Port),
  toPort: v.optional(Port),
});

// Since mid-2021 the response lists every created rule with its id (S/ec2-AuthorizeSecurityGroupIngress-cidr24-ssh-with-rule-ids.json).
const AuthorizeResponse = v.nullish(
  v.looseObject({
    securityGroupRuleSet: ec2List(
      v.looseObject({
        securityGroupRuleId: RuleId,
        groupId: v.optional(GroupId),
        isEgress: v.optional(v.boolean()),
        ipProtocol: Protocol,
        fromPort: v.optional(Port),
        toPort: v.optional(Port),
        cidrIpv4: v.optional(Cidr),
        cidrIpv6: v.optional(Cidr),
        description: Description,
      }),
    ),
  }),
);

// No real record was found; the shape comes from parsers of real ones (docs/cloudtrail-shapes.md#security-groups): PascalCase, one object or a list.
const RuleUpdate = v.looseObject({
  SecurityGroupRuleId: RuleId,
  SecurityGroupRule: v.optional(
    v.looseObject({
      IpProtocol: Protocol,
      FromPort: v.optional(Port),
      ToPort: v.optional(Port),
      CidrIpv4: v.optional(Cidr),
      CidrIpv6: v.optional(Cidr),
      Description,
    }),
  ),
});
const ModifyRequest = v.looseObject({
  ModifySecurityGroupRulesRequest: v.looseObject({
    GroupId,
    SecurityGroupRule: v.pipe(
      v.unknown(),
      v.transform((rules) => asList(rules)),
      v.array(RuleUpdate),
    ),
  }),
});

function cidrRule(
  protocol: string,
  from: number | undefined,
  to: number | undefined,
  cidr: string,
  description: string | undefined,
  ruleId?: string,
): CidrRule {
  const [fromPort, toPort] = portsFor(protocol, from, to);
  return { ruleId, protocol, fromPort, toPort, cidr: cidr.trim(), description };
}

/** AuthorizeSecurityGroupIngress: the CIDR rules requested, with ids from the response when it lists them. */
export function authorizeIngressChange(request: unknown, response: unknown, eventId: string | null): SecurityGroupChange {
  const asked = parseWith(AuthorizeRequest, request, 'detail.requestParameters', eventId);
  const answer = parseWith(AuthorizeResponse, response, 'detail.responseElements', eventId);
  const requested = asked.ipPermissions.flatMap((p) => [
    ...p.ipRanges.map((r) => cidrRule(p.ipProtocol, p.fromPort, p.toPort, r.cidrIp, r.description)),
    ...p.ipv6Ranges.map((r) => cidrRule(p.ipProtocol, p.fromPort, p.toPort, r.cidrIpv6, r.description)),
  ]);
  if (asked.cidrIp !== undefined) {
    if (asked.ipProtocol === undefined) throw new ParseError('detail.requestParameters.ipProtocol', 'expected an IP protocol next to cidrIp', eventId);
    requested.push(cidrRule(asked.ipProtocol, asked.fromPort, asked.toPort, asked.cidrIp, undefined));
  }
  // A rule id counts only for the request's group. A response naming another group (or, for a name-only
  // request, several) cannot say which rule of this group is which: its ids are dropped, the rules are then
  // found by content in the group as it is now (dry-run, live) or judged from the request (offline).
  const items = answer?.securityGroupRuleSet ?? [];
  const answered = [...new Set(items.flatMap((item) => (item.groupId ? [item.groupId] : [])))];
  const groupId = asked.groupId ?? (answered.length === 1 ? answered[0] : undefined);
  const isMixed = answered.some((id) => id !== groupId);
  const isOwn = (item: (typeof items)[number]) => (item.groupId === undefined ? !isMixed : item.groupId === groupId);
  const created = items.flatMap((item) => {
    const cidr = item.cidrIpv4 ?? item.cidrIpv6;
    return item.isEgress === true || !cidr || !isOwn(item)
      ? []
      : [cidrRule(item.ipProtocol, item.fromPort, item.toPort, cidr, item.description, item.securityGroupRuleId)];
  });
  const foreignRuleIds = items.filter((item) => !isOwn(item)).map((item) => item.securityGroupRuleId);
  const rules = requested.map((rule) => ({ ...rule, ruleId: created.find((c) => isSameRule(c, rule))?.ruleId }));
  if (groupId === undefined && asked.groupName === undefined) {
    throw new ParseError('detail.requestParameters.groupId', 'expected a security group id or name', eventId);
  }
  return { groupId, groupName: asked.groupName, rules, foreignRuleIds };
}

/** ModifySecurityGroupRules: each rewritten rule, by id, with its new content. */
export function modifyRulesChange(request: unknown, eventId: string | null): SecurityGroupChange {
  const { ModifySecurityGroupRulesRequest: asked } = parseWith(ModifyRequest, request, 'detail.requestParameters', eventId);
  const rules = asked.SecurityGroupRule.flatMap(({ SecurityGroupRuleId: id, SecurityGroupRule: rule }) => {
    const cidr = rule?.CidrIpv4 ?? rule?.CidrIpv6;
    return rule && cidr ? [cidrRule(rule.IpProtocol, rule.FromPort, rule.ToPort, cidr, rule.Description, id)] : [];
  });
  return { groupId: asked.GroupId, groupName: undefined, rules, foreignRuleIds: [] };
}
