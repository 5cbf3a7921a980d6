/**
 * How to reverse what a remediation did, from its log record alone, through the action types: each action's
 * `previous` (the state it replaced) becomes the planned inverse action, and that action type's command is the
 * line a person pastes. The notification, `report` and `undo` all call this, so they print the same command.
 */
import { isRegionName } from '../aws/names.js';
import { assertNever } from '../runner/assert-never.js';
import type { ActionRecord, RemediationRecord } from '../remediation-log.js';
import { shellQuote } from '../shell.js';
import { actionTypeOf, stepOf, stepOfReverse, type AnyActionType, type PlannedAction, type Reversal, type ReverseStep } from './action.js';

/** The Region an action ran in: the resource's own (a trail's home Region) when the record names it. */
export function regionOfAction(record: RemediationRecord, action: ActionRecord): string | undefined {
  const resource = record.resources.find((r) => r.id === action.resource);
  return resource?.region ?? record.region ?? undefined;
}

/** The planned action an action record describes (its resource with the record's type and Region). */
export function plannedFrom(record: RemediationRecord, action: ActionRecord): PlannedAction {
  const resource = record.resources.find((r) => r.id === action.resource) ?? { type: 'unknown', id: action.resource };
  const region = regionOfAction(record, action);
  return {
    api: action.api,
    resource: region ? { ...resource, region } : resource,
    params: action.params,
    ...(action.previous !== undefined ? { previous: action.previous } : {}),
  };
}

/** How to reverse one action of a record. Only a `done` write changed anything. */
export function reversalOf(types: readonly AnyActionType[], record: RemediationRecord, action: ActionRecord): Reversal {
  if (action.status !== 'done') return { kind: 'none', why: `not performed (${action.status}): nothing to reverse` };
  if (record.trigger === 'undo') {
    return { kind: 'none', why: `an operator's undo of ${record.eventId}: to remediate again, remove its exemption and replay the event with --mode live` };
  }
  if (action.verification?.gone) return { kind: 'none', why: 'the resource was already gone: nothing was changed' };
  const region = regionOfAction(record, action);
  // The Region picks the client's endpoint and goes into the command: only a Region code is used.
  if (!region || !isRegionName(region)) return { kind: 'none', why: "the record's region is not a valid region name: no command, nothing is reversed from it" };
  const type = actionTypeOf(types, action.api);
  if (!type) return { kind: 'none', why: `no reversal is known for ${action.api}` };
  let reversal: Reversal;
  try {
    reversal = type.reverse(stepOf(type, plannedFrom(record, action), region));
  } catch {
    // Params that do not validate (a record edited by hand, an older shape) never become a command.
    return { kind: 'none', why: `the record's params are not what ${action.api} takes: nothing is reversed from them` };
  }
  // The reversing writes are validated as any write is: a previous state no API would take gives no command.
  const invalid = reversal.kind === 'none' ? undefined : reversal.steps.find((step) => !isValidStep(step));
  return invalid ? { kind: 'none', why: `the record's previous state is not what ${invalid.type.api} takes: nothing is reversed from it` } : reversal;
}

function isValidStep(step: ReverseStep): boolean {
  try {
    stepOfReverse(step);
    return true;
  } catch {
    return false;
  }
}

/** Every action of a record with its reversal. */
export function reversalsOf(
  types: readonly AnyActionType[],
  record: RemediationRecord,
): readonly { readonly action: ActionRecord; readonly reversal: Reversal }[] {
  return record.actions.map((action) => ({ action, reversal: reversalOf(types, record, action) }));
}

/** The command of each step of a reversal, from the step's own action type. */
export function reversalCommands(reversal: Reversal): readonly string[] {
  if (reversal.kind === 'none') return [];
  return reversal.steps.map((step) => step.type.command(stepOfReverse(step)));
}

/** What each step of a reversal puts back, one sentence each. */
export function reversalSummaries(reversal: Reversal): readonly string[] {
  if (reversal.kind === 'none') return [];
  return reversal.steps.map((step) => step.type.describe(stepOfReverse(step)));
}

/** One line for a person: the command(s), or why there is none. */
export function reversalText(reversal: Reversal): string {
  switch (reversal.kind) {
    case 'steps':
      return reversalCommands(reversal).join(' && ');
    case 'manual':
      return `${reversalCommands(reversal).join(' && ')}  (by hand: ${reversal.why})`;
    case 'none':
      return `no reversal: ${reversal.why}`;
  }
}

/**
 * The notification's reversal lines: "To reverse: <command>" for each write that was made and has one, "To reverse by
 * hand: …" for one undo leaves to a person. A write never made (dry-run, offline, failed) has nothing to reverse.
 * When pasting the command is itself a call a rule acts on, the line after says so, and what to do first.
 */
export function reversalLines(types: readonly AnyActionType[], record: RemediationRecord): string[] {
  const reversals = record.actions.map((action) => ({ action, reversal: reversalOf(types, record, action) }));
  const lines = reversals.flatMap(({ action, reversal }, index) => {
    // No event value outside the command (where it is quoted): the action is named by its API and position.
    const on = record.actions.length > 1 ? ` ${action.api} (action ${index + 1})` : '';
    switch (reversal.kind) {
      case 'steps':
        return [`To reverse${on}: ${reversalText(reversal)}`];
      case 'manual':
        return [`To reverse${on} by hand (${reversal.why}): ${reversalCommands(reversal).join(' && ')}`];
      case 'none':
        return [];
      default:
        return assertNever(reversal);
    }
  });
  const retriggering = reversals.filter(({ reversal }) => reversal.kind === 'steps' && reversal.steps.some((step) => step.type.retriggers));
  if (retriggering.length > 0) {
    const exempt = [...new Set(retriggering.map(({ action }) => action.resource))]
      .map((resource) => exemptAddCommand(record.rule ?? '*', resource, EXEMPTION_REASON))
      .join(' && ');
    lines.push(
      `Pasted as is, the reverse command is itself a call this rule remediates within seconds: exempt the resource first with ${exempt} `
        + '(it takes effect within the configuration cache time, configMaxAgeSeconds), or use trailguard undo, which refuses until it is in place.',
    );
  }
  return lines;
}

/** The reason the suggested exemption carries until the person writes theirs: a constant, never an event value. */
export const EXEMPTION_REASON = '<ticket that approves the change>';

/**
 * `trailguard exempt add --rule R --resource ID --reason TEXT [--expires DAY]`, as a person pastes it: every value
 * single-quoted (shared/shell.ts), since the resource comes from an event. The one form the notification, `undo`
 * and `exempt` print.
 */
export function exemptAddCommand(rule: string, resource: string, reason: string, expires?: string): string {
  return [
    'trailguard exempt add',
    '--rule',
    shellQuote(rule),
    '--resource',
    shellQuote(resource),
    '--reason',
    shellQuote(reason),
    ...(expires ? ['--expires', shellQuote(expires)] : []),
  ].join(' ');
}
