/**
 * Where the live configuration lives in SSM Parameter Store, and the shape of what is stored there: the one place
 * that knows a parameter's name. The Lambda reader, `trailguard exempt` and the weekly expiry notice all use it.
 *
 *   <prefix>/rules                               rule settings: JSON of `rules` (the stack creates it, `{}`)
 *   <prefix>/exemptions/<rule | all>/<key>       one exemption per parameter: JSON of StoredExemption
 *
 * One exemption per parameter, not one list: SSM has no compare-and-swap, so two operators editing one list would
 * lose a change; here `exempt add` creates (PutParameter without Overwrite) and `exempt remove` deletes exactly one
 * parameter. Each rule's functions read only their rule's folder and `all`, and may read nothing else.
 */
import { createHash } from 'node:crypto';
import * as v from 'valibot';
import { ExpiryDay, RULE_IDS, type Exemption, type RuleId } from '../config.js';

/** The prefix's shape: `/trailguard/<stage>` by default (stack output ParameterPrefix). Defined in config.ts, whose schema uses it. */
export { PARAMETER_PREFIX } from '../config.js';

/** The folder of exemptions that hold for every rule (`rule: '*'`). */
export const ALL_RULES_FOLDER = 'all';

/** The rule-settings parameter. */
export const rulesParameter = (prefix: string): string => `${prefix}/rules`;

/** The folder holding every exemption: the weekly notice and `exempt list` read it recursively. */
export const exemptionsRoot = (prefix: string): string => `${prefix}/exemptions`;

/** The folder of one rule's exemptions (`*` is the `all` folder). */
export const exemptionFolder = (prefix: string, rule: RuleId | '*'): string => `${exemptionsRoot(prefix)}/${rule === '*' ? ALL_RULES_FOLDER : rule}`;

/** The folders a rule's functions read: its own and `all`. */
export const exemptionFoldersOf = (prefix: string, rule: RuleId): readonly [string, string] => [exemptionFolder(prefix, rule), exemptionFolder(prefix, '*')];

/**
 * An exemption's parameter name: its folder, then the resource glob made name-safe (SSM allows `a-zA-Z0-9_.-`;
 * `*` and `?` become `_`), then 8 hex of the glob's SHA-256, so two globs that read alike never share a name and
 * the same glob always lands on the same parameter (adding it twice is a conflict, not a duplicate).
 */
export function exemptionParameter(prefix: string, rule: RuleId | '*', resource: string): string {
  const readable = resource.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 200);
  const digest = createHash('sha256').update(resource).digest('hex').slice(0, 8);
  return `${exemptionFolder(prefix, rule)}/${readable}-${digest}`;
}

/** The rule an exemption parameter's folder names, or undefined when the name is not under `<prefix>/exemptions/`. */
export function ruleOfExemptionParameter(prefix: string, name: string): RuleId | '*' | undefined {
  const rest = name.startsWith(`${exemptionsRoot(prefix)}/`) ? name.slice(exemptionsRoot(prefix).length + 1) : undefined;
  const folder = rest?.split('/')[0];
  if (folder === ALL_RULES_FOLDER) return '*';
  return (RULE_IDS as readonly string[]).includes(folder ?? '') ? (folder as RuleId) : undefined;
}

/** One exemption parameter's value. The rule is its folder, never a field: a value cannot move itself to another rule. */
export const StoredExemption = v.strictObject({
  /** A resource id or name, `*` and `?` globs allowed, as in config `exemptions[].resource`. */
  resource: v.pipe(v.string(), v.minLength(1), v.maxLength(1024)),
  reason: v.pipe(v.string(), v.minLength(1), v.maxLength(1024)),
  /** Last day (UTC, inclusive) it holds; absent means no expiry. */
  expires: v.optional(ExpiryDay),
  /** Who added it (the caller's ARN, from STS), for `exempt list`; informational. */
  addedBy: v.optional(v.pipe(v.string(), v.maxLength(2048))),
  /** When it was added (ISO 8601); informational. */
  addedAt: v.optional(v.pipe(v.string(), v.maxLength(64))),
});
export type StoredExemption = v.InferOutput<typeof StoredExemption>;

/** The config exemption a stored one becomes, with the rule its folder names. */
export const toExemption = (rule: RuleId | '*', stored: StoredExemption): Exemption => ({
  rule,
  resource: stored.resource,
  reason: stored.reason,
  ...(stored.expires === undefined ? {} : { expires: stored.expires }),
});
