import * as v from 'valibot';
import { ParseError } from '../errors.js';
import { accountIdFrom, parseArn } from './normalize.js';

/** The `detail-type`s CloudTrail gives the events it sends to EventBridge, by CloudTrail `eventType`. */
export const CLOUDTRAIL_DETAIL_TYPES = {
  AwsApiCall: 'AWS API Call via CloudTrail',
  AwsConsoleSignIn: 'AWS Console Sign In via CloudTrail',
  AwsServiceEvent: 'AWS Service Event via CloudTrail',
  AwsConsoleAction: 'AWS Console Action via CloudTrail',
} as const;

/** Who made the call: `userIdentity`, narrowed to a union on `type` (unknown types are kept, not rejected). */
export type Actor = ActorCommon &
  (
    | { readonly type: 'IAMUser'; readonly userName: string | undefined }
    | {
        readonly type: 'AssumedRole';
        readonly roleArn: string | undefined;
        readonly roleName: string | undefined;
        readonly sessionName: string | undefined;
      }
    | { readonly type: 'Root' }
    | { readonly type: 'AWSService' }
    | { readonly type: 'FederatedUser' }
    | { readonly type: 'other'; readonly rawType: string }
  );

interface ActorCommon {
  readonly arn: string | undefined;
  readonly accountId: string | undefined;
  readonly principalId: string | undefined;
  /** Set when an AWS service made the call on the identity's behalf (`signin.amazonaws.com`, `cloudformation…`). */
  readonly invokedBy: string | undefined;
}

const optionalString = v.optional(v.string());

const RawIdentity = v.looseObject({
  type: optionalString,
  arn: optionalString,
  accountId: v.optional(v.union([v.string(), v.number()])),
  principalId: optionalString,
  userName: optionalString,
  invokedBy: optionalString,
  sessionContext: v.optional(
    v.looseObject({
      sessionIssuer: v.optional(
        v.looseObject({ type: optionalString, arn: optionalString, userName: optionalString }),
      ),
    }),
  ),
});

function toActor(raw: v.InferOutput<typeof RawIdentity> | undefined): Actor {
  const common: ActorCommon = {
    arn: raw?.arn,
    accountId: accountIdFrom(raw?.accountId),
    principalId: raw?.principalId,
    invokedBy: raw?.invokedBy,
  };
  switch (raw?.type) {
    case 'IAMUser':
      return { ...common, type: 'IAMUser', userName: raw.userName };
    case 'AssumedRole': {
      // arn: arn:aws:sts::111122223333:assumed-role/<role>/<session>; some fixtures drop the session
      // part (S/cloudtrail-StopLogging-arn-assumed-role.json), so the issuer's userName wins for the role.
      const [, roleFromArn, ...session] = (parseArn(raw.arn ?? '')?.resource ?? '').split('/');
      const issuer = raw.sessionContext?.sessionIssuer;
      return {
        ...common,
        type: 'AssumedRole',
        roleArn: issuer?.arn,
        roleName: issuer?.userName ?? (roleFromArn || undefined),
        sessionName: session.length > 0 ? session.join('/') : undefined,
      };
    }
    case 'Root':
    case 'AWSService':
    case 'FederatedUser':
      return { ...common, type: raw.type };
    default:
      return { ...common, type: 'other', rawType: raw?.type ?? 'missing' };
  }
}

/** The fields of a CloudTrail record the runner reads; everything else is kept as-is for the rules. */
const RecordSchema = v.looseObject({
  eventVersion: optionalString,
  eventTime: v.string(),
  eventSource: v.string(),
  eventName: v.string(),
  awsRegion: v.string(),
  eventID: optionalString,
  eventType: optionalString,
  sourceIPAddress: optionalString,
  userAgent: optionalString,
  userIdentity: v.optional(RawIdentity),
  requestParameters: v.optional(v.nullable(v.unknown())),
  responseElements: v.optional(v.nullable(v.unknown())),
  additionalEventData: v.optional(v.nullable(v.unknown())),
  errorCode: optionalString,
  errorMessage: v.optional(v.nullable(v.string())),
  recipientAccountId: v.optional(v.union([v.string(), v.number()])),
  readOnly: v.optional(v.boolean()),
});

const EnvelopeSchema = v.looseObject({
  id: optionalString,
  'detail-type': v.string(),
  source: v.string(),
  account: v.optional(v.union([v.string(), v.number()])),
  time: optionalString,
  region: optionalString,
  detail: RecordSchema,
});

/** A CloudTrail record after validation: the fields every rule may rely on, typed. */
export interface CloudTrailRecord {
  readonly eventVersion: string | undefined;
  readonly eventTime: string;
  readonly eventSource: string;
  readonly eventName: string;
  readonly awsRegion: string;
  readonly eventId: string | undefined;
  readonly eventType: string | undefined;
  readonly sourceIp: string | undefined;
  readonly userAgent: string | undefined;
  readonly actor: Actor;
  readonly requestParameters: unknown;
  readonly responseElements: unknown;
  readonly additionalEventData: unknown;
  readonly errorCode: string | undefined;
  readonly errorMessage: string | undefined;
  readonly recipientAccountId: string | undefined;
}

/** An EventBridge `AWS … via CloudTrail` event, validated. */
export interface CloudTrailEvent {
  readonly id: string;
  readonly detailType: string;
  readonly source: string;
  /** From the envelope, else `recipientAccountId`; never from `userIdentity.accountId` (SHAPES.md §1). */
  readonly account: string | undefined;
  readonly region: string;
  readonly time: string;
  readonly detail: CloudTrailRecord;
}

/** Formats the first schema issue as `field.path: problem`. */
export function parseWith<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  prefix: string,
  eventId: string | null,
): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = issue ? v.getDotPath(issue) : null;
  const field = path ? `${prefix}.${path}` : prefix;
  if (!issue || issue.received === 'undefined') throw new ParseError(field, 'is missing', eventId);
  const problem = issue.type === 'regex' || issue.type === 'check' ? issue.message : `expected ${issue.expected ?? 'a valid value'}, got ${issue.received}`;
  throw new ParseError(field, problem, eventId);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** True when the value looks like a bare CloudTrail record rather than an EventBridge envelope. */
export function isBareRecord(value: unknown): value is Record<string, unknown> {
  return isObject(value) && !('detail' in value) && typeof value.eventSource === 'string' && 'eventName' in value;
}

/**
 * Wraps a bare record (from a log file or LookupEvents) the way EventBridge does:
 * source `aws.<service>`, account = recipientAccountId, region = awsRegion, time = eventTime.
 */
export function wrapRecord(record: Record<string, unknown>): Record<string, unknown> {
  const eventSource = typeof record.eventSource === 'string' ? record.eventSource : '';
  const eventType = typeof record.eventType === 'string' ? record.eventType : 'AwsApiCall';
  const detailType =
    CLOUDTRAIL_DETAIL_TYPES[eventType as keyof typeof CLOUDTRAIL_DETAIL_TYPES] ?? CLOUDTRAIL_DETAIL_TYPES.AwsApiCall;
  return {
    version: '0',
    id: record.eventID,
    'detail-type': detailType,
    source: `aws.${eventSource.split('.')[0] ?? ''}`,
    account: accountIdFrom(record.recipientAccountId),
    time: record.eventTime,
    region: record.awsRegion,
    resources: [],
    detail: record,
  };
}

/** An envelope or a bare record as the envelope JSON that EventBridge would deliver. */
export function toEnvelopeJson(input: unknown): unknown {
  return isBareRecord(input) ? wrapRecord(input) : input;
}

/** Validates an envelope (as JSON) into a typed event; throws ParseError naming the field. */
export function parseEnvelope(json: unknown): CloudTrailEvent {
  const eventId = isObject(json) && typeof json.id === 'string' ? json.id : null;
  if (!isObject(json)) throw new ParseError('$', 'expected an EventBridge envelope or a CloudTrail record', eventId);
  const envelope = parseWith(EnvelopeSchema, json, '$', eventId);
  const raw = envelope.detail;
  const detail: CloudTrailRecord = {
    eventVersion: raw.eventVersion,
    eventTime: raw.eventTime,
    eventSource: raw.eventSource,
    eventName: raw.eventName,
    awsRegion: raw.awsRegion,
    eventId: raw.eventID,
    eventType: raw.eventType,
    sourceIp: raw.sourceIPAddress,
    userAgent: raw.userAgent,
    actor: toActor(raw.userIdentity),
    requestParameters: raw.requestParameters ?? undefined,
    responseElements: raw.responseElements ?? undefined,
    additionalEventData: raw.additionalEventData ?? undefined,
    errorCode: raw.errorCode,
    errorMessage: raw.errorMessage ?? undefined,
    recipientAccountId: accountIdFrom(raw.recipientAccountId),
  };
  return {
    id: envelope.id ?? raw.eventID ?? 'unknown',
    detailType: envelope['detail-type'],
    source: envelope.source,
    account: accountIdFrom(envelope.account) ?? detail.recipientAccountId,
    region: envelope.region ?? raw.awsRegion,
    time: envelope.time ?? raw.eventTime,
    detail,
  };
}

/** The label an operator searches for: the caller's ARN, else the service that acted, else its type. */
export function actorLabel(actor: Actor): string {
  if (actor.arn) return actor.arn;
  if (actor.invokedBy) return actor.invokedBy;
  return actor.type === 'other' ? `unknown (${actor.rawType})` : actor.type;
}
