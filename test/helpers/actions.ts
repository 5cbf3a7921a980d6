import * as v from 'valibot';
import type { AnyActionType, Step, Verification } from '../../shared/actions/action.js';

/** What a test action does: its perform and verify (spies, usually); any params are accepted. */
export interface TestBehaviour {
  readonly perform?: (params: unknown, clients: unknown, step: Step<unknown, unknown>) => Promise<void>;
  readonly verify?: (params: unknown, clients: unknown, step: Step<unknown, unknown>) => Promise<Verification>;
}

/**
 * An action type for runner tests: named `api` (as a rule's planned actions name it), accepting any params, performing
 * and reading back as `behaviour` says (by default: does nothing, reads back ok). Never reversible.
 */
export function testAction(api: string, behaviour: TestBehaviour = {}): AnyActionType {
  return {
    api,
    iam: `test:${api.split('.')[1] ?? 'Write'}`,
    clients: [],
    params: v.unknown(),
    previous: v.unknown(),
    retriggers: false,
    perform: (step, clients) => (behaviour.perform ? behaviour.perform(step.params, clients, step) : Promise.resolve()),
    verify: (step, clients) => (behaviour.verify ? behaviour.verify(step.params, clients, step) : Promise.resolve({ ok: true, detail: 'read back' })),
    reverse: () => ({ kind: 'none', why: 'a test action is not reversed' }),
    command: () => 'no command: a test action',
    describe: () => `${api} (test)`,
  };
}
