/** Base class of every error trailguard throws on purpose; anything else is a bug or an SDK fault. */
export abstract class TrailguardError extends Error {}

/** An input did not have the shape a rule needs: names the field path and the event it came from. */
export class ParseError extends TrailguardError {
  override readonly name = 'ParseError';
  constructor(
    readonly field: string,
    readonly problem: string,
    readonly eventId: string | null = null,
    options?: ErrorOptions,
  ) {
    super(`${field}: ${problem}${eventId ? ` (event ${eventId})` : ''}`, options);
  }
}

/** A configuration value is wrong: names the variable (or file key) and what is wrong with it. */
export class ConfigError extends TrailguardError {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    readonly problem: string,
    options?: ErrorOptions,
  ) {
    super(`${variable}: ${problem}`, options);
  }
}

/** How an AWS call failed, which decides what the runner does next. */
export type AwsErrorKind = 'transient' | 'gone' | 'denied' | 'invalid';

/** An AWS call failed: the API, the resource, the classified kind and the service's error code. */
export class AwsCallError extends TrailguardError {
  override readonly name = 'AwsCallError';
  constructor(
    readonly api: string,
    readonly resource: string,
    readonly kind: AwsErrorKind,
    readonly code: string,
    readonly detail: string = '',
    options?: ErrorOptions,
  ) {
    super(`${api} on ${resource} failed: ${code}${detail ? ` (${detail})` : ''}`, options);
  }
}
