/** The runner's (and undo's) one way to perform and read back a planned action: through its action type, validated first. */
import { AwsCallError } from '../errors.js';
import { actionTypeOf, stepOf, type AnyActionType, type PlannedAction, type Verification } from './action.js';

/** The action type that performs `action`; an API none of `types` knows is never called (`invalid`). */
export function typeFor(types: readonly AnyActionType[], action: PlannedAction): AnyActionType {
  const type = actionTypeOf(types, action.api);
  if (!type) throw new AwsCallError(action.api, action.resource.id, 'invalid', 'UnknownAction', `no action type performs ${action.api} here`);
  return type;
}

/** Performs one action (live only). `region`: where it runs unless its resource names its own Region. */
export async function performAction(types: readonly AnyActionType[], action: PlannedAction, clients: unknown, region: string): Promise<void> {
  const type = typeFor(types, action);
  await type.perform(stepOf(type, action, region), clients as never);
}

/** Reads back what `performAction` changed. */
export async function verifyAction(types: readonly AnyActionType[], action: PlannedAction, clients: unknown, region: string): Promise<Verification> {
  const type = typeFor(types, action);
  return type.verify(stepOf(type, action, region), clients as never);
}
