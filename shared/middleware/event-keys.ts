import type { MiddlewareObj, Request } from '@middy/core';
import type { Logger } from '../log.js';

function eventIdOf(event: unknown): string | undefined {
  const id = event && typeof event === 'object' ? (event as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? id : undefined;
}

/** Puts the event id and the Lambda request id on every log line of this invocation. */
export const eventKeys = (logger: Logger): MiddlewareObj<unknown> => {
  const eventKeysBefore = ({ event, context }: Request<unknown>) => logger.appendKeys({ eventBridgeId: eventIdOf(event), awsRequestId: context?.awsRequestId });
  const eventKeysAfter = () => logger.removeKeys(['eventBridgeId', 'awsRequestId']);
  return { before: eventKeysBefore, after: eventKeysAfter, onError: eventKeysAfter };
};
