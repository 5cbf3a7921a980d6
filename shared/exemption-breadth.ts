/**
 * When an exemption is broad: `trailguard exempt add` refuses one without `--broad`, and the config-store-change
 * alert raises a stored one to HIGH (a write straight to Parameter Store skips the CLI's refusal). One judgement for both.
 */
import type { RuleId } from './config.js';

/** A glob with fewer literal characters than this matches most resources of a kind: `*`, `*-*`, `b?*`. */
export const BROAD_LITERALS = 4;

/** Why a glob is broad, or undefined: the security team must see such an exemption before it is added. */
export function broadness(rule: RuleId | '*', glob: string): string | undefined {
  const literals = glob.replace(/[*?]/g, '').length;
  if (literals < BROAD_LITERALS && glob.includes('*')) {
    return `"${glob}" has ${literals === 0 ? 'no' : `only ${literals}`} literal character${literals === 1 ? '' : 's'}: it matches nearly every resource${rule === '*' ? ' of every rule' : ` the ${rule} rule protects`}`;
  }
  if (rule === '*' && /[*?]/.test(glob)) return `rule * with a glob: every resource matching "${glob}" is exempt from every rule, remediation and alerts alike`;
  return undefined;
}
