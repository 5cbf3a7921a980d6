import { AwsCallError, type AwsErrorKind } from '../errors.js';

// Codes by kind. EC2 codes appear with and without the `Client.` prefix (docs/cloudtrail-shapes.md#errors); it is stripped first.
const TRANSIENT = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'SlowDown',
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalError',
  'InternalFailure',
  'InternalErrorException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'Unavailable',
  'TimeoutError',
  'RequestTimeTooSkewed',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'NetworkingError',
  'EC2ThrottledException',
  'PriorRequestNotComplete',
  // DynamoDB's throttling answers with a 400: without this, a throttled state table read as `invalid`, never retried.
  'ProvisionedThroughputExceededException',
  // The invocation's deadline passed (client-options.ts): nothing was decided, the retry has the time.
  'DeadlineExceeded',
  'AbortError',
]);
const GONE = new Set([
  'NoSuchBucket',
  'NotFound',
  'InvalidGroup.NotFound',
  'InvalidSecurityGroupRuleId.NotFound',
  'InvalidPermission.NotFound',
  'InvalidInstanceID.NotFound',
  'InvalidVolume.NotFound',
  'InvalidSnapshot.NotFound',
  'InvalidAMIID.NotFound',
  'DBSnapshotNotFound',
  'DBClusterSnapshotNotFoundFault',
  'TrailNotFoundException',
  'NoSuchEntity',
  'ResourceNotFoundException',
]);
const DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'AuthorizationError',
  'AuthFailure',
  'InvalidClientTokenId',
  'ExpiredToken',
  'ExpiredTokenException',
  'UnrecognizedClientException',
  'AllAccessDisabled',
  'OptInRequired',
  'SignatureDoesNotMatch',
]);

interface SdkErrorLike {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly Code?: unknown;
  readonly message?: unknown;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/** The service's error code for an SDK (or network) error, without EC2's `Client.`/`Server.` prefix. */
export function errorCodeOf(error: unknown): string {
  const e = (error ?? {}) as SdkErrorLike;
  const raw = [e.Code, e.code, e.name].find((value) => typeof value === 'string' && value.length > 0 && value !== 'Error');
  return typeof raw === 'string' ? raw.replace(/^(Client|Server)\./, '') : 'UnknownError';
}

/** True when the error is exactly this service code (for the few places where one code *is* the answer). */
export function hasErrorCode(error: unknown, code: string): boolean {
  return !(error instanceof AwsCallError) && errorCodeOf(error) === code;
}

function kindOf(error: unknown, code: string): AwsErrorKind {
  if (TRANSIENT.has(code)) return 'transient';
  if (GONE.has(code)) return 'gone';
  if (DENIED.has(code)) return 'denied';
  const e = (error ?? {}) as SdkErrorLike;
  const status = e.$metadata?.httpStatusCode;
  if (e.$retryable || (status !== undefined && status >= 500)) return 'transient';
  if (status === 403) return 'denied';
  if (status === 404) return 'gone';
  return 'invalid';
}

/** Classifies any error from an AWS call once; an AwsCallError passes through unchanged. */
export function classifyAwsError(error: unknown, api: string, resource: string): AwsCallError {
  if (error instanceof AwsCallError) return error;
  const code = errorCodeOf(error);
  const message = typeof (error as SdkErrorLike)?.message === 'string' ? String((error as SdkErrorLike).message) : '';
  return new AwsCallError(api, resource, kindOf(error, code), code, message.slice(0, 300), { cause: error });
}

// Refusals before any work: throttled requests are rejected whatever their status (S3's SlowDown is a 503).
const THROTTLED = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'SlowDown',
  'EC2ThrottledException',
  'ProvisionedThroughputExceededException',
]);
/** Node's codes for a connection that was never made (refused, no DNS answer, no route): the service never saw the request. */
export const NOT_SENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Whether a failed write may still have been applied: false only when the error proves it was not (a throttled
 * or other 4xx answer, or no connection made). A 5xx, a timeout, a reset or an abandoned call is ambiguous.
 */
export function mayHaveLanded(error: unknown): boolean {
  const cause = error instanceof AwsCallError ? error.cause : error;
  const code = error instanceof AwsCallError ? error.code : errorCodeOf(error);
  if (THROTTLED.has(code) || NOT_SENT_CODES.has(code)) return false;
  const status = (cause as SdkErrorLike | undefined)?.$metadata?.httpStatusCode;
  return !(status !== undefined && status >= 400 && status < 500);
}

/** Runs one AWS call and rethrows its failure classified, with the API and resource named. */
export async function awsCall<T>(api: string, resource: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw classifyAwsError(error, api, resource);
  }
}
