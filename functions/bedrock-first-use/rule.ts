import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { principalOf, type Principal } from '../../shared/alerts/counting.js';
import type { Config } from '../../shared/config.js';
import { eventTimeMs } from '../../shared/events/normalize.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { ParseError } from '../../shared/errors.js';
import {
  alert,
  compliant,
  notApplicable,
  type Decision,
  type EventContext,
  type ResourceRef,
  type WindowCounter,
  type WindowFirst,
} from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, placeholder } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

/**
 * A principal's first Bedrock inference call (`bedrock-first-use`), or its first refused one (`bedrock-first-try`):
 * LLMjacking starts with a stolen key running models on the victim's bill, and the key's owner had never used
 * Bedrock. Without a state store each call is `bedrock-use-unremembered`: first or not cannot be told.
 */
export const FINDINGS = ['bedrock-first-use', 'bedrock-first-try', 'bedrock-use-unremembered'] as const;
type Finding = (typeof FINDINGS)[number];
type Settings = Config['rules']['bedrock-first-use'];

// A foundation model id, an inference profile id, or a model/profile ARN: the API takes up to 2,048 characters.
const ModelId = v.pipe(v.string(), v.minLength(1), v.maxLength(2048));
const UseRequest = v.looseObject({ modelId: ModelId });
// A refused call may log no request (a malformed body is refused before it is read): the model is then unknown.
const TryRequest = v.nullish(v.looseObject({ modelId: v.optional(ModelId) }));
const Additional = v.nullish(v.looseObject({ inferenceRegion: v.optional(v.string()) }));

interface BedrockFacts {
  /** The principal as a resource: an exemption names its ARN (a role's for its sessions), never a bare name. */
  readonly resources: readonly ResourceRef[];
  readonly principal: Principal | undefined;
  readonly call: string;
  readonly modelId: string | undefined;
  readonly region: string;
  /** Where a cross-Region inference profile ran the request (`additionalEventData.inferenceRegion`). */
  readonly inferenceRegion: string | undefined;
  /** The AWS service that made the call with the principal's credentials (`userIdentity.invokedBy`), if one did. */
  readonly invokedBy: string | undefined;
  /** The refusal (`AccessDeniedException`: model access or IAM; `ValidationException`: allowed, body refused). */
  readonly errorCode: string | undefined;
  readonly timeMs: number;
}

/** What the state table remembers of the principal, around this call. */
type Memory = { readonly kind: 'use'; readonly first: boolean } | { readonly kind: 'try'; readonly usesBedrock: boolean; readonly first: boolean };

const digest = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);
const DAY_MS = 86_400_000;

function parse({ record, event }: EventContext): BedrockFacts {
  const timeMs = eventTimeMs(record.eventTime);
  if (timeMs === undefined) throw new ParseError('detail.eventTime', 'expected an ISO time', event.id);
  const principal = principalOf(record.actor, event.account);
  const modelId = record.errorCode
    ? parseWith(TryRequest, record.requestParameters, 'detail.requestParameters', event.id)?.modelId
    : parseWith(UseRequest, record.requestParameters, 'detail.requestParameters', event.id).modelId;
  const additional = v.safeParse(Additional, record.additionalEventData);
  const type = principal?.arn.includes(':role/') ? 'AWS::IAM::Role' : principal?.arn.includes(':user/') ? 'AWS::IAM::User' : 'AWS::IAM::Principal';
  return {
    resources: principal ? [{ type, id: principal.arn }] : [],
    principal,
    call: record.eventName,
    modelId,
    region: record.awsRegion || event.region,
    inferenceRegion: additional.success ? additional.output?.inferenceRegion : undefined,
    invokedBy: record.actor.invokedBy,
    errorCode: record.errorCode,
    timeMs,
  };
}

/**
 * Whether `counter` was marked in the fixed window holding `timeMs` or the one before, by another event than this.
 * Marking keeps this event's id as the window's first (`keepFirst`), so a redelivery of the event that marked it
 * (EventBridge retries a run that failed after its mark landed) is still the first and still alerts; the count beside
 * it is what a later window reads back. A mark lives two windows, so a use is remembered one to two windows long.
 * Reading (`mark` undefined) adds nothing.
 */
async function markedBefore(
  add: WindowCounter,
  keepFirst: WindowFirst | undefined,
  counter: string,
  timeMs: number,
  windowMs: number,
  mark: string | undefined,
): Promise<boolean> {
  const start = Math.floor(timeMs / windowMs) * windowMs;
  const expires = start + 2 * windowMs;
  if (mark !== undefined && keepFirst) {
    const [kept] = await Promise.all([keepFirst(counter, start, mark, expires), add(counter, start, 1, expires)]);
    if (kept !== mark) return true;
  } else if ((await add(counter, start, mark === undefined ? 0 : 1, expires)) > (mark === undefined ? 0 : 1)) return true;
  return (await add(counter, start - windowMs, 0, start + windowMs)) > 0;
}

async function remember(facts: BedrockFacts, context: EventContext, settings: Settings): Promise<Memory | undefined> {
  const { countInWindow: add, firstInWindow: keepFirst } = context;
  if (!add || !facts.principal || facts.invokedBy !== undefined) return undefined;
  const key = `${digest(facts.principal.account)}#${digest(facts.principal.arn)}`;
  const windowMs = settings.rememberDays * DAY_MS;
  // The mark names this event (CloudTrail's id, as the runner's claim does), so its redelivery is recognised.
  const mark = context.record.eventId ?? context.event.id;
  if (!facts.errorCode) return { kind: 'use', first: !(await markedBefore(add, keepFirst, `${key}#used`, facts.timeMs, windowMs, mark)) };
  // A refusal is kept apart from uses: a probe first, then a working key, is two alerts, not one.
  if (await markedBefore(add, keepFirst, `${key}#used`, facts.timeMs, windowMs, undefined)) return { kind: 'try', usesBedrock: true, first: false };
  return { kind: 'try', usesBedrock: false, first: !(await markedBefore(add, keepFirst, `${key}#tried`, facts.timeMs, windowMs, mark)) };
}

function what(facts: BedrockFacts): string {
  const model =
    facts.modelId === undefined ? 'an unnamed model' : `model ${terminalValue(facts.modelId.length > 200 ? `${facts.modelId.slice(0, 200)}…` : facts.modelId)}`;
  const ran = facts.inferenceRegion && facts.inferenceRegion !== facts.region ? `, run in ${terminalValue(facts.inferenceRegion)}` : '';
  return `${terminalValue(facts.call)} on ${model} in ${terminalValue(facts.region)}${ran}`;
}

function decide(facts: BedrockFacts, memory: Memory | undefined, settings: Settings): Decision {
  if (!facts.principal) return notApplicable('the call names no principal (an AWS service, or no ARN): no one to remember');
  const who = terminalValue(facts.principal.session ?? facts.principal.arn);
  // A service running models with the principal's role (a Bedrock agent or job it set up) is configured work, as a
  // CloudFormation deploy is for denied-calls-burst: not a key in someone else's hands, and not remembered as a use.
  if (facts.invokedBy !== undefined)
    return compliant(
      `${terminalValue(facts.invokedBy)} called ${what(facts)} on behalf of ${who}: a service's call, not the principal's own use`,
      facts.resources,
    );
  const refused = facts.errorCode ? ` and was refused (${terminalValue(facts.errorCode)})` : '';
  const days = settings.rememberDays;
  if (!memory)
    // Replay and backtests have no store: every call is reported rather than none, so a first use is never hidden.
    return alert(
      `${who} called ${what(facts)}${refused}; not remembered (no state store, as in replay): whether it is this principal's first Bedrock use cannot be told, a deployment alerts on first use only`,
      'LOW',
      facts.resources,
      'bedrock-use-unremembered',
    );
  if (memory.kind === 'use')
    return memory.first
      ? alert(
          `${who} used Bedrock for the first time in at least ${days} days: ${what(facts)}. A key that never ran models starting to is how LLMjacking begins (models run on this account's bill)`,
          'MEDIUM',
          facts.resources,
          'bedrock-first-use',
        )
      : compliant(`${who} has used Bedrock within the last ${days} days: ${what(facts)} is no first use`, facts.resources);
  if (memory.usesBedrock)
    return compliant(`${who} uses Bedrock already: ${what(facts)}${refused} is a refusal of a known user (a model it has no access to)`, facts.resources);
  return memory.first
    ? alert(
        `${who} tried Bedrock for the first time in at least ${days} days${refused}: ${what(facts)}. Someone is testing what a key can do (a ValidationException means the call was allowed, the body refused)`,
        'MEDIUM',
        facts.resources,
        'bedrock-first-try',
      )
    : compliant(`${who} was refused Bedrock before within ${days} days (already alerted): ${what(facts)}${refused}`, facts.resources);
}

/** A principal's first Bedrock inference call, remembered per principal in the state table for `rememberDays` (90). */
const rule = alertRule<BedrockFacts, Memory | undefined, Record<string, never>, Settings, Finding>({
  id: 'bedrock-first-use',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['bedrock-first-use'],
  parse,
  decide,
  reads: { permissions: {}, clients: () => ({}), inspect: (facts, _clients, context, settings) => remember(facts, context, settings) },
  title: (record, finding) =>
    `${finding === 'bedrock-first-try' ? 'Bedrock tried' : finding === 'bedrock-first-use' ? 'Bedrock used' : 'Bedrock call'} by ${record.resources[0]?.id ?? 'an unknown principal'}${finding === 'bedrock-use-unremembered' ? '' : ' for the first time'}`,
  checkNext: (record) => [
    `whether ${terminalValue(record.resources[0]?.id ?? 'the principal')} should run models at all: ask its owner; its other calls are in CloudTrail Event history, filtered by its access key`,
    `what it ran and how much: model invocation logging (${awsCommand('bedrock', 'get-model-invocation-logging-configuration')}) and the Bedrock line of Cost Explorer`,
    `if it should not, cut it off: a policy denying bedrock:InvokeModel* (an SCP, or ${awsCommand('iam', 'put-role-policy', { roleName: placeholder('<role>'), policyName: 'deny-bedrock', policyDocument: placeholder('<deny-policy-json>') })}), then rotate its keys`,
    'if it is a new application, exempt its role by ARN (never by name alone)',
  ],
});

/** Decides refused calls too: a first refused call is a signal (`bedrock-first-try`), not an event to drop. */
export const bedrockFirstUse = { ...rule, decidesFailedCalls: true as const };
