import * as v from 'valibot';
import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { regionArg } from '../../shared/aws/names.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { actorLabel, parseWith } from '../../shared/events/schema.js';
import { ParseError } from '../../shared/errors.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { alert, compliant, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, checked } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const TRUST_ANCHOR = 'AWS::RolesAnywhere::TrustAnchor';
// Roles Anywhere ids are UUIDs (the trust anchor's ARN ends in `trust-anchor/<id>`).
const TRUST_ANCHOR_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isTrustAnchorId = (value: string): boolean => TRUST_ANCHOR_ID.test(value);

// REST JSON, logged in camelCase: CreateTrustAnchor `name`, `enabled`, `source` {`sourceType`, `sourceData`}, and the
// response's `trustAnchor` {`trustAnchorId`, `enabled`, …}; UpdateTrustAnchor and EnableTrustAnchor name `trustAnchorId`
// (docs/cloudtrail-shapes.md#roles-anywhere). The certificate itself is never shown: only where it comes from.
const Source = v.looseObject({ sourceType: v.optional(v.string()), sourceData: v.optional(v.unknown()) });
const Request = v.looseObject({
  trustAnchorId: v.optional(v.string()),
  name: v.optional(v.string()),
  enabled: v.optional(v.boolean()),
  source: v.optional(Source),
});
const Response = v.looseObject({
  trustAnchor: v.looseObject({ trustAnchorId: v.string(), name: v.optional(v.string()), enabled: v.optional(v.boolean()) }),
});

type Change = 'created' | 'source-replaced' | 'enabled';

interface AnchorFacts {
  readonly change: Change | 'renamed';
  /** The anchor is on after the call: a created one may be made disabled (then its EnableTrustAnchor is alerted). */
  readonly enabled: boolean;
  readonly sourceType: string | undefined;
  readonly resources: readonly [ResourceRef];
}

type Settings = Config['rules']['trust-anchor-created'];

/** An outside CA that can now mint credentials: an anchor created, its certificate source replaced, or one enabled again. */
export const FINDINGS = ['trust-anchor-created', 'trust-anchor-source-replaced', 'trust-anchor-enabled'] as const;
type Finding = (typeof FINDINGS)[number];

const shown = (text: string): string => terminalValue(text.length > 100 ? `${text.slice(0, 100)}…` : text);

function parse({ record, event }: EventContext): AnchorFacts {
  const request = parseWith(Request, record.requestParameters, 'detail.requestParameters', event.id);
  const response = v.safeParse(Response, record.responseElements);
  const id = response.success ? response.output.trustAnchor.trustAnchorId : request.trustAnchorId;
  const field = response.success ? 'detail.responseElements.trustAnchor.trustAnchorId' : 'detail.requestParameters.trustAnchorId';
  if (id === undefined || !isTrustAnchorId(id)) throw new ParseError(field, 'expected a trust anchor id (a UUID)', event.id);
  const name = (response.success ? response.output.trustAnchor.name : undefined) ?? request.name;
  const resources = [{ type: TRUST_ANCHOR, id, ...(name ? { name } : {}) }] as const;
  const sourceType = request.source?.sourceType;
  const enabledAfter = response.success ? response.output.trustAnchor.enabled : undefined;
  switch (record.eventName) {
    case 'CreateTrustAnchor':
      // When neither the response nor the request says, it is taken as on: an unknown is alerted, not waved through.
      return { change: 'created', enabled: enabledAfter ?? request.enabled ?? true, sourceType, resources };
    case 'EnableTrustAnchor':
      return { change: 'enabled', enabled: true, sourceType, resources };
    default:
      // UpdateTrustAnchor changes the name, the source, or both: only a new source trusts a new CA.
      return { change: request.source ? 'source-replaced' : 'renamed', enabled: enabledAfter ?? true, sourceType, resources };
  }
}

const WHAT: Record<Change, string> = {
  created: 'created an IAM Roles Anywhere trust anchor',
  'source-replaced': 'replaced the certificate source of IAM Roles Anywhere trust anchor',
  enabled: 'enabled IAM Roles Anywhere trust anchor',
};
const FINDING: Record<Change, Finding> = {
  created: 'trust-anchor-created',
  'source-replaced': 'trust-anchor-source-replaced',
  enabled: 'trust-anchor-enabled',
};

function decide(facts: AnchorFacts, _state: undefined, _settings: Settings, { record }: EventContext): Decision {
  const anchor = facts.resources[0];
  const label = `${anchor.id}${anchor.name ? ` (${shown(anchor.name)})` : ''}`;
  if (facts.change === 'renamed') return compliant(`trust anchor ${label} renamed; its certificate source is unchanged`, facts.resources);
  if (!facts.enabled) return compliant(`trust anchor ${label} was created disabled: it mints no credentials until enabled (which is alerted)`, facts.resources);
  const source = facts.sourceType ? ` with source ${shown(facts.sourceType)}` : '';
  return alert(
    `${shown(actorLabel(record.actor))} ${WHAT[facts.change]} ${label}${source}: any certificate its CA signs can now get credentials for the roles that trust rolesanywhere.amazonaws.com through a profile`,
    'HIGH',
    facts.resources,
    FINDING[facts.change],
  );
}

const titleOf = (record: RemediationRecord, finding: Finding | undefined): string => {
  const id = record.resources[0]?.id ?? 'unknown';
  if (finding === 'trust-anchor-source-replaced') return `Roles Anywhere trust anchor given a new CA: ${id}`;
  if (finding === 'trust-anchor-enabled') return `Roles Anywhere trust anchor enabled: ${id}`;
  return `Roles Anywhere trust anchor created: ${id}`;
};

function checkNext(record: RemediationRecord): readonly string[] {
  const region = regionArg(record.region);
  const anchor = checked(record.resources[0]?.id, 'trust anchor id', isTrustAnchorId);
  return [
    `whether a workload team set it up on purpose (then exempt the trust anchor), and which CA it trusts: ${awsCommand('rolesanywhere', 'get-trust-anchor', { trustAnchorId: anchor, region })}`,
    `which roles it can reach: the profiles (${awsCommand('rolesanywhere', 'list-profiles', { region })}) and the roles whose trust policy names rolesanywhere.amazonaws.com`,
    `if unintended, disable it at once (trailguard does not: see docs/audit-alerts.md): ${awsCommand('rolesanywhere', 'disable-trust-anchor', { trustAnchorId: anchor, region })}`,
  ];
}

/** IAM Roles Anywhere: a CA outside AWS trusted to mint role credentials. */
export const trustAnchorCreated = alertRule<AnchorFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'trust-anchor-created',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['trust-anchor-created'],
  parse,
  decide,
  title: titleOf,
  checkNext,
});
