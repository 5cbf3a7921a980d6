import { createHash } from 'node:crypto';
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
        /** Set (`1.0`, `2.0`: IMDSv1 or v2) only on credentials EC2 delivered to an instance through its profile. */
        readonly ec2RoleDelivery?: string | undefined;
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

/**
 * An optional field: absent, or `null` as Athena, CloudTrail Lake and SIEM exports write an absent field; both
 * read as undefined (an `errorCode: null` is a call that did not fail).
 */
const absentOr = <const TSchema extends v.GenericSchema>(schema: TSchema) =>
  v.pipe(
    v.nullish(schema),
    v.transform((value) => value ?? undefined),
  );

const optionalString = absentOr(v.string());
const optionalAccountId = absentOr(v.union([v.string(), v.number()]));

const RawIdentity = v.looseObject({
  type: optionalString,
  arn: optionalString,
  accountId: optionalAccountId,
  userName: optionalString,
  invokedBy: optionalString,
  sessionContext: absentOr(
    v.looseObject({
      sessionIssuer: absentOr(v.looseObject({ type: optionalString, arn: optionalString, userName: optionalString })),
      ec2RoleDelivery: optionalString,
    }),
  ),
});

function toActor(raw: v.InferOutput<typeof RawIdentity> | undefined): Actor {
  // Object literals written out rather than spread from a common part: this runs for every event of a
  // replayed log file, and the spreads were most of its cost.
  const arn = raw?.arn;
  const accountId = accountIdFrom(raw?.accountId);
  const principalId = displayText(raw?.principalId);
  const invokedBy = raw?.invokedBy;
  const type = raw?.type;
  switch (type) {
    case 'IAMUser':
      return { arn, accountId, principalId, invokedBy, type, userName: raw?.userName };
    case 'AssumedRole': {
      // arn: arn:aws:sts::111122223333:assumed-role/<role>/<session>; some fixtures drop the session
      // part (S/cloudtrail-StopLogging-arn-assumed-role.json), so the issuer's userName wins for the role.
      const resource = parseArn(arn ?? '')?.resource ?? '';
      const roleStart = resource.indexOf('/') + 1;
      const roleEnd = roleStart === 0 ? -1 : resource.indexOf('/', roleStart);
      const roleFromArn = roleStart === 0 ? undefined : resource.slice(roleStart, roleEnd === -1 ? undefined : roleEnd);
      const issuer = raw?.sessionContext?.sessionIssuer;
      return {
        arn,
        accountId,
        principalId,
        invokedBy,
        type,
        roleArn: issuer?.arn,
        roleName: issuer?.userName ?? (roleFromArn || undefined),
        sessionName: roleEnd === -1 ? undefined : resource.slice(roleEnd + 1),
        ec2RoleDelivery: raw?.sessionContext?.ec2RoleDelivery,
      };
    }
    case 'Root':
    case 'AWSService':
    case 'FederatedUser':
      return { arn, accountId, principalId, invokedBy, type };
    default:
      return { arn, accountId, principalId, invokedBy, type: 'other', rawType: type ?? 'missing' };
  }
}

/**
 * The fields of a CloudTrail record a decision or an action uses, strictly; everything else is kept as-is for
 * the rules. Fields only shown to people (`eventVersion`, `eventType`, `userAgent`, `errorMessage`) are read
 * leniently in toEvent, and fields nothing reads (`readOnly`, `managementEvent`, `eventCategory`) not at all:
 * console copies, Athena and SIEM exports give `readOnly: "false"` as a string, and such a record must still
 * be judged, not `failed`.
 */
const RecordSchema = v.looseObject({
  eventTime: v.string(),
  eventSource: v.string(),
  eventName: v.string(),
  awsRegion: v.string(),
  eventID: optionalString,
  sourceIPAddress: optionalString,
  userIdentity: absentOr(RawIdentity),
  requestParameters: v.optional(v.nullable(v.unknown())),
  responseElements: v.optional(v.nullable(v.unknown())),
  additionalEventData: v.optional(v.nullable(v.unknown())),
  errorCode: optionalString,
  recipientAccountId: optionalAccountId,
});

/** A display-only field as text: a string as is, a number written out (`eventVersion: 1.08`), anything else dropped. */
function displayText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
}

const EnvelopeSchema = v.looseObject({
  id: optionalString,
  'detail-type': v.string(),
  source: v.string(),
  account: optionalAccountId,
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
  /**
   * What signed the call, from `userIdentity.accessKeyId`'s prefix: `AKIA` a long-term access key, `ASIA`
   * temporary credentials (a console or STS session). The key id itself is never kept: it must not reach a log.
   */
  readonly signedWith?: 'long-term-key' | 'temporary-key' | undefined;
}

function signedWithOf(accessKeyId: unknown): CloudTrailRecord['signedWith'] {
  if (typeof accessKeyId !== 'string') return undefined;
  if (accessKeyId.startsWith('AKIA')) return 'long-term-key';
  return accessKeyId.startsWith('ASIA') ? 'temporary-key' : undefined;
}

/** An EventBridge `AWS … via CloudTrail` event, validated. */
export interface CloudTrailEvent {
  readonly id: string;
  readonly detailType: string;
  readonly source: string;
  /** From the envelope, else `recipientAccountId`; never from `userIdentity.accountId` (docs/cloudtrail-shapes.md#containers). */
  readonly account: string | undefined;
  readonly region: string;
  readonly time: string;
  readonly detail: CloudTrailRecord;
}

/** Formats the first schema issue as `field.path: problem`. */
export function parseWith<S extends v.GenericSchema>(schema: S, value: unknown, prefix: string, eventId: string | null): v.InferOutput<S> {
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
  const eventType = record.eventType;
  // Own properties only: `constructor` or `__proto__` would otherwise find Object's own members.
  const detailType =
    typeof eventType === 'string' && Object.hasOwn(CLOUDTRAIL_DETAIL_TYPES, eventType)
      ? CLOUDTRAIL_DETAIL_TYPES[eventType as keyof typeof CLOUDTRAIL_DETAIL_TYPES]
      : CLOUDTRAIL_DETAIL_TYPES.AwsApiCall;
  return {
    version: '0',
    id: record.eventID,
    'detail-type': detailType,
    source: `aws.${eventSource.includes('.') ? eventSource.slice(0, eventSource.indexOf('.')) : eventSource}`,
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

// A fast path for the common case, for replay of large log files: the checks below accept only values
// that EnvelopeSchema accepts, field by field, and then use the value as is (valibot's looseObject would
// copy every object it checks: per event that was a third of the replay time, in copies and GC). Anything
// else, including every invalid event, goes through valibot, so errors and their messages are unchanged.
// test/shared/events/schema.test.ts holds the two paths to the same result, field by field.
const maybeString = (value: unknown) => value === undefined || typeof value === 'string';
const maybeAccountId = (value: unknown) => value === undefined || typeof value === 'string' || (typeof value === 'number' && !Number.isNaN(value));

function identityAsIs(value: unknown): boolean {
  if (value === undefined) return true;
  if (!isObject(value)) return false;
  if (!(maybeString(value.type) && maybeString(value.arn) && maybeAccountId(value.accountId) && maybeString(value.userName) && maybeString(value.invokedBy)))
    return false;
  const session = value.sessionContext;
  if (session === undefined) return true;
  if (!isObject(session)) return false;
  const issuer = session.sessionIssuer;
  if (issuer === undefined) return true;
  return isObject(issuer) && maybeString(issuer.type) && maybeString(issuer.arn) && maybeString(issuer.userName);
}

function recordAsIs(value: unknown): boolean {
  if (!isObject(value)) return false;
  return (
    typeof value.eventTime === 'string'
    && typeof value.eventSource === 'string'
    && typeof value.eventName === 'string'
    && typeof value.awsRegion === 'string'
    && maybeString(value.eventID)
    && maybeString(value.sourceIPAddress)
    && maybeString(value.errorCode)
    && maybeAccountId(value.recipientAccountId)
    && identityAsIs(value.userIdentity)
  );
}

/** The envelope itself when it passes EnvelopeSchema's checks as it is; undefined sends it through valibot. */
function acceptedAsIs(json: Record<string, unknown>): v.InferOutput<typeof EnvelopeSchema> | undefined {
  const ok =
    maybeString(json.id)
    && typeof json['detail-type'] === 'string'
    && typeof json.source === 'string'
    && maybeAccountId(json.account)
    && maybeString(json.time)
    && maybeString(json.region)
    && recordAsIs(json.detail);
  return ok ? (json as v.InferOutput<typeof EnvelopeSchema>) : undefined;
}

/** Nesting kept as is by canonical(); deeper subtrees are hashed whole (an event is not nested this deep). */
const CANONICAL_DEPTH = 256;

/**
 * The value with every object's keys sorted, so that the same content serialises the same way; total on any value.
 * Beyond CANONICAL_DEPTH a subtree stands as deepHash() of it: a hostile 100,000-deep event must not overflow the
 * stack, and the id must not depend on how much stack a thread has (a worker's is larger than the main thread's).
 */
function canonical(value: unknown, path: Set<object>, depth = 0): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (path.has(value)) return '[circular]';
  if (depth >= CANONICAL_DEPTH) return { '[deep]': deepHash(value) };
  path.add(value);
  const entries = Array.isArray(value)
    ? value.map((item: unknown) => canonical(item, path, depth + 1))
    : Object.fromEntries(
        Object.keys(value)
          .sort()
          .map((key) => [key, canonical((value as Record<string, unknown>)[key], path, depth + 1)]),
      );
  path.delete(value);
  return entries;
}

/** A SHA-256 of a subtree, keys sorted, walked with a stack of its own (no recursion): deterministic at any depth. */
function deepHash(root: object): string {
  const hash = createHash('sha256');
  const seen = new Set<object>();
  // Each entry: a value to hash, or a Token written as it is (brackets, keys).
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const next = stack.pop();
    if (next instanceof Token) {
      hash.update(next.text);
      continue;
    }
    if (next === null || typeof next !== 'object') {
      hash.update(`${typeof next}:${typeof next === 'string' ? JSON.stringify(next) : String(next)};`);
      continue;
    }
    if (seen.has(next)) {
      hash.update('[seen];');
      continue;
    }
    seen.add(next);
    if (Array.isArray(next)) {
      hash.update('[');
      stack.push(new Token(']'));
      for (let i = next.length - 1; i >= 0; i -= 1) stack.push(next[i]);
      continue;
    }
    hash.update('{');
    stack.push(new Token('}'));
    const keys = Object.keys(next).sort();
    for (let i = keys.length - 1; i >= 0; i -= 1) {
      const key = keys[i] as string;
      stack.push((next as Record<string, unknown>)[key], new Token(`${JSON.stringify(key)}:`));
    }
  }
  return hash.digest('hex');
}

class Token {
  constructor(readonly text: string) {}
}

/**
 * An id for an event that carries none (no envelope `id`, no `eventID`: hand-made or trimmed exports): the
 * SHA-256 of its canonical JSON. Two different id-less events never share an idempotency key (one bucket's event
 * would be ignored as a duplicate of another's), while a redelivery of the same event still gets the same one.
 */
export function contentEventId(value: unknown): string {
  const json = JSON.stringify(canonical(value, new Set())) ?? String(value);
  return `content-sha256-${createHash('sha256').update(json).digest('hex').slice(0, 32)}`;
}

/** Validates an envelope (as JSON) into a typed event; throws ParseError naming the field. */
export function parseEnvelope(json: unknown): CloudTrailEvent {
  return toEvent(json, true);
}

/** parseEnvelope without the fast path: valibot checks everything (tests hold both to the same result). */
export function parseEnvelopeBySchema(json: unknown): CloudTrailEvent {
  return toEvent(json, false);
}

function toEvent(json: unknown, fastPath: boolean): CloudTrailEvent {
  const eventId = isObject(json) && typeof json.id === 'string' ? json.id : null;
  if (!isObject(json)) throw new ParseError('$', 'expected an EventBridge envelope or a CloudTrail record', eventId);
  const envelope = (fastPath ? acceptedAsIs(json) : undefined) ?? parseWith(EnvelopeSchema, json, '$', eventId);
  const raw = envelope.detail;
  const detail: CloudTrailRecord = {
    eventVersion: displayText(raw.eventVersion),
    eventTime: raw.eventTime,
    eventSource: raw.eventSource,
    eventName: raw.eventName,
    awsRegion: raw.awsRegion,
    // An empty id is no id: two records with `eventID: ""` must not share an idempotency key.
    eventId: raw.eventID || undefined,
    eventType: displayText(raw.eventType),
    sourceIp: raw.sourceIPAddress,
    userAgent: displayText(raw.userAgent),
    actor: toActor(raw.userIdentity),
    requestParameters: raw.requestParameters ?? undefined,
    responseElements: raw.responseElements ?? undefined,
    additionalEventData: raw.additionalEventData ?? undefined,
    errorCode: raw.errorCode,
    errorMessage: displayText(raw.errorMessage),
    recipientAccountId: accountIdFrom(raw.recipientAccountId),
    signedWith: signedWithOf(raw.userIdentity?.accessKeyId),
  };
  return {
    id: envelope.id || raw.eventID || contentEventId(json),
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
