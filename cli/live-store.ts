/**
 * The live configuration as the CLI's rule-running commands see it (replay dry-run/live, redrive, sweep, undo): when
 * `parameterPrefix` is set, the store's rules and exemptions merged into the loaded config exactly as the functions
 * merge them, by the functions' own code (shared/live-config/live-config.ts: env exemptions then the store's, each
 * TRAILGUARD_RULES rule replacing its stored settings wholesale, a rejected value handled as there). Without it a live
 * redrive would act on every resource the store exempts. The reads go through @aws-sdk/client-ssm with the operator's
 * credentials, each folder read non-recursively like the functions read it, so a nested name is never loaded.
 */
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { baseClientConfig } from '../shared/aws/client-options.js';
import { awsCall, classifyAwsError } from '../shared/aws/errors.js';
import { type Config, type Exemption, type Mode, RULE_IDS, type RuleId, ruleOverridesOf } from '../shared/config.js';
import { ConfigError } from '../shared/errors.js';
import { parametersUnder } from '../shared/exemption-store.js';
import { exemptionFoldersOf, rulesParameter } from '../shared/live-config/layout.js';
import { liveConfigSource } from '../shared/live-config/live-config.js';
import type { ParameterReader, StoredParameter } from '../shared/live-config/ssm-reader.js';
import { terminalValue } from '../shared/safe-text.js';

type Env = Readonly<Record<string, string | undefined>>;

/** One parameter the load read, with when it was last written (epoch ms; undefined when the store did not say). */
export interface ReadParameter extends StoredParameter {
  readonly lastModified: number | undefined;
}

/** The configuration a command runs with, and what of the store went into it. */
export interface LoadedConfig {
  readonly config: Config;
  /** True when the store was read and merged; false: the loaded config alone (no prefix, offline, or a dry-run that could not read it). */
  readonly fromStore: boolean;
  /** Every exemption parameter read, by name (undo asks when each was written). */
  readonly parameters: ReadonlyMap<string, ReadParameter>;
}

export interface LoadOptions {
  readonly config: Config;
  /** offline reads nothing; live refuses (ConfigError) when the store cannot be read; dry-run warns and goes on. */
  readonly mode: Mode;
  /** The rules whose loaded settings replace the stored ones wholesale (TRAILGUARD_RULES' keys, or --config's `rules`). */
  readonly ruleOverrides: readonly RuleId[];
  /** Where warnings go (a rejected stored value, an unreadable store in dry-run). */
  readonly err: (text: string) => void;
  /** @default an SSMClient in config.region (or `region`) with the operator's credentials */
  readonly ssm?: SSMClient;
  readonly region?: string | undefined;
  readonly now?: () => number;
}

/** The rules a command's loaded config overrides: --config FILE's `rules` keys, else TRAILGUARD_RULES' (as the functions take them). */
export function cliRuleOverrides(raw: unknown, env: Env): readonly RuleId[] {
  if (raw === undefined) return ruleOverridesOf(env);
  const rules = raw && typeof raw === 'object' ? (raw as { rules?: unknown }).rules : undefined;
  return rules && typeof rules === 'object' ? RULE_IDS.filter((id) => Object.hasOwn(rules, id)) : [];
}

/** The store's rules parameter is absent: not this stack's store. */
class StoreNotFound extends Error {
  constructor(readonly parameter: string) {
    super(`${parameter} not found`);
  }
}

/** A ParameterReader on the SDK client that remembers what it read (with LastModifiedDate), each answer read once per load. */
function recordingReader(ssm: SSMClient, read: Map<string, ReadParameter>): ParameterReader {
  const answers = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, call: () => Promise<T>): Promise<T> => {
    if (!answers.has(key)) answers.set(key, call());
    return answers.get(key) as Promise<T>;
  };
  const keep = (p: { Name?: string; Value?: string; Version?: number; LastModifiedDate?: Date }): ReadParameter[] => {
    if (p.Name === undefined || p.Value === undefined || p.Version === undefined) return [];
    const parameter = { name: p.Name, value: p.Value, version: p.Version, lastModified: p.LastModifiedDate?.getTime() };
    // A walk-back answers an older version under the plain name: what undo checks is the current one.
    const current = read.get(p.Name);
    if (!current || current.version <= p.Version) read.set(p.Name, parameter);
    return [parameter];
  };
  return {
    getParameters: (names) =>
      once(`names:${names.join('\n')}`, async () => {
        const answer = await awsCall('SSM.GetParameters', names.join(','), () =>
          ssm.send(new GetParametersCommand({ Names: [...names], WithDecryption: false })),
        );
        return { found: (answer.Parameters ?? []).flatMap(keep), missing: answer.InvalidParameters ?? [] };
      }),
    getParametersByPath: (path) =>
      once(`path:${path}`, async () =>
        // Directly in the folder only, as the functions read it (and as SSM answers a non-recursive read).
        (await parametersUnder(ssm, path, false)).filter((p) => p.Name?.startsWith(`${path}/`) && !p.Name.slice(path.length + 1).includes('/')).flatMap(keep),
      ),
  };
}

/**
 * The config a command runs rules with: the loaded one, with the store merged in when `parameterPrefix` is set and
 * the mode reads AWS. Each rule's part is the functions' own live configuration of that rule (its folder, `all`,
 * the rules parameter), so the merge cannot drift from theirs.
 */
export async function loadRunConfig(options: LoadOptions): Promise<LoadedConfig> {
  const { config, mode } = options;
  const prefix = config.parameterPrefix;
  const read = new Map<string, ReadParameter>();
  if (prefix === undefined || mode === 'offline') return { config, fromStore: false, parameters: read };
  // Without a Region in the config or the command, the SDK's own chain (AWS_REGION, the profile) names it.
  const region = config.region ?? options.region;
  const ssm = options.ssm ?? new SSMClient({ ...baseClientConfig({ region: region ?? '', endpoint: config.endpoint, readOnly: true }), region });
  const reader = recordingReader(ssm, read);
  const told = new Set<string>();
  const logger = {
    // A rejected value (the functions log and notify it too): said once per parameter version, never quoting it.
    error: (_message: string, fields: Record<string, unknown> = {}) => {
      const key = `${String(fields.key)}#${String(fields.version)}`;
      if (told.has(key)) return;
      told.add(key);
      options.err(
        `trailguard: warning: the parameter store's ${terminalValue(String(fields.key))} (version ${terminalValue(String(fields.version))}) is rejected: ${terminalValue(String(fields.problem))}; ${terminalValue(String(fields.inForce))}\n`,
      );
    },
    warn: () => undefined,
  };
  const now = (options.now ?? Date.now)();
  let perRule: Config[];
  try {
    // The stack always creates <prefix>/rules: without it this is another Region's or prefix's store, where every
    // folder reads empty, and an empty store would pass for "nothing is exempt".
    const rulesName = rulesParameter(prefix);
    const { missing } = await reader.getParameters([rulesName]);
    if (missing.includes(rulesName)) throw new StoreNotFound(rulesName);
    perRule = await Promise.all(RULE_IDS.map((rule) => liveConfigSource(config, rule, { reader, logger, ruleOverrides: options.ruleOverrides }).read(now)));
  } catch (error) {
    if (error instanceof StoreNotFound) {
      const where = `${error.parameter} does not exist in ${(await ssm.config.region()) || 'the default Region'}: the stack creates it, so this is another Region or prefix (stack output ParameterPrefix; the stack's Region in AWS_REGION or --region)`;
      if (mode === 'live')
        throw new ConfigError(`parameter store ${prefix}`, `${where}; refused to act without the exemptions the functions apply`, { cause: error });
      options.err(`trailguard: WARNING: ${terminalValue(where)}: this dry-run uses the loaded configuration only\n`);
      return { config, fromStore: false, parameters: new Map() };
    }
    const code = classifyAwsError(error, 'SSM.GetParametersByPath', prefix).code;
    if (mode === 'live')
      throw new ConfigError(
        `parameter store ${prefix}`,
        `cannot be read (${code}): refused to act without the exemptions and rule settings the functions apply; fix access (ssm:GetParameters, ssm:GetParametersByPath on ${prefix}/*) or run --mode dry-run`,
        { cause: error },
      );
    options.err(
      `trailguard: WARNING: the parameter store ${terminalValue(prefix)} cannot be read (${terminalValue(code)}): this dry-run uses the loaded configuration only, so resources the store exempts show as would-remediate, and its rule settings are not applied\n`,
    );
    return { config, fromStore: false, parameters: new Map() };
  }
  // Each rule's config is the loaded exemptions, then its folder's, then `all`'s: the folders' parts, `all` once.
  const stored = (i: number) => perRule[i]?.exemptions.slice(config.exemptions.length) ?? [];
  const exemptions: Exemption[] = [
    ...config.exemptions,
    ...RULE_IDS.flatMap((rule, i) => stored(i).filter((e) => e.rule === rule)),
    ...stored(0).filter((e) => e.rule === '*'),
  ];
  // Folders read only: the rules parameter is not an exemption.
  const folders = new Set(RULE_IDS.flatMap((rule) => exemptionFoldersOf(prefix, rule)));
  const parameters = new Map([...read].filter(([name]) => folders.has(name.slice(0, name.lastIndexOf('/')))));
  return { config: { ...config, rules: perRule[0]?.rules ?? config.rules, exemptions }, fromStore: true, parameters };
}
