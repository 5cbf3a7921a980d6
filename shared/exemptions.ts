import type { Exemption, RuleId } from './config.js';
import type { ResourceRef } from './rule.js';

/** An exemption that applied to a resource, as the record logs it. */
export interface ExemptionMatch {
  readonly resource: string;
  readonly reason: string;
  readonly expires: string | null;
}

const globCache = new Map<string, RegExp>();

/** `*` matches any run of characters, `?` one; everything else is literal and case-sensitive. */
export function globToRegExp(glob: string): RegExp {
  let regexp = globCache.get(glob);
  if (!regexp) {
    const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    regexp = new RegExp(`^${body}$`, 's');
    globCache.set(glob, regexp);
  }
  return regexp;
}

/** True when the glob matches the whole value. */
export function matchesGlob(glob: string, value: string): boolean {
  return globToRegExp(glob).test(value);
}

/**
 * The first unexpired exemption for this rule that matches the resource's id or name.
 * Config only, never resource tags: whoever can make a bucket public can usually tag it too.
 * `today` is a UTC `YYYY-MM-DD`; an exemption holds through its `expires` day.
 */
export function findExemption(
  exemptions: readonly Exemption[],
  rule: RuleId,
  resource: ResourceRef,
  today: string,
): ExemptionMatch | undefined {
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
