import type { ClientOptions } from '../aws/client-options.js';
import type { RuleControls } from '../controls.js';
import type { Config, AlertRuleId } from '../config.js';
import type { EventPattern } from '../events/pattern.js';
import type { Actor, CloudTrailRecord } from '../events/schema.js';
import type { RemediationRecord } from '../remediation-log.js';
import { notApplicable, type Decision, type EventContext, type FindingCode, type RunContext, type Message, type Rule, type RuleFacts } from '../rule.js';

/** An audit alert is about a call: it runs on CloudTrail events only, never on a sweep's or a schedule's finding. */
function eventOf(context: RunContext): EventContext {
  if (!context.event) throw new Error('an audit alert decides on a CloudTrail event; it has no sweep or schedule');
  return context;
}

/** Settings every audit alert has; `ignoreServiceLinkedRoles` only where such roles make the calls at all. */
export interface AlertSettings {
  readonly enabled: boolean;
  readonly ignoreServiceLinkedRoles?: boolean;
}

/**
 * What an audit alert module declares; `alertRule` turns it into a notify-only Rule.
 * `Finding` is the rule's finding codes (its exported `FINDINGS`): every `alert` its decide returns carries one
 * (the last argument of `alert()`), and title and checkNext are handed the record's, typed: they read it, never the reason.
 */
export interface AlertSpec<Facts extends RuleFacts, State, Clients, Settings extends AlertSettings, Finding extends FindingCode> {
  readonly id: AlertRuleId;
  readonly pattern: EventPattern;
  /** Every finding code the rule's alerts carry, one per distinct thing it reports (for the report and Security Hub). */
  readonly findings: readonly Finding[];
  /** The Security Hub controls its findings match (shared/controls.ts); absent: it names none. */
  readonly controls?: RuleControls<Finding>;
  settings(config: Config): Settings;
  parse(context: EventContext): Facts;
  decide(facts: Facts, state: State | undefined, settings: Settings, context: EventContext): Decision;
  /** The subject, without severity tag and location; `finding` is the record's, undefined when it has none of the rule's. */
  title(record: RemediationRecord, finding: Finding | undefined): string;
  /** What the reader checks next, one line each (commands, consoles, the person to ask). */
  checkNext(record: RemediationRecord, finding: Finding | undefined): readonly string[];
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
  // role ARN (fixtures without sessionIssuer, docs/cloudtrail-shapes.md#identities).
  const linked = actor.roleArn === undefined ? actor.roleName?.startsWith('AWSServiceRoleFor') === true : actor.roleArn.includes(':role/aws-service-role/');
  return linked ? `the service-linked role ${actor.roleName ?? actor.roleArn ?? 'unknown'}` : undefined;
}

function routineSkip(settings: AlertSettings, actor: Actor): Decision | undefined {
  const routine = settings.ignoreServiceLinkedRoles ? routineServiceCaller(actor) : undefined;
  return routine ? notApplicable(`a routine call by ${routine} (ignoreServiceLinkedRoles is on)`) : undefined;
}

/** An audit alert rule, with the finding codes its alerts carry. */
export type AlertRule<Facts extends RuleFacts, State, Clients, Settings, Finding extends FindingCode> = Rule<Facts, State, Clients, Settings> & {
  readonly findings: readonly Finding[];
};

/**
 * A notify-only rule: every decision is `alert`, `compliant` or `not-applicable`, it has no action types (so
 * nothing to perform, read back or reverse), and the role holds no write beyond the base set.
 */
export function alertRule<Facts extends RuleFacts, State, Clients, Settings extends AlertSettings, Finding extends FindingCode>(
  spec: AlertSpec<Facts, State, Clients, Settings, Finding>,
): AlertRule<Facts, State, Clients, Settings, Finding> {
  const reads = spec.reads;
  // The record's finding as one of this rule's codes: records of other rules or older ones (null) have none.
  const findingOf = (record: RemediationRecord): Finding | undefined => spec.findings.find((code) => code === record.finding);
  return {
    id: spec.id,
    pattern: spec.pattern,
    findings: spec.findings,
    ...(spec.controls ? { controls: spec.controls } : {}),
    permissions: reads?.permissions ?? {},
    actions: [],
    settings: spec.settings,
    clients: (options) => (reads ? reads.clients(options) : ({} as Clients)),
    parse: spec.parse,
    // A routine caller is left out in decide: no read is spent on it first.
    inspect: async (facts, clients, run, settings) => {
      const context = eventOf(run);
      return reads && !routineSkip(settings, context.record.actor) ? reads.inspect(facts, clients, context, settings) : (undefined as State);
    },
    decide: (facts, state, settings, run) => {
      const context = eventOf(run);
      return routineSkip(settings, context.record.actor) ?? spec.decide(facts, state, settings, context);
    },
    message: (record): Message => {
      const finding = findingOf(record);
      return {
        title: spec.title(record, finding),
        lines: record.outcome === 'alerted' || record.outcome === 'failed' ? spec.checkNext(record, finding).map((line) => `Check next: ${line}`) : [],
      };
    },
    ...(spec.failedCall
      ? {
          failedCall: (record: CloudTrailRecord, settings: Settings, context: EventContext) =>
            routineSkip(settings, record.actor) ?? spec.failedCall?.(record, settings, context),
        }
      : {}),
  };
}

/** The first resource's id (or name) of a record, for titles: "unknown" when the record has none. */
export function resourceLabel(record: RemediationRecord): string {
  const resource = record.resources[0];
  return resource?.name ?? resource?.id ?? 'unknown';
}
