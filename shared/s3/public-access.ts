import { asList } from '../events/normalize.js';
import { cidrShape } from '../net/cidr.js';

/** The four Block Public Access settings; a missing key counts as false, as S3 treats it. */
export interface PublicAccessBlock {
  readonly BlockPublicAcls: boolean;
  readonly IgnorePublicAcls: boolean;
  readonly BlockPublicPolicy: boolean;
  readonly RestrictPublicBuckets: boolean;
}

/** All four settings on: the only configuration trailguard writes. */
export const ALL_BLOCKED: PublicAccessBlock = {
  BlockPublicAcls: true,
  IgnorePublicAcls: true,
  BlockPublicPolicy: true,
  RestrictPublicBuckets: true,
} as const;

const SETTINGS = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'] as const;

/** Reads the four flags from a request or a GetPublicAccessBlock answer (booleans, or "true"/"false" strings). */
export function toPublicAccessBlock(raw: unknown): PublicAccessBlock {
  const source = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const flag = (name: string) => source[name] === true || source[name] === 'true';
  return {
    BlockPublicAcls: flag('BlockPublicAcls'),
    IgnorePublicAcls: flag('IgnorePublicAcls'),
    BlockPublicPolicy: flag('BlockPublicPolicy'),
    RestrictPublicBuckets: flag('RestrictPublicBuckets'),
  };
}

/** The settings that are off, by name (empty when all four are on). */
export function disabledSettings(block: PublicAccessBlock | null): readonly string[] {
  return block ? SETTINGS.filter((name) => !block[name]) : [...SETTINGS];
}

/** Canned ACLs that open a bucket (authenticated-read means any AWS account, which is public too). */
export const PUBLIC_CANNED_ACLS: ReadonlySet<string> = new Set(['public-read', 'public-read-write', 'authenticated-read']);

const PUBLIC_GROUP = /\/groups\/global\/(AllUsers|AuthenticatedUsers)$/;

/** `AllUsers` or `AuthenticatedUsers` when the grantee URI is one of the public groups (LogDelivery is not). */
export function publicGroupOf(uri: unknown): string | undefined {
  return typeof uri === 'string' ? PUBLIC_GROUP.exec(uri)?.[1] : undefined;
}

/** `x-amz-grant-*` header values name grantees as `uri="http://acs.amazonaws.com/groups/global/AllUsers"`. */
export function publicGroupsInGrantHeader(value: string): readonly string[] {
  return [...value.matchAll(/uri\s*=\s*"?([^",\s]+)"?/gi)].map((match) => publicGroupOf(match[1])).filter((group): group is string => group !== undefined);
}

// Condition keys that pin a request to known callers or networks; as S3 judges "public", a statement
// conditioned on one of these (with a positive operator and a non-wildcard value) is not public.
const RESTRICTING_KEYS = new Set([
  'aws:sourceip',
  'aws:sourcevpc',
  'aws:sourcevpce',
  'aws:sourcearn',
  'aws:sourceaccount',
  'aws:sourceowner',
  'aws:principalaccount',
  'aws:principalarn',
  'aws:principalorgid',
  'aws:principalorgpaths',
  'aws:userid',
  'aws:username',
  'aws:principalservicename',
  's3:dataaccesspointaccount',
  's3:dataaccesspointarn',
]);

/**
 * Whether one condition value narrows who may call: not a wildcard (`arn:aws:iam::*:role/*`, `*1` match
 * anyone) and not a source range wide enough to be most of the internet (`0.0.0.0/1` twice is the world).
 * Offline only: dry-run and live ask S3 itself (GetBucketPolicyStatus).
 */
function pinsTheCaller(value: string): boolean {
  if (/[*?]/.test(value)) return false;
  const range = cidrShape(value);
  return range === undefined || range.prefix >= (range.family === 6 ? 32 : 8);
}

function isRestrictingCondition(condition: unknown): boolean {
  if (!condition || typeof condition !== 'object') return false;
  return Object.entries(condition as Record<string, unknown>).some(([operator, clauses]) => {
    // Negated operators, IfExists (absent key passes) and Null do not pin the caller.
    if (/Not|IfExists$|^Null$|^Bool$/.test(operator) || !clauses || typeof clauses !== 'object') return false;
    return Object.entries(clauses as Record<string, unknown>).some(([key, values]) => {
      if (!RESTRICTING_KEYS.has(key.toLowerCase())) return false;
      const list = asList(values as unknown).map(String);
      return list.length > 0 && list.every(pinsTheCaller);
    });
  });
}

function isEveryone(principal: unknown): boolean {
  if (principal === '*') return true;
  if (!principal || typeof principal !== 'object') return false;
  const { AWS: aws, CanonicalUser: canonical } = principal as { AWS?: unknown; CanonicalUser?: unknown };
  return [...asList(aws), ...asList(canonical)].some((value) => value === '*');
}

/**
 * The statements of a bucket policy that grant access to everyone: Allow with `Principal: "*"` (or
 * `{"AWS": "*"}`), or Allow with `NotPrincipal`, and no restricting condition. Returns their Sids
 * (or their index) for the record. `Statement` may be one object or a list.
 */
export function publicStatements(policy: unknown): readonly string[] {
  const statements = asList((policy as { Statement?: unknown } | null)?.Statement as unknown);
  return statements.flatMap((statement, index) => {
    if (!isPublicStatement(statement)) return [];
    const sid = (statement as { Sid?: unknown }).Sid;
    return [typeof sid === 'string' && sid ? sid : `#${index}`];
  });
}

/** One statement of a bucket policy that grants everyone (see publicStatements): public-bucket's, never outside-bucket-policy's. */
export function isPublicStatement(statement: unknown): boolean {
  if (!statement || typeof statement !== 'object') return false;
  const s = statement as { Effect?: unknown; Principal?: unknown; NotPrincipal?: unknown; Condition?: unknown };
  if (s.Effect !== 'Allow') return false;
  const everyone = isEveryone(s.Principal) || s.NotPrincipal !== undefined;
  return everyone && !isRestrictingCondition(s.Condition);
}
