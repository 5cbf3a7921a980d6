/**
 * The request of a PutBucketLifecycle record, read once: the bucket, each logged rule as an ExpiryRule, and the same
 * rules in the SDK's shape (what an offline plan keeps). CloudTrail logs the XML: `Rule` is one object for one rule,
 * a list for several, and counts may be digit strings (docs/cloudtrail-shapes.md#s3-requests).
 */
import type { LifecycleRule } from '@aws-sdk/client-s3';
import * as v from 'valibot';
import { expiryRuleOf, type ExpiryRule } from '../../shared/actions/s3-bucket-lifecycle.js';
import { isBucketName } from '../../shared/aws/names.js';
import { ParseError } from '../../shared/errors.js';
import { asList, bucketNameFrom } from '../../shared/events/normalize.js';

export interface LifecycleRequest {
  readonly bucket: string;
  readonly rules: readonly ExpiryRule[];
  readonly requestRules: readonly LifecycleRule[];
}

const Request = v.looseObject({
  bucketName: v.pipe(v.string(), v.transform(bucketNameFrom), v.check(isBucketName, 'a valid S3 bucket name')),
  LifecycleConfiguration: v.looseObject({ Rule: v.unknown() }),
});

const field = (path: string) => `detail.requestParameters.LifecycleConfiguration.${path}`;

/** A count logged as a number or as digits; anything else is refused, naming the field. */
function days(value: unknown, path: string, eventId: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'string' && /^\d{1,6}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new ParseError(field(path), 'expected a whole number of days', eventId);
  return n;
}

/** One logged rule (an object; numbers as numbers or text) as an ExpiryRule. */
function ruleOf(raw: unknown, at: string, index: number, eventId: string): ExpiryRule {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ParseError(field(at), 'expected a lifecycle rule object', eventId);
  const rule = raw as Record<string, unknown>;
  const status = rule.Status;
  if (status !== 'Enabled' && status !== 'Disabled') throw new ParseError(field(`${at}.Status`), 'expected Enabled or Disabled', eventId);
  const expiration = (rule.Expiration ?? {}) as Record<string, unknown>;
  const noncurrent = (rule.NoncurrentVersionExpiration ?? {}) as Record<string, unknown>;
  const expirationDays = days(expiration.Days, `${at}.Expiration.Days`, eventId);
  const noncurrentDays = days(noncurrent.NoncurrentDays, `${at}.NoncurrentVersionExpiration.NoncurrentDays`, eventId);
  let expirationDateMs: number | undefined;
  if (expiration.Date !== undefined) {
    expirationDateMs = typeof expiration.Date === 'string' ? Date.parse(expiration.Date) : Number.NaN;
    if (Number.isNaN(expirationDateMs)) throw new ParseError(field(`${at}.Expiration.Date`), 'expected an ISO date', eventId);
  }
  const sdkShaped = { ID: typeof rule.ID === 'string' ? rule.ID : undefined, Status: status, Prefix: rule.Prefix, Filter: rule.Filter } as LifecycleRule;
  const base = expiryRuleOf(sdkShaped, index);
  return {
    ...base,
    ...(expirationDays !== undefined ? { expirationDays } : {}),
    ...(expirationDateMs !== undefined ? { expirationDateMs } : {}),
    ...(noncurrentDays !== undefined ? { noncurrentDays } : {}),
  };
}

const numeric = (value: unknown) => (typeof value === 'string' && /^\d{1,12}$/.test(value) ? Number(value) : value);
/** An object's numeric text as numbers (CloudTrail may log them so), one level deep. */
const withNumbers = (value: unknown) =>
  typeof value === 'object' && value !== null ? Object.fromEntries(Object.entries(value).map(([k, x]) => [k, numeric(x)])) : value;

/**
 * A logged rule in the SDK's shape, for the offline plan (the request's own rules less the short ones): CloudTrail
 * logs the XML, so lists are singular elements (`Transition`, `Tag`), one object when there is one.
 */
function requestRule(raw: Record<string, unknown>, rule: ExpiryRule): LifecycleRule {
  const filter = raw.Filter as ({ And?: Record<string, unknown> } & Record<string, unknown>) | undefined;
  const and = filter?.And ? { And: { ...(withNumbers(filter.And) as object), ...(filter.And.Tag !== undefined ? { Tags: asList(filter.And.Tag) } : {}) } } : {};
  const { Tag: _tag, ...andRest } = (and.And ?? {}) as Record<string, unknown>;
  const some = (key: string, value: unknown) => (value === undefined ? {} : { [key]: value });
  return {
    ID: rule.id,
    Status: rule.enabled ? 'Enabled' : 'Disabled',
    ...(filter ? { Filter: { ...(withNumbers(filter) as object), ...(filter.And ? { And: andRest } : {}) } } : some('Prefix', raw.Prefix)),
    ...some('Expiration', raw.Expiration === undefined ? undefined : withNumbers(raw.Expiration)),
    ...some('NoncurrentVersionExpiration', raw.NoncurrentVersionExpiration === undefined ? undefined : withNumbers(raw.NoncurrentVersionExpiration)),
    ...some('Transitions', raw.Transition === undefined ? undefined : asList(raw.Transition).map(withNumbers)),
    ...some(
      'NoncurrentVersionTransitions',
      raw.NoncurrentVersionTransition === undefined ? undefined : asList(raw.NoncurrentVersionTransition).map(withNumbers),
    ),
    ...some('AbortIncompleteMultipartUpload', raw.AbortIncompleteMultipartUpload === undefined ? undefined : withNumbers(raw.AbortIncompleteMultipartUpload)),
  } as LifecycleRule;
}

/** Reads the request; throws a ParseError naming the field when it is not a lifecycle configuration. */
export function lifecycleRequestOf(requestParameters: unknown, eventId: string): LifecycleRequest {
  const result = v.safeParse(Request, requestParameters);
  if (!result.success) {
    const path = result.issues[0] ? v.getDotPath(result.issues[0]) : null;
    throw new ParseError(`detail.requestParameters${path ? `.${path}` : ''}`, result.issues[0]?.message ?? 'invalid', eventId);
  }
  const { bucketName: bucket, LifecycleConfiguration } = result.output;
  const many = Array.isArray(LifecycleConfiguration.Rule);
  const raws = asList(LifecycleConfiguration.Rule as unknown);
  const rules = raws.map((raw, i) => ruleOf(raw, many ? `Rule[${i}]` : 'Rule', i, eventId));
  if (rules.length === 0) throw new ParseError(field('Rule'), 'is missing', eventId);
  return { bucket, rules, requestRules: rules.map((rule, i) => requestRule(raws[i] as Record<string, unknown>, rule)) };
}
