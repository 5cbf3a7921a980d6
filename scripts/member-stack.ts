import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CHECKS, RULES } from '../functions/rules.js';
import { SWEEPS } from '../functions/sweeps.js';
import { memberActionsOf } from '../shared/aws/sts.js';
import type { AnyRule } from '../shared/rule.js';

// The member stack (docs/organization.md), generated from the repository so it cannot drift:
// the forwarding patterns are the rules' pattern.json files (through RULES), the remediation role's actions are
// the rules' `permissions`, each scoped as the central function's role scopes it in its function file.

const ROOT = join(import.meta.dirname, '..');
/** serverless.yml's `service`: the central roles are named `trailguard-<stage>-<function>-role`. */
const SERVICE = 'trailguard';

const require = createRequire(import.meta.url);
/** The forwarding roles' IAM path, which the central bus policy admits (scripts/organization.cjs, one definition). */
const { forwarderRolePathOf } = require('./organization.cjs') as { forwarderRolePathOf: (service: string, stage: string) => string };

/** What this script reads of a function in functions/<rule>/*.yml. */
interface FunctionYml {
  readonly iamRoleStatements?: unknown[];
  readonly events?: readonly { readonly eventBridge?: { readonly state?: unknown } }[];
}

/** A function of a rule folder's function files (scripts/rule-files.cjs, which serverless.yml deploys from). */
export interface CentralFunction {
  readonly key: string;
  readonly file: string;
  /** Its rule id (`environment.TRAILGUARD_RULE`). */
  readonly rule: string;
  /** `event`: an EventBridge pattern; `sweep`: a schedule; `check`: invoked by Scheduler's one-time schedules. */
  readonly kind: 'event' | 'sweep' | 'check';
  readonly definition: FunctionYml;
}

const ruleFiles = require('./rule-files.cjs') as { functionsOf: () => CentralFunction[] };

/** Every function of the rule folders' function files. */
export const centralFunctions = (): CentralFunction[] => ruleFiles.functionsOf();

/**
 * The code a function runs, through the registries: a rule of RULES (its event function), a sweep of SWEEPS, a
 * check of CHECKS, matched by rule id and kind. A function file the registries do not know throws.
 */
export function codeOf(fn: CentralFunction): AnyRule {
  const found =
    fn.kind === 'event'
      ? RULES.filter((rule) => rule.id === fn.rule)
      : fn.kind === 'sweep'
        ? SWEEPS.filter((sweep) => sweep.rule.id === fn.rule).map((sweep) => sweep.rule)
        : CHECKS.filter((check) => check.rule.id === fn.rule).map((check) => check.rule);
  const [rule, ...others] = found;
  if (!rule || others.length > 0)
    throw new Error(
      `${fn.file}: ${fn.key} is a ${fn.kind} function of ${fn.rule}, which ${found.length === 0 ? 'no' : 'more than one'} ${{ event: 'RULES', sweep: 'SWEEPS', check: 'CHECKS' }[fn.kind]} entry has`,
    );
  return rule;
}

/** A forwarding rule's logical id part from a kebab rule id: `public-bucket` → `PublicBucket`. */
const logicalPrefixOf = (ruleId: string) => ruleId.replace(/(^|-)([a-z0-9])/g, (_, _dash: string, c: string) => c.toUpperCase());

// The same list bounds each function's member session (its session policy), so role and session cannot drift.
export { memberActionsOf };

/**
 * The functions that may assume the member role: every rule function and check that calls AWS in the event's
 * account (its permissions less `ownAccountApis`), the rules in RULES order, then the checks. Never a sweep:
 * sweeps scan the central account only.
 */
export function actingFunctions(functions: readonly CentralFunction[] = centralFunctions()): { readonly key: string; readonly rule: AnyRule }[] {
  const order = [...RULES, ...CHECKS.map((check) => check.rule)];
  return functions
    .filter((fn) => fn.kind !== 'sweep')
    .map((fn) => ({ key: fn.key, rule: codeOf(fn) }))
    .filter(({ rule }) => memberActionsOf(rule).length > 0)
    .sort((a, b) => order.indexOf(a.rule) - order.indexOf(b.rule));
}

interface Statement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string[];
  readonly Resource: unknown;
  readonly Condition?: unknown;
}

/** A function's own `iamRoleStatements` (the shared `${self:custom…}` ones left out). */
const statementsOf = (fn: CentralFunction): Statement[] =>
  (fn.definition.iamRoleStatements ?? []).filter((s): s is Statement => typeof s === 'object' && s !== null);

/**
 * The state of a rule's forwarder: its event function's eventBridge `state` (scripts/organization.cjs sets the same
 * on the central rules), else ENABLED. ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS forwards read-only calls too.
 */
export function forwardingStateOf(rule: AnyRule, functions: readonly CentralFunction[]): string {
  const events = functions.filter((fn) => fn.kind === 'event' && fn.rule === rule.id).flatMap((fn) => fn.definition.events ?? []);
  const states = events.map((event) => event.eventBridge?.state).filter((state) => state !== undefined);
  const [state = 'ENABLED', ...others] = states;
  if (typeof state !== 'string' || others.some((other) => other !== state))
    throw new Error(`${rule.id}: its eventBridge events' state must be one string, not ${JSON.stringify(states)}`);
  return state;
}

/**
 * The remediation role's statements: for each acting function, its central statements cut down to the actions it
 * needs in a member account, merged by resource. `${AWS::AccountId}` in a resource is then the member account.
 */
export function memberStatements(functions: readonly CentralFunction[] = centralFunctions()): Statement[] {
  const byResource = new Map<string, { effect: Statement['Effect']; resource: unknown; condition: unknown; actions: Set<string> }>();
  for (const { key, rule } of actingFunctions(functions)) {
    const needed = memberActionsOf(rule);
    const statements = statementsOf(functions.find((fn) => fn.key === key) as CentralFunction);
    for (const action of needed) {
      if (!statements.some((s) => s.Effect === 'Allow' && [s.Action].flat().includes(action))) {
        throw new Error(`${key} needs ${action} (rule ${rule.id}), but no statement of its function file grants it`);
      }
    }
    for (const statement of statements) {
      const actions = [statement.Action].flat().filter((a) => needed.includes(a));
      if (actions.length === 0) continue;
      // A Deny (what the function's role must never do, such as adding a share) is carried as a Deny: kept apart by Effect.
      const id = JSON.stringify([statement.Effect, statement.Resource, statement.Condition ?? null]);
      const entry = byResource.get(id) ?? {
        effect: statement.Effect,
        resource: statement.Resource,
        condition: statement.Condition,
        actions: new Set<string>(),
      };
      for (const action of actions) entry.actions.add(action);
      byResource.set(id, entry);
    }
  }
  return [...byResource.values()].map(({ effect, resource, condition, actions }) => ({
    Effect: effect,
    Action: [...actions].sort(),
    Resource: resource,
    ...(condition ? { Condition: condition } : {}),
  }));
}

/**
 * The central rules' retry policy (serverless.yml `custom.eventBridgeRetry`), for the forwarders too: one setting,
 * so a member's forwarded event is retried as long as the central bus's copy retries its delivery.
 */
function forwardingRetryPolicy(): { MaximumRetryAttempts: number; MaximumEventAgeInSeconds: number } {
  const config = parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as {
    custom?: { eventBridgeRetry?: { maximumRetryAttempts?: unknown; maximumEventAge?: unknown } };
  };
  const { maximumRetryAttempts, maximumEventAge } = config.custom?.eventBridgeRetry ?? {};
  if (typeof maximumRetryAttempts !== 'number' || typeof maximumEventAge !== 'number') {
    throw new Error('serverless.yml custom.eventBridgeRetry must set maximumRetryAttempts and maximumEventAge as numbers');
  }
  return { MaximumRetryAttempts: maximumRetryAttempts, MaximumEventAgeInSeconds: maximumEventAge };
}

const sub = (text: string) => ({ 'Fn::Sub': text });
const CENTRAL_BUS_ARN = sub(`arn:\${AWS::Partition}:events:\${CentralRegion}:\${CentralAccountId}:event-bus/${SERVICE}-\${Stage}-organization`);

/** The member stack's CloudFormation template (JSON-ready), deployable as a StackSet to every account and region. */
export function memberStackTemplate() {
  const functions = centralFunctions();
  const retryPolicy = forwardingRetryPolicy();
  const forwards = Object.fromEntries(
    RULES.map((rule) => [
      `Forward${logicalPrefixOf(rule.id)}`,
      {
        Type: 'AWS::Events::Rule',
        Condition: 'Forwards',
        Properties: {
          Description: `trailguard ${rule.id}: forwards the matching CloudTrail events to the central bus`,
          EventPattern: rule.pattern,
          State: forwardingStateOf(rule, functions),
          Targets: [
            {
              Id: 'trailguard-central-bus',
              Arn: CENTRAL_BUS_ARN,
              RoleArn: { 'Fn::GetAtt': ['ForwardingRole', 'Arn'] },
              // An unreachable central bus (not yet deployed, throttled, its policy changed) keeps events here, not lost.
              RetryPolicy: retryPolicy,
              DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['ForwardingDeadLetterQueue', 'Arn'] } },
            },
          ],
        },
      },
    ]),
  );
  const trustedRoles = actingFunctions(functions).map(({ key }) =>
    sub(`arn:\${AWS::Partition}:iam::\${CentralAccountId}:role/${SERVICE}-\${Stage}-${key}-role`),
  );
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description:
      "trailguard member stack: forwards the rules' CloudTrail events to the central bus, and (in RoleRegion) the role trailguard acts through. Generated by `npm run member-template`; do not edit.",
    Parameters: {
      OrganizationId: {
        Type: 'String',
        AllowedPattern: '^o-[a-z0-9]{10,32}$',
        Description: 'The AWS Organization id (o-...): the role trusts only its principals',
      },
      CentralAccountId: { Type: 'String', AllowedPattern: '^\\d{12}$', Description: 'The account the central trailguard stack runs in' },
      CentralRegion: {
        Type: 'String',
        AllowedPattern: '^[a-z]{2}(-[a-z]+)+-\\d+$',
        Description: 'The region of the central stack (its organisation event bus)',
      },
      Stage: {
        Type: 'String',
        Default: 'dev',
        AllowedPattern: '^[A-Za-z0-9-]{1,32}$',
        Description: "The central stack's stage: its roles are trailguard-<stage>-<function>-role",
      },
      MemberRoleName: {
        Type: 'String',
        Default: 'trailguard-remediation',
        AllowedPattern: '^[\\w+=,.@-]{1,64}$',
        Description: "The remediation role's name (the central stack's memberRoleName param)",
      },
      ExternalId: {
        Type: 'String',
        Default: '',
        AllowedPattern: '^([\\w+=,.@:/-]{2,1224})?$',
        Description: "Optional: required of every AssumeRole when set (the central stack's externalId param)",
      },
      RoleRegion: {
        Type: 'String',
        Default: 'us-east-1',
        AllowedPattern: '^[a-z]{2}(-[a-z]+)+-\\d+$',
        Description: 'The one region whose stack instance creates the (global) IAM role',
      },
    },
    Conditions: {
      IsCentralAccount: { 'Fn::Equals': [{ Ref: 'AWS::AccountId' }, { Ref: 'CentralAccountId' }] },
      // The central region of the central account has the rules on its default bus already: no forwarding there.
      Forwards: { 'Fn::Not': [{ 'Fn::And': [{ Condition: 'IsCentralAccount' }, { 'Fn::Equals': [{ Ref: 'AWS::Region' }, { Ref: 'CentralRegion' }] }] }] },
      // IAM is global: one region creates the role. The central account acts with its functions' own roles.
      CreatesRole: { 'Fn::And': [{ 'Fn::Equals': [{ Ref: 'AWS::Region' }, { Ref: 'RoleRegion' }] }, { 'Fn::Not': [{ Condition: 'IsCentralAccount' }] }] },
      HasExternalId: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'ExternalId' }, ''] }] },
    },
    Resources: {
      ForwardingRole: {
        Type: 'AWS::IAM::Role',
        Condition: 'Forwards',
        Properties: {
          Description: "trailguard: lets this account's EventBridge rules put the forwarded events on the central bus",
          // The central bus admits PutEvents from roles of this path only; CloudFormation names the role (one per region).
          Path: sub(forwarderRolePathOf(SERVICE, '${Stage}')),
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { Service: 'events.amazonaws.com' },
                Action: 'sts:AssumeRole',
                Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
              },
            ],
          },
          Policies: [
            {
              PolicyName: 'put-events-on-the-trailguard-central-bus',
              PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'events:PutEvents', Resource: CENTRAL_BUS_ARN }] },
            },
          ],
        },
      },
      ...forwards,
      ForwardingDeadLetterQueue: {
        Type: 'AWS::SQS::Queue',
        Condition: 'Forwards',
        Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
      },
      ForwardingDeadLetterQueuePolicy: {
        Type: 'AWS::SQS::QueuePolicy',
        Condition: 'Forwards',
        Properties: {
          Queues: [{ Ref: 'ForwardingDeadLetterQueue' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'ForwardingRulesDeliverFailedEvents',
                Effect: 'Allow',
                Principal: { Service: 'events.amazonaws.com' },
                Action: 'sqs:SendMessage',
                Resource: { 'Fn::GetAtt': ['ForwardingDeadLetterQueue', 'Arn'] },
                Condition: { ArnEquals: { 'aws:SourceArn': Object.keys(forwards).map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })) } },
              },
            ],
          },
        },
      },
      RemediationRole: {
        Type: 'AWS::IAM::Role',
        Condition: 'CreatesRole',
        Properties: {
          RoleName: { Ref: 'MemberRoleName' },
          Description: "trailguard: the central functions act in this account through this role (the rules' permissions only)",
          MaxSessionDuration: 3600,
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'OnlyTrailguardCentralFunctions',
                Effect: 'Allow',
                // The account as principal, narrowed to the exact function roles by aws:PrincipalArn: a role ARN
                // as principal would fail while the central stack is not yet deployed, and break when it is re-created.
                Principal: { AWS: sub('arn:${AWS::Partition}:iam::${CentralAccountId}:root') },
                Action: 'sts:AssumeRole',
                Condition: {
                  ArnEquals: { 'aws:PrincipalArn': trustedRoles },
                  StringEquals: {
                    'aws:PrincipalOrgID': { Ref: 'OrganizationId' },
                    'sts:ExternalId': { 'Fn::If': ['HasExternalId', { Ref: 'ExternalId' }, { Ref: 'AWS::NoValue' }] },
                  },
                },
              },
            ],
          },
          Policies: [{ PolicyName: 'trailguard-remediation', PolicyDocument: { Version: '2012-10-17', Statement: memberStatements(functions) } }],
        },
      },
    },
    Outputs: {
      RemediationRoleArn: { Condition: 'CreatesRole', Value: { 'Fn::GetAtt': ['RemediationRole', 'Arn'] } },
      ForwardingDeadLetterQueueUrl: { Condition: 'Forwards', Value: { Ref: 'ForwardingDeadLetterQueue' } },
    },
  };
}
