import type { Exemption, RuleId } from './config.js';
import type { ResourceRef } from './rule.js';

/** An exemption that applied to a resource, as the record logs it. */
export interface ExemptionMatch {
  readonly resource: string;
  readonly reason: string;
  readonly expires: string | null;
}

const ANY_CHAR = '?'.charCodeAt(0);

/** True when `pattern` matches `value` at `at`, character for character, `?` matching any one character. */
function matchesAt(pattern: string, value: string, at: number): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const want = pattern.charCodeAt(i);
    if (want !== ANY_CHAR && want !== value.charCodeAt(at + i)) return false;
  }
  return true;
}

/** The first index in [from, last] where `segment` matches, or -1. */
function findSegment(segment: string, value: string, from: number, last: number): number {
  for (let at = from; at <= last; at++) if (matchesAt(segment, value, at)) return at;
  return -1;
}

/**
 * True when the glob matches the whole value: `*` any run of characters, `?` exactly one, everything else
 * literal and case-sensitive. Greedy segment matching, never a regex: a glob such as `*a*a*a*a*a*a*a*b` made
 * the regex backtrack for a minute on a 63-character name (past the Lambda timeout). Here the first segment
 * is a prefix, the last a suffix, and each one between is matched at its leftmost place after the previous
 * (leftmost leaves the most room for the rest, so it is never wrong): O(glob × value) at worst, whatever both are.
 */
export function matchesGlob(glob: string, value: string): boolean {
  const segments = glob.split('*');
  const first = segments[0] ?? '';
  if (segments.length === 1) return glob.length === value.length && matchesAt(glob, value, 0);
  const last = segments[segments.length - 1] ?? '';
  const end = value.length - last.length;
  if (end < first.length || !matchesAt(first, value, 0) || !matchesAt(last, value, end)) return false;
  let from = first.length;
  for (const segment of segments.slice(1, -1)) {
    const at = findSegment(segment, value, from, end - segment.length);
    if (at === -1) return false;
    from = at + segment.length;
  }
  return true;
}

/**
 * The first unexpired exemption for this rule that matches the resource's id or name.
 * Config only, never resource tags: whoever can make a bucket public can usually tag it too.
 * `today` is a UTC `YYYY-MM-DD`; an exemption holds through its `expires` day.
 */
export function findExemption(exemptions: readonly Exemption[], rule: RuleId, resource: ResourceRef, today: string): ExemptionMatch | undefined {
  for (const exemption of exemptions) {
    if (exemption.rule !== '*' && exemption.rule !== rule) continue;
    if (exemption.expires !== undefined && exemption.expires < today) continue;
    const names = resource.name ? [resource.id, resource.name] : [resource.id];
    if (names.some((name) => matchesGlob(exemption.resource, name))) {
      return { resource: resource.id, reason: exemption.reason, expires: exemption.expires ?? null };
    }
  }
  return undefined;
}
