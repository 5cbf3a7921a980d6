import * as v from 'valibot';
import { permissionsOf, planOf } from '../../shared/actions/action.js';
import { disableTrustAnchor, TRUST_ANCHOR_TYPE } from '../../shared/actions/rolesanywhere-trust-anchor.js';
import { regionArg } from '../../shared/aws/names.js';
import { isTrustAnchorId, rolesAnywhereClient, type RolesAnywhereClient } from '../../shared/aws/rolesanywhere.js';
import type { Config } from '../../shared/config.js';
import { ParseError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { actorLabel, parseWith } from '../../shared/events/schema.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import {
  alert,
  compliant,
  violation,
  whereOf,
  type Decision,
  type EventContext,
  type Message,
  type ResourceRef,
  type Rule,
  type RunContext,
} from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, checked } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const GET = 'RolesAnywhere.GetTrustAnchor';
const ACTIONS = [disableTrustAnchor];

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

export interface AnchorFacts {
  readonly change: Change | 'renamed';
  /** The anchor is on after the call, as the event says (offline decides on it; dry-run and live read it now). */
  readonly enabled: boolean;
  readonly sourceType: string | undefined;
  readonly resources: readonly [ResourceRef];
}

/** Whether the anchor is enabled now; `null` when nothing was read (a rename changes no trust). */
export type AnchorState = { readonly enabled: boolean } | null;

type Clients = { readonly rolesAnywhere: RolesAnywhereClient };
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
  const resources = [{ type: TRUST_ANCHOR_TYPE, id, ...(name ? { name } : {}) }] as const;
  const sourceType = request.source?.sourceType;
  const enabledAfter = response.success ? response.output.trustAnchor.enabled : undefined;
  switch (record.eventName) {
    case 'CreateTrustAnchor':
      // When neither the response nor the request says, it is taken as on: an unknown is acted on, not waved through.
      return { change: 'created', enabled: enabledAfter ?? request.enabled ?? true, sourceType, resources };
    case 'EnableTrustAnchor':
      return { change: 'enabled', enabled: true, sourceType, resources };
    default:
      // UpdateTrustAnchor changes the name, the source, or both: only a new source trusts a new CA.
      return { change: request.source ? 'source-replaced' : 'renamed', enabled: enabledAfter ?? true, sourceType, resources };
  }
}

async function inspect(facts: AnchorFacts, { rolesAnywhere }: Clients): Promise<AnchorState> {
  if (facts.change === 'renamed') return null;
  return { enabled: (await rolesAnywhere.getTrustAnchor(facts.resources[0].id)).enabled };
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

function decide(facts: AnchorFacts, state: AnchorState | undefined, settings: Settings, context: RunContext): Decision {
  const anchor = facts.resources[0];
  const label = `${anchor.id}${anchor.name ? ` (${shown(anchor.name)})` : ''}`;
  if (facts.change === 'renamed') return compliant(`trust anchor ${label} renamed; its certificate source is unchanged`, facts.resources);
  // Dry-run and live decide on the anchor now: disabled since (by a person, an earlier run), nothing is left to do.
  if (state && !state.enabled)
    return compliant(`trust anchor ${label} is disabled now: it mints no credentials until enabled (which is acted on)`, facts.resources);
  if (!state && !facts.enabled)
    return compliant(`trust anchor ${label} was created disabled: it mints no credentials until enabled (which is acted on)`, facts.resources);
  const { region } = whereOf(context);
  const who = context.record ? shown(actorLabel(context.record.actor)) : 'someone';
  const source = facts.sourceType ? ` with source ${shown(facts.sourceType)}` : '';
  const reason = `${who} ${WHAT[facts.change]} ${label}${source}: any certificate its CA signs can now get credentials for the roles that trust rolesanywhere.amazonaws.com through a profile`;
  const plan = planOf(disableTrustAnchor, anchor, { trustAnchorId: anchor.id }, { enabled: true });
  if (settings.remediate) return violation(reason, 'HIGH', facts.resources, [plan], FINDING[facts.change]);
  const command = disableTrustAnchor.command({ ...plan, previous: plan.previous, region });
  return alert(`${reason}; not disabled (remediate is off): to disable it, ${command}`, 'HIGH', facts.resources, FINDING[facts.change]);
}

function titleFor(record: RemediationRecord): string {
  const id = record.resources[0]?.id ?? 'unknown';
  switch (record.outcome) {
    case 'remediated':
      return `Roles Anywhere trust anchor disabled: ${id}`;
    case 'would-remediate':
      return `Would disable Roles Anywhere trust anchor ${id}`;
    case 'failed':
      return `FAILED to disable Roles Anywhere trust anchor ${id}`;
    case 'alerted':
      if (record.finding === 'trust-anchor-source-replaced') return `Roles Anywhere trust anchor given a new CA: ${id}`;
      if (record.finding === 'trust-anchor-enabled') return `Roles Anywhere trust anchor enabled: ${id}`;
      return `Roles Anywhere trust anchor created: ${id}`;
    default:
      return `Roles Anywhere trust anchor ${id}: ${record.outcome}`;
  }
}

/** What to check whatever trailguard did: who set it up, which CA it trusts, which roles it reaches. */
function checkNext(record: RemediationRecord): readonly string[] {
  const region = regionArg(record.region);
  const anchor = checked(record.resources[0]?.id, 'trust anchor id', isTrustAnchorId);
  return [
    `whether a workload team set it up on purpose (then exempt the trust anchor), and which CA it trusts: ${awsCommand('rolesanywhere', 'get-trust-anchor', { trustAnchorId: anchor, region })}`,
    `which roles it can reach: the profiles (${awsCommand('rolesanywhere', 'list-profiles', { region })}) and the roles whose trust policy names rolesanywhere.amazonaws.com`,
  ];
}

const CHECKED_OUTCOMES = new Set(['remediated', 'would-remediate', 'alerted', 'failed']);

/** IAM Roles Anywhere: a CA outside AWS trusted to mint role credentials, disabled when `remediate` is on. */
export const trustAnchorCreated = {
  id: 'trust-anchor-created',
  pattern: pattern as EventPattern,
  permissions: { [GET]: 'rolesanywhere:GetTrustAnchor', ...permissionsOf(ACTIONS) },
  actions: ACTIONS,
  settings: (config: Config) => config.rules['trust-anchor-created'],
  clients: (options) => ({ rolesAnywhere: rolesAnywhereClient(options) }),
  parse,
  inspect,
  decide,
  message: (record): Message => ({
    title: titleFor(record),
    lines: CHECKED_OUTCOMES.has(record.outcome) ? checkNext(record).map((line) => `Check next: ${line}`) : [],
  }),
} satisfies Rule<AnchorFacts, AnchorState, Clients, Settings>;
