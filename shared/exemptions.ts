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
  return matchesSegments(glob.split('*'), value);
}

/** matchesGlob over a glob already split at its `*`s (an exemption's, split once per configuration). */
function matchesSegments(segments: readonly string[], value: string): boolean {
  const first = segments[0] ?? '';
  if (segments.length === 1) return first.length === value.length && matchesAt(first, value, 0);
  const last = segments[segments.length - 1] ?? '';
  const end = value.length - last.length;
  if (end < first.length || !matchesAt(first, value, 0) || !matchesAt(last, value, end)) return false;
  let from = first.length;
  for (let i = 1; i < segments.length - 1; i++) {
    const segment = segments[i] ?? '';
    const at = findSegment(segment, value, from, end - segment.length);
    if (at === -1) return false;
    from = at + segment.length;
  }
  return true;
}

/** An exemption with its glob split once. */
interface CompiledExemption {
  readonly exemption: Exemption;
  readonly segments: readonly string[];
}

// Each configuration's exemptions by rule, made once per exemptions array (a container keeps one per cache period):
// a rule then scans only its own and the `*` ones, in their configured order.
const byRule = new WeakMap<readonly Exemption[], Map<RuleId, readonly CompiledExemption[]>>();

/** The exemptions that can apply to `rule`, in configured order (the first match wins). */
function exemptionsFor(exemptions: readonly Exemption[], rule: RuleId): readonly CompiledExemption[] {
  let index = byRule.get(exemptions);
  if (!index) {
    index = new Map();
    byRule.set(exemptions, index);
  }
  let own = index.get(rule);
  if (!own) {
    own = exemptions
      .filter((exemption) => exemption.rule === '*' || exemption.rule === rule)
      .map((exemption) => ({ exemption, segments: exemption.resource.split('*') }));
    index.set(rule, own);
  }
  return own;
}

/**
 * The first unexpired exemption for this rule that matches the resource's id or name.
 * Config only, never resource tags: whoever can make a bucket public can usually tag it too.
 * `today` is a UTC `YYYY-MM-DD`; an exemption holds through its `expires` day.
 */
export function findExemption(exemptions: readonly Exemption[], rule: RuleId, resource: ResourceRef, today: string): ExemptionMatch | undefined {
  const name = resource.name;
  for (const { exemption, segments } of exemptionsFor(exemptions, rule)) {
    if (exemption.expires !== undefined && exemption.expires < today) continue;
    if (matchesSegments(segments, resource.id) || (name && matchesSegments(segments, name))) {
      return { resource: resource.id, reason: exemption.reason, expires: exemption.expires ?? null };
    }
  }
  return undefined;
}
