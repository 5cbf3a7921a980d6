import type { RDSClient } from '@aws-sdk/client-rds';
import * as v from 'valibot';
import { permissionsOf, planOf } from '../../shared/actions/action.js';
import {
  isDbSnapshotName,
  modifyDBClusterSnapshotAttribute,
  modifyDBSnapshotAttribute,
  restoreValues,
  type DbSnapshotKind,
} from '../../shared/actions/rds-modify-db-snapshot-attribute.js';
import { awsCall } from '../../shared/aws/errors.js';
import { organizationAccounts } from '../../shared/aws/organizations.js';
import { rdsClient } from '../../shared/aws/rds.js';
import type { Config } from '../../shared/config.js';
import type { ControlId } from '../../shared/controls.js';
import { ParseError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { orgWithoutReading, outsidePolicyOf, sharingTitle, sharingVerdict, type Grantee, type OrgAccounts, type OutsidePolicy } from '../../shared/outside.js';
import {
  alert,
  compliant,
  violation,
  whereOf,
  type Decision,
  type Message,
  type PlannedAction,
  type ResourceRef,
  type Rule,
  type RunContext,
} from '../../shared/rule.js';
import pattern from './pattern.json' with { type: 'json' };

/** What the event says: which manual snapshot, and whom the call added to its `restore` attribute. */
export interface DbShareFacts {
  readonly kind: DbSnapshotKind;
  readonly resources: readonly [ResourceRef];
  /** Each value once, as logged (`all` lower-cased): account ids and `all`. */
  readonly added: readonly string[];
}

/** The `restore` values now (dry-run and live), and the organisation's accounts as far as they were read. */
export interface DbShareState {
  readonly values: readonly string[];
  readonly org: OrgAccounts;
}

type Clients = { readonly rds: RDSClient; readonly orgAccounts: () => Promise<OrgAccounts> };
type Settings = { readonly enabled: boolean; readonly outside: OutsidePolicy };

const ACTIONS = [modifyDBSnapshotAttribute, modifyDBClusterSnapshotAttribute];
const LIST_ACCOUNTS = 'Organizations.ListAccounts';
const DESCRIBE = { instance: 'RDS.DescribeDBSnapshotAttributes', cluster: 'RDS.DescribeDBClusterSnapshotAttributes' } as const;
const TYPES = { instance: 'AWS::RDS::DBSnapshot', cluster: 'AWS::RDS::DBClusterSnapshot' } as const;
const NOUN = { instance: 'DB snapshot', cluster: 'DB cluster snapshot' } as const;

/** Public (Security Hub RDS.1 matches a public DB snapshot), a named outside account, or (alerted, left shared) one it could not judge. */
export const FINDINGS = ['db-snapshot-public', 'shared-outside', 'shared-unjudged'] as const;
type Finding = (typeof FINDINGS)[number];

// `arn:<partition>:rds:<region>:<account>:snapshot:<name>` (or `cluster-snapshot:`): the identifier may be given as its ARN.
const SNAPSHOT_ARN = /^arn:aws[a-z-]*:rds:[a-z0-9-]+:(\d{12}):(snapshot|cluster-snapshot):(.+)$/;

const Request = v.looseObject({
  attributeName: v.string(),
  valuesToAdd: v.optional(v.nullable(v.unknown())),
  valuesToRemove: v.optional(v.nullable(v.unknown())),
});

/** The snapshot's name from a name or its ARN; an ARN of another account, or of the other kind, is no call RDS took. */
function nameOf(raw: unknown, kind: DbSnapshotKind, field: string, ownAccount: string | undefined, eventId: string | null): string {
  if (typeof raw !== 'string') throw new ParseError(field, 'expected a snapshot identifier', eventId);
  const arn = SNAPSHOT_ARN.exec(raw);
  if (arn) {
    const [, account, type, name] = arn;
    if (type !== (kind === 'instance' ? 'snapshot' : 'cluster-snapshot')) throw new ParseError(field, `expected a ${NOUN[kind]} ARN`, eventId);
    // Only the owner can change who may restore a snapshot: a shared one from another account cannot be modified.
    if (ownAccount !== undefined && account !== ownAccount) throw new ParseError(field, "names another account's snapshot", eventId);
    if (name !== undefined && isDbSnapshotName(name)) return name;
    throw new ParseError(field, 'expected a manual snapshot name in the ARN', eventId);
  }
  if (isDbSnapshotName(raw)) return raw;
  throw new ParseError(field, 'expected a manual snapshot name (a letter, then letters, digits, hyphens) or its ARN', eventId);
}

/** The values a logged list names: a list of strings (a one-value list may be logged as the bare string); anything else is refused. */
function valuesOf(list: unknown, field: string, eventId: string | null): string[] {
  const items = typeof list === 'string' ? [list] : list;
  if (!Array.isArray(items)) throw new ParseError(field, 'expected a list of account ids or all', eventId);
  const values = items.map((value, i) => {
    if (typeof value !== 'string') throw new ParseError(`${field}.${i}`, 'expected a string', eventId);
    if (value.toLowerCase() === 'all') return 'all';
    if (/^\d{12}$/.test(value)) return value;
    throw new ParseError(`${field}.${i}`, 'expected a 12-digit account id or all', eventId);
  });
  return [...new Set(values)];
}

const granteeOf = (value: string): Grantee => (value === 'all' ? { kind: 'public' } : { kind: 'account', id: value });
const label = (facts: DbShareFacts) => `${NOUN[facts.kind]} ${facts.resources[0].id}`;

/** The remove of exactly these values, with them as `previous` (what undo adds back). */
function planRemove(facts: DbShareFacts, values: readonly string[]): PlannedAction {
  const resource = facts.resources[0];
  const previous = { RestoreValues: [...values] };
  return facts.kind === 'instance'
    ? planOf(modifyDBSnapshotAttribute, resource, { DBSnapshotIdentifier: resource.id, AttributeName: 'restore', ValuesToRemove: [...values] }, previous)
    : planOf(
        modifyDBClusterSnapshotAttribute,
        resource,
        { DBClusterSnapshotIdentifier: resource.id, AttributeName: 'restore', ValuesToRemove: [...values] },
        previous,
      );
}

function decide(facts: DbShareFacts, state: DbShareState | undefined, settings: Settings, context: RunContext): Decision {
  if (facts.added.length === 0)
    return compliant(`the call shares ${label(facts)} with no one new (it only removes, or changes another attribute)`, facts.resources);
  const org = state?.org ?? orgWithoutReading(settings.outside, "offline: no calls, so the organisation's accounts were not read");
  const view = { policy: settings.outside, ownAccount: whereOf(context).account, org };
  // Dry-run and live decide from the values now: one removed since (by a person, or an earlier run) is not removed again.
  const held = (value: string) => !state || state.values.some((now) => now.toLowerCase() === value);
  const verdict = sharingVerdict(label(facts), facts.added, granteeOf, held, view);
  switch (verdict.kind) {
    case 'inside':
    case 'gone':
      return compliant(verdict.reason, facts.resources);
    case 'unjudged':
      return alert(verdict.reason, 'HIGH', facts.resources, 'shared-unjudged');
    case 'outside':
      return violation(
        verdict.reason,
        verdict.isPublic ? 'CRITICAL' : 'HIGH',
        facts.resources,
        [planRemove(facts, verdict.targets)],
        verdict.isPublic ? 'db-snapshot-public' : 'shared-outside',
      );
  }
}

async function inspect(facts: DbShareFacts, { rds, orgAccounts }: Clients, _context: unknown, settings: Settings): Promise<DbShareState> {
  const id = facts.resources[0].id;
  const values = await awsCall(DESCRIBE[facts.kind], id, () => restoreValues(rds, facts.kind, id));
  // Single-account mode has no organisation to read; a failed read is `unread`, and an account not otherwise inside is alerted.
  const org: OrgAccounts = settings.outside.organization ? await orgAccounts() : { kind: 'single-account' };
  return { values, org };
}

const Previous = v.object({ RestoreValues: v.array(v.string()) });

export const sharedDbSnapshot = {
  id: 'shared-db-snapshot',
  controls: { byFinding: { 'db-snapshot-public': ['RDS.1'] } satisfies Partial<Record<Finding, readonly ControlId[]>> },
  pattern: pattern as EventPattern,
  permissions: {
    [DESCRIBE.instance]: 'rds:DescribeDBSnapshotAttributes',
    [DESCRIBE.cluster]: 'rds:DescribeDBClusterSnapshotAttributes',
    [LIST_ACCOUNTS]: 'organizations:ListAccounts',
    ...permissionsOf(ACTIONS),
  },
  // The organisation's accounts are listed from the central account (organisation mode only): no member role holds it.
  ownAccountApis: [LIST_ACCOUNTS],
  actions: ACTIONS,
  settings: (config: Config) => ({ ...config.rules['shared-db-snapshot'], outside: outsidePolicyOf(config) }),
  clients: (options) => ({
    rds: rdsClient(options),
    orgAccounts: organizationAccounts({ region: options.region, endpoint: options.endpoint, readOnly: options.readOnly }),
  }),
  parse({ record, event }): DbShareFacts {
    const kind: DbSnapshotKind = record.eventName === 'ModifyDBClusterSnapshotAttribute' ? 'cluster' : 'instance';
    const field = 'detail.requestParameters';
    const r = parseWith(Request, record.requestParameters, field, event.id);
    const idKey = kind === 'instance' ? 'dBSnapshotIdentifier' : 'dBClusterSnapshotIdentifier';
    const own = typeof record.recipientAccountId === 'string' ? record.recipientAccountId : undefined;
    const id = nameOf((r as Record<string, unknown>)[idKey], kind, `${field}.${idKey}`, own, event.id);
    const resources = [{ type: TYPES[kind], id }] as const;
    // RDS takes the attribute name case-insensitively; `restore` is the only one that shares.
    if (r.attributeName.toLowerCase() !== 'restore') return { kind, resources, added: [] };
    const added = r.valuesToAdd === undefined || r.valuesToAdd === null ? [] : valuesOf(r.valuesToAdd, `${field}.valuesToAdd`, event.id);
    return { kind, resources, added };
  },
  inspect,
  decide,
  message(record): Message {
    const resource = record.resources[0];
    const what = resource ? `${resource.type === TYPES.cluster ? NOUN.cluster : NOUN.instance} ${resource.id}` : 'unknown DB snapshot';
    const previous = v.safeParse(Previous, record.actions[0]?.previous);
    const whom = previous.success ? previous.output.RestoreValues : [];
    return { title: sharingTitle(record.outcome, what), lines: whom.length > 0 ? [`Shared outside with: ${whom.join(', ')}`] : [] };
  },
} satisfies Rule<DbShareFacts, DbShareState, Clients, Settings>;
