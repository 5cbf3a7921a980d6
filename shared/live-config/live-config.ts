/**
 * The live configuration: exemptions and rule settings read from SSM Parameter Store (layout.ts), merged over the
 * environment's, cached per container for `configMaxAgeSeconds`. Env stays the offline/replay and override path.
 *
 * A bad stored value never stops remediation: per parameter, its last good version stays in force (an exemption
 * with none is left out, so the rule acts: for a security tool, acting on an exempt resource is the recoverable
 * side, ignoring a public bucket is not). Each rejection is logged at ERROR once per parameter version per
 * container and notified once across every container (a claim in the state table). A failed read keeps the last
 * good configuration; with none yet (cold start) the event is retried rather than decided without the store.
 */
import * as v from 'valibot';
import { type Config, type Exemption, type RuleId, RuleSettings, type RuleSettingsConfig } from '../config.js';
import { AwsCallError } from '../errors.js';
import type { Logger } from '../log.js';
import { exemptionFoldersOf, rulesParameter, StoredExemption, toExemption } from './layout.js';
import type { ParameterReader, StoredParameter } from './ssm-reader.js';
import { type RejectionNotice, rejectionProblem } from './rejection.js';

/** The log line of a rejected value; the RejectedConfig metric filter (scripts/function-alarms.cjs) counts it. */
export const CONFIG_REJECTED_MESSAGE = 'trailguard config rejected';
/** The log line of a failed read while the last good configuration stays in force. */
export const CONFIG_READ_FAILED_MESSAGE = 'trailguard config read failed';

/** What the live configuration needs from the world. */
export interface LiveConfigDeps {
  readonly reader: ParameterReader;
  readonly logger: Pick<Logger, 'error' | 'warn'>;
  /** Tells a person about a rejected value, once across containers (rejection.ts); absent: logged only. */
  readonly notifyRejection?: (notice: RejectionNotice) => Promise<void>;
  /** Rule ids TRAILGUARD_RULES names: each replaces that rule's stored settings wholesale. */
  readonly ruleOverrides: readonly RuleId[];
}

/** A container's live configuration for one rule: `read` returns the merged config, from cache within its age. */
export interface LiveConfigSource {
  read(now: number, deadline?: number): Promise<Config>;
}

interface Kept<T> {
  readonly version: number;
  readonly value: T;
}

/** Parses one parameter's value, or says what is wrong with it (never quoting the value). */
function parseValue<S extends v.GenericSchema>(schema: S, text: string): { ok: true; value: v.InferOutput<S> } | { ok: false; problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'not valid JSON' };
  }
  const result = v.safeParse(schema, json);
  return result.success ? { ok: true, value: result.output } : { ok: false, problem: rejectionProblem(result.issues[0]) };
}

/**
 * The live configuration of `rule` over `base` (the environment's config, which names the prefix): its store
 * rules with TRAILGUARD_RULES' rules over them, and env exemptions followed by the store's.
 */
export function liveConfigSource(base: Config, rule: RuleId, deps: LiveConfigDeps): LiveConfigSource {
  const prefix = base.parameterPrefix;
  if (prefix === undefined) throw new Error('liveConfigSource needs config.parameterPrefix');
  const rulesName = rulesParameter(prefix);
  const folders = exemptionFoldersOf(prefix, rule);
  const maxAgeMs = base.configMaxAgeSeconds * 1000;

  let cached: { readonly config: Config; readonly at: number } | undefined;
  let rules: Kept<RuleSettingsConfig> | undefined;
  const exemptions = new Map<string, Kept<Exemption>>();
  const logged = new Set<string>();
  const notified = new Set<string>();
  const readFailures = new Set<string>();

  /** Logs a rejection once per parameter version in this container, and has it notified (once across containers). */
  async function reject(parameter: StoredParameter, problem: string, kept: boolean): Promise<void> {
    const key = `${parameter.name}#${parameter.version}`;
    const inForce = kept
      ? 'its last good version stays in force'
      : parameter.name === rulesName
        ? "the environment's rule settings stay in force"
        : 'left out: the rule acts on that resource';
    if (!logged.has(key)) {
      logged.add(key);
      deps.logger.error(CONFIG_REJECTED_MESSAGE, { key: parameter.name, version: parameter.version, problem, inForce });
    }
    if (!deps.notifyRejection || notified.has(key)) return;
    try {
      await deps.notifyRejection({ parameter: parameter.name, version: parameter.version, problem, inForce });
      notified.add(key);
    } catch (error) {
      // Logged and alarmed already; the next read of this container (or another container) tries again.
      deps.logger.warn('trailguard config rejection not notified', { key: parameter.name, version: parameter.version, error: String(error).slice(0, 300) });
    }
  }

  /** The rules in force after this read: the stored value if good, else the last good, else none. */
  async function rulesFrom(found: readonly StoredParameter[]): Promise<RuleSettingsConfig | undefined> {
    const stored = found.find((p) => p.name === rulesName);
    if (!stored) {
      rules = undefined;
      return undefined;
    }
    if (rules?.version === stored.version) return rules.value;
    const parsed = parseValue(RuleSettings, stored.value);
    if (parsed.ok) {
      rules = { version: stored.version, value: parsed.value };
      return parsed.value;
    }
    await reject(stored, parsed.problem, rules !== undefined);
    return rules?.value;
  }

  /** The exemptions in force after this read, one per parameter; a deleted parameter's is gone. */
  async function exemptionsFrom(folder: readonly StoredParameter[], scope: RuleId | '*'): Promise<Exemption[]> {
    const result: Exemption[] = [];
    for (const parameter of folder) {
      const last = exemptions.get(parameter.name);
      if (last?.version === parameter.version) {
        result.push(last.value);
        continue;
      }
      const parsed = parseValue(StoredExemption, parameter.value);
      if (parsed.ok) {
        const exemption = toExemption(scope, parsed.value);
        exemptions.set(parameter.name, { version: parameter.version, value: exemption });
        result.push(exemption);
      } else {
        await reject(parameter, parsed.problem, last !== undefined);
        if (last) result.push(last.value);
      }
    }
    return result;
  }

  async function readStore(deadline: number | undefined): Promise<Config> {
    const [rulesAnswer, own, all] = await Promise.all([
      deps.reader.getParameters([rulesName], deadline),
      deps.reader.getParametersByPath(folders[0], deadline),
      deps.reader.getParametersByPath(folders[1], deadline),
    ]);
    const storedRules = await rulesFrom(rulesAnswer.found);
    const storedExemptions = [...(await exemptionsFrom(own, rule)), ...(await exemptionsFrom(all, '*'))];
    // Only the parameters still in the store keep a last good version: a removed exemption is gone.
    const present = new Set([...own, ...all].map((p) => p.name));
    for (const name of exemptions.keys()) if (!present.has(name)) exemptions.delete(name);
    const overridden = Object.fromEntries(deps.ruleOverrides.map((id) => [id, base.rules[id]]));
    return {
      ...base,
      rules: storedRules ? ({ ...storedRules, ...overridden } as Config['rules']) : base.rules,
      exemptions: [...base.exemptions, ...storedExemptions],
    };
  }

  return {
    async read(now, deadline) {
      if (cached && now - cached.at < maxAgeMs) return cached.config;
      try {
        const config = await readStore(deadline);
        cached = { config, at: now };
        return config;
      } catch (error) {
        const failure =
          error instanceof AwsCallError
            ? error
            : new AwsCallError('SSM.GetParameters', prefix, 'transient', 'UnknownError', String(error).slice(0, 300), { cause: error });
        if (!cached) {
          // Cold start: without the store an exemption may be missing, and acting on an exempt resource is a wrong
          // remediation, so the event is retried (then dead-lettered), never decided on env alone.
          throw new AwsCallError(
            failure.api,
            failure.resource,
            'transient',
            failure.code,
            `live configuration unreadable (${failure.kind}), the event is retried: ${failure.detail}`.slice(0, 300),
            { cause: error },
          );
        }
        if (!readFailures.has(failure.kind)) {
          readFailures.add(failure.kind);
          deps.logger.warn(CONFIG_READ_FAILED_MESSAGE, {
            key: failure.resource,
            kind: failure.kind,
            code: failure.code,
            inForce: 'the last good configuration',
          });
        }
        // Kept for another max age: an outage does not cost every invocation the reader's retries.
        cached = { config: cached.config, at: now };
        return cached.config;
      }
    },
  };
}
