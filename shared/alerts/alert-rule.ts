import type { ClientOptions } from '../aws/client-options.js';
import type { Config, AlertRuleId } from '../config.js';
import type { EventPattern } from '../events/pattern.js';
import type { Actor, CloudTrailRecord } from '../events/schema.js';
import type { RemediationRecord } from '../remediation-log.js';
import { notApplicable, type Decision, type EventContext, type Message, type Rule, type RuleFacts } from '../rule.js';

/** Settings every audit alert has; `ignoreServiceLinkedRoles` only where such roles make the calls at all. */
export interface AlertSettings {
  readonly enabled: boolean;
  readonly ignoreServiceLinkedRoles?: boolean;
}

/** What an audit alert module declares; `alertRule` turns it into a notify-only Rule. */
export interface AlertSpec<Facts extends RuleFacts, State, Clients, Settings extends AlertSettings> {
  readonly id: AlertRuleId;
  readonly pattern: EventPattern;
  settings(config: Config): Settings;
  parse(context: EventContext): Facts;
  decide(facts: Facts, state: State | undefined, settings: Settings, context: EventContext): Decision;
  /** The subject, without severity tag and location. */
  title(record: RemediationRecord): string;
  /** What the reader checks next, one line each (commands, consoles, the person to ask). */
  checkNext(record: RemediationRecord): readonly string[];
  /** Reads only, and only where the alert needs one (s3-bucket-deleted); absent means none. */
  readonly reads?: {
    readonly permissions: Readonly<Record<string, string>>;
    clients(options: ClientOptions): Clients;
    inspect(facts: Facts, clients: Clients, context: EventContext, settings: Settings): Promise<State>;
  };
  /** A decision for a failed call; without it, failed calls are `ignored` (they changed nothing). */
  failedCall?(record: CloudTrailRecord, settings: Settings, context: EventContext): Decision | undefined;
}

/**
 * The caller when it is routine AWS machinery: an AWS service itself, or a service-linked role
 * (`role/aws-service-role/<service>/AWSServiceRoleFor…`, which only that service can assume).
 */
export function routineServiceCaller(actor: Actor): string | undefined {
  if (actor.type === 'AWSService') return `the AWS service ${actor.invokedBy ?? 'unknown'}`;
  if (actor.type !== 'AssumedRole') return undefined;
  // Only the path /aws-service-role/ is reserved by AWS: anyone may name a role `AWSServiceRoleForFake` under
  // `/`. So with the issuer's role ARN the path decides; the name is the evidence only when the record has no
  // role ARN (fixtures without sessionIssuer, SHAPES.md §7).
  const linked = actor.roleArn === undefined ? actor.roleName?.startsWith('AWSServiceRoleFor') === true : actor.roleArn.includes(':role/aws-service-role/');
  return linked ? `the service-linked role ${actor.roleName ?? actor.roleArn ?? 'unknown'}` : undefined;
}

function routineSkip(settings: AlertSettings, actor: Actor): Decision | undefined {
  const routine = settings.ignoreServiceLinkedRoles ? routineServiceCaller(actor) : undefined;
  return routine ? notApplicable(`a routine call by ${routine} (ignoreServiceLinkedRoles is on)`) : undefined;
}

const notifyOnly = (id: string) => async (): Promise<never> => {
  throw new Error(`${id} is notify-only: it never acts or verifies`);
};

/**
 * A notify-only rule: every decision is `alert`, `compliant` or `not-applicable`, so the runner never
 * reaches `act`/`verify` (they throw if it ever did), and the role holds no write beyond the base set.
 */
export function alertRule<Facts extends RuleFacts, State, Clients, Settings extends AlertSettings>(
  spec: AlertSpec<Facts, State, Clients, Settings>,
): Rule<Facts, State, Clients, Settings> {
  const reads = spec.reads;
  return {
    id: spec.id,
    pattern: spec.pattern,
    permissions: reads?.permissions ?? {},
    settings: spec.settings,
    clients: (options) => (reads ? reads.clients(options) : ({} as Clients)),
    parse: spec.parse,
    // A routine caller is left out in decide: no read is spent on it first.
    inspect: async (facts, clients, context, settings) =>
      (reads && !routineSkip(settings, context.record.actor) ? reads.inspect(facts, clients, context, settings) : (undefined as State)),
    decide: (facts, state, settings, context) => routineSkip(settings, context.record.actor) ?? spec.decide(facts, state, settings, context),
    act: notifyOnly(spec.id),
    verify: notifyOnly(spec.id),
    message: (record): Message => ({
      title: spec.title(record),
      lines: record.outcome === 'alerted' || record.outcome === 'failed' ? spec.checkNext(record).map((line) => `Check next: ${line}`) : [],
    }),
    ...(spec.failedCall
      ? { failedCall: (record: CloudTrailRecord, settings: Settings, context: EventContext) => routineSkip(settings, record.actor) ?? spec.failedCall?.(record, settings, context) }
      : {}),
  };
}

/** The first resource's id (or name) of a record, for titles: "unknown" when the record has none. */
export function resourceLabel(record: RemediationRecord): string {
  const resource = record.resources[0];
  return resource?.name ?? resource?.id ?? 'unknown';
}
