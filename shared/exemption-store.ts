/**
 * The exemptions in SSM Parameter Store as `trailguard exempt`, `trailguard undo` and the weekly expiry notice read
 * them, with @aws-sdk/client-ssm (never in a rule function's bundle: they use shared/live-config/ssm-reader.ts).
 * The names and the schema are shared/live-config/layout.ts's; every value read is attacker-controlled text until
 * the schema accepts it, and one it refuses is reported by its problem, never shown raw.
 */
import { DescribeParametersCommand, GetParametersByPathCommand, type Parameter, type SSMClient } from '@aws-sdk/client-ssm';
import * as v from 'valibot';
import { awsCall } from './aws/errors.js';
import type { Exemption, RuleId } from './config.js';
import { exemptionsRoot, ruleOfExemptionParameter, StoredExemption, toExemption } from './live-config/layout.js';
import { rejectionProblem } from './live-config/rejection.js';

const DAY_MS = 86_400_000;

/** The UTC day of an epoch-ms time, `YYYY-MM-DD`. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** One exemption as `list` shows it: from the store (valid or not) or from the deploy-time configuration. */
export interface ListedExemption {
  readonly source: 'store' | 'deploy';
  /** The rule, or undefined when a store parameter sits in a folder no rule has. */
  readonly rule: RuleId | '*' | undefined;
  /** The store's parameter name; undefined for a deploy-time one. */
  readonly parameter: string | undefined;
  /** The parsed value; undefined when it is INVALID. */
  readonly exemption: StoredExemption | undefined;
  /** Why the value is INVALID (the schema's words, never the raw value). */
  readonly problem: string | undefined;
  /** The parameter's version and when it was last written (epoch ms), as the store says; undefined for a deploy-time one. */
  readonly version?: number | undefined;
  readonly lastModified?: number | undefined;
}

/** Why a parameter nested deeper than one name below its folder is INVALID: the functions read each folder non-recursively. */
export const NESTED_PROBLEM = 'nested below its folder: not read by the functions (they read only names directly in the folder)';

/** Every parameter under a path, following NextToken. */
export async function parametersUnder(ssm: SSMClient, path: string, recursive: boolean): Promise<Parameter[]> {
  const found: Parameter[] = [];
  let token: string | undefined;
  do {
    const page = await awsCall('SSM.GetParametersByPath', path, () =>
      ssm.send(
        new GetParametersByPathCommand({
          Path: path,
          Recursive: recursive,
          MaxResults: 10,
          ...(token ? { NextToken: token } : {}),
        }),
      ),
    );
    found.push(...(page.Parameters ?? []));
    token = page.NextToken;
  } while (token);
  return found;
}

/** A store parameter parsed: its rule from its folder, its value through the schema. */
export function parseStored(prefix: string, parameter: Parameter): ListedExemption {
  const name = parameter.Name ?? '';
  const rule = ruleOfExemptionParameter(prefix, name);
  const meta = { version: parameter.Version, lastModified: parameter.LastModifiedDate?.getTime() };
  const invalid = (problem: string): ListedExemption => ({ source: 'store', rule, parameter: name, exemption: undefined, problem, ...meta });
  if (!rule) return invalid('its folder names no rule of this version of trailguard');
  // `<root>/<folder>/<key>`: anything deeper is never read by a function, so it exempts nothing.
  if (name.slice(exemptionsRoot(prefix).length + 1).split('/').length !== 2) return invalid(NESTED_PROBLEM);
  let raw: unknown;
  try {
    raw = JSON.parse(parameter.Value ?? '');
  } catch {
    return invalid('the value is not JSON');
  }
  const parsed = v.safeParse(StoredExemption, raw);
  // rejectionProblem, not valibot's message: that quotes the received value, which is the writer's text.
  if (!parsed.success) return invalid(rejectionProblem(parsed.issues[0]));
  return { source: 'store', rule, parameter: name, exemption: parsed.output, problem: undefined, ...meta };
}

/** Every exemption in the store (recursively under `<prefix>/exemptions`), valid or not. */
export async function storedExemptions(ssm: SSMClient, prefix: string): Promise<ListedExemption[]> {
  return (await parametersUnder(ssm, exemptionsRoot(prefix), true)).map((p) => parseStored(prefix, p));
}

/**
 * Who last wrote each parameter under `<prefix>/exemptions` (DescribeParameters' LastModifiedUser: IAM's word, unlike
 * the value's self-declared `addedBy`), by name. Needs ssm:DescribeParameters, which IAM grants on `*` only.
 */
export async function lastModifiers(ssm: SSMClient, prefix: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await awsCall('SSM.DescribeParameters', exemptionsRoot(prefix), () =>
      ssm.send(
        new DescribeParametersCommand({
          ParameterFilters: [{ Key: 'Path', Option: 'Recursive', Values: [exemptionsRoot(prefix)] }],
          MaxResults: 50,
          ...(token ? { NextToken: token } : {}),
        }),
      ),
    );
    for (const p of page.Parameters ?? []) if (p.Name && p.LastModifiedUser) found.set(p.Name, p.LastModifiedUser);
    token = page.NextToken;
  } while (token);
  return found;
}

/** The config exemption of a valid store entry, with the rule its folder names. */
export const exemptionOf = (listed: ListedExemption): Exemption | undefined =>
  listed.exemption && listed.rule ? toExemption(listed.rule, listed.exemption) : undefined;

/** active (no expiry), expires today / in N days, or EXPIRED: from `expires` and the UTC day. */
export function statusOf(expires: string | undefined, today: string): { readonly text: string; readonly expired: boolean; readonly days: number | undefined } {
  if (expires === undefined) return { text: 'active', expired: false, days: undefined };
  const days = Math.round((Date.parse(`${expires}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`)) / DAY_MS);
  if (Number.isNaN(days)) return { text: 'INVALID', expired: false, days: undefined };
  if (days < 0) return { text: 'EXPIRED', expired: true, days };
  return { text: days === 0 ? 'expires today' : `expires in ${days} day${days === 1 ? '' : 's'}`, expired: false, days };
}
