/**
 * Small named normalizers for the messy shapes of real CloudTrail records. Each says which sample
 * (in ../shared/cloudtrail-samples/, summarised in docs/cloudtrail-shapes.md) shows the shape it handles.
 */

/** A value that is a list, one object, or absent, as a list (S3 XML collapses one-element lists). */
export function asList<T>(value: T | readonly T[] | null | undefined): readonly T[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

/**
 * The elements of an EC2 query-API list: `{items: [...]}`, `{}` when empty, or missing
 * (S/ec2-AuthorizeSecurityGroupIngress-all-protocols-rfc1918-envelope.json has no `ipv6Ranges`).
 */
export function ec2Items(value: unknown): readonly unknown[] {
  if (value === null || typeof value !== 'object') return [];
  const items = (value as { items?: unknown }).items;
  return asList(items as unknown);
}

/**
 * A header or query flag that arrives as a one-element list (`"x-amz-acl": ["private"]`) in older
 * records and as a plain string in newer ones (S/s3-DeleteBucketPublicAccessBlock-assumed-role.json).
 */
export function firstString(value: unknown): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

/** The parts of an ARN, split on ':' (partitions differ: aws, aws-us-gov, aws-cn). */
export interface ArnParts {
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly account: string;
  readonly resource: string;
}

/** Parses an ARN, or returns undefined for anything that is not one. */
export function parseArn(value: string): ArnParts | undefined {
  if (!value.startsWith('arn:')) return undefined;
  const parts = value.split(':');
  if (parts.length < 6) return undefined;
  const [, partition, service, region, account, ...rest] = parts as [string, string, string, string, string, ...string[]];
  return { partition, service, region, account, resource: rest.join(':') };
}

/** A bucket named plainly or by ARN (`arn:aws:s3:::name`). */
export function bucketNameFrom(value: string): string {
  const arn = parseArn(value);
  return arn && arn.service === 's3' ? (arn.resource.split('/')[0] ?? arn.resource) : value;
}

/** Account ids come as strings and, in some envelopes, numbers (S/s3-PutBucketAcl-allusers-grant-list-envelope.json). */
export function accountIdFrom(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * Event times are ISO (`…Z`) but Panther exports use `2024-12-16 18:41:07.000000000`
 * (S/ec2-RunInstances-autoscaling-eks-nodegroup.json). Returns epoch ms, or undefined.
 */
export function eventTimeMs(value: string): number | undefined {
  const direct = Date.parse(value);
  if (!Number.isNaN(direct)) return direct;
  const panther = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?$/.exec(value);
  if (!panther) return undefined;
  const ms = Date.parse(`${panther[1]}T${panther[2]}${(panther[3] ?? '').slice(0, 4)}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** No CloudTrail record can be older: AWS's first public API (S3) opened in March 2006. */
export const EARLIEST_EVENT_TIME_MS = Date.UTC(2006, 0, 1);

/** How far an event time may lie ahead of our clock (clock skew) and still be believed. */
export const EVENT_TIME_SKEW_MS = 5 * 60_000;

/**
 * The event time in epoch ms when it is plausible at `nowMs`, else why it is not: unreadable, before 2006, or
 * in the future beyond the skew: a 1970 time must not become a 56-year exposure window.
 */
export function plausibleEventTimeMs(value: string, nowMs: number): { readonly ms: number } | { readonly implausible: string } {
  const ms = eventTimeMs(value);
  if (ms === undefined) return { implausible: 'the event time is unreadable' };
  if (ms < EARLIEST_EVENT_TIME_MS) return { implausible: 'the event time is before 2006, older than any AWS API' };
  if (ms > nowMs + EVENT_TIME_SKEW_MS) return { implausible: `the event time is more than ${EVENT_TIME_SKEW_MS / 60_000} min in the future` };
  return { ms };
}
