/**
 * The live configuration: exemptions and rule settings read from SSM Parameter Store (layout.ts), merged over the
 * environment's, cached per container for `configMaxAgeSeconds`. Env stays the offline/replay and override path.
 *
 * A bad stored value never stops remediation: per parameter, the newest good one of its WALK_BACK_VERSIONS previous
 * versions is in force, read from the store (GetParameters `name:N`), so every container, cold or warm, applies the
 * same one; with none good, an exemption is left out (the rule acts: for a security tool, acting on an exempt
 * resource is the recoverable side, ignoring a public bucket is not) and the rules fall back to the environment's.
 * Each rejection is logged at ERROR once per parameter version per container and notified once across every
 * container (a claim in the state table).
 *
 * A failed read keeps the configuration last read for at most staleLimitMs after that read, and is tried again
 * after READ_RETRY_MS (not on every invocation: the reader's retries would cost each one). With none, or past that
 * limit, the event is retried rather than decided on a configuration that may have lost an exemption's removal.
 */
import { metricFields } from '../metrics.js';
import * as v from 'valibot';
import { type Config, type Exemption, type RuleId, RuleSettings, type RuleSettingsConfig } from '../config.js';
import { AwsCallError } from '../errors.js';
import type { Logger } from '../log.js';
import { exemptionFoldersOf, rulesParameter, StoredExemption, toExemption } from './layout.js';
import type { ParameterReader, StoredParameter } from './ssm-reader.js';
import { type RejectionNotice, rejectionProblem } from './rejection.js';

/** The log line of a rejected value; the ConfigRejected metric filter (scripts/function-alarms.cjs) counts it. */
export const CONFIG_REJECTED_MESSAGE = 'trailguard config rejected';
/** The log line of a failed read; the ConfigReadFailed metric filter (scripts/function-alarms.cjs) counts it. */
export const CONFIG_READ_FAILED_MESSAGE = 'trailguard config read failed';

/** How many previous versions of a rejected parameter are read back for a good one (SSM keeps the last 100). */
export const WALK_BACK_VERSIONS = 5;
/** The rule that alerts on changes to the store (functions/config-store-change): its settings are never read from it. */
export const STORE_WATCH_RULE: RuleId = 'config-store-change';
/** Walk-back calls one read may make: each rejected value costs one GetParameters, sequentially. */
export const MAX_WALK_BACKS_PER_READ = 10;
/** After a failed read, the next is tried this soon (or after the max age, if shorter). */
export const READ_RETRY_MS = 10_000;
/** At most one read-failure line per container this often; each line counts the failures since the last. */
export const READ_FAILED_LOG_INTERVAL_MS = 10_000;
/**
 * How old the configuration in force may get while the store is unreadable: 3 max ages, at least 180 s (3 reads
 * missed; an SSM throttling burst passes within it). Past it the container is treated as cold: events fail
 * transiently and are retried, so an exemption removed from the store stops applying within this time of its
 * removal plus one max age, or nothing is decided.
 */
export const STALE_LIMIT_MAX_AGES = 3;
export const STALE_LIMIT_FLOOR_MS = 180_000;
export const staleLimitMs = (configMaxAgeSeconds: number): number => Math.max(STALE_LIMIT_MAX_AGES * configMaxAgeSeconds * 1000, STALE_LIMIT_FLOOR_MS);

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

type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

/** The value in force for a parameter, and which of its versions it is. */
interface InForce<T> {
  readonly version: number;
  readonly value: T;
}

/** What a parameter's stored version resolved to: a cache of the store's answer, so each version is judged once. */
interface Kept<T> {
  readonly version: number;
  /**
   * The stored text judged: a version number alone does not name a value, since SSM numbers a deleted and recreated
   * parameter from 1 again (`exempt remove` then `exempt add` of the same glob).
   */
  readonly text: string;
  readonly inForce: InForce<T> | undefined;
  /** Why that version was rejected, if it was: told again on each read until a notification goes out. */
  readonly problem?: string;
}

/** Parses one parameter's value, or says what is wrong with it (never quoting the value). */
function parseValue<S extends v.GenericSchema>(schema: S, text: string): Parsed<v.InferOutput<S>> {
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
  const retryMs = Math.min(maxAgeMs, READ_RETRY_MS);
  const staleMs = staleLimitMs(base.configMaxAgeSeconds);

  let cached: { readonly config: Config; readonly at: number } | undefined;
  /** When a read failed: no read before this while the cached config may still be used. */
  let retryAt: number | undefined;
  let failuresUnlogged = 0;
  let failureLoggedAt: number | undefined;
  const rules = new Map<string, Kept<RuleSettingsConfig>>();
  const exemptions = new Map<string, Kept<Exemption>>();
  const logged = new Set<string>();
  let walkBacksLeft = MAX_WALK_BACKS_PER_READ;
  const notified = new Set<string>();

  /** Logs a rejection once per parameter version in this container, and has it notified (once across containers). */
  async function reject(parameter: StoredParameter, problem: string, inForce: InForce<unknown> | undefined): Promise<void> {
    const key = `${parameter.name}#${parameter.version}`;
    const what = inForce
      ? `version ${inForce.version} stays in force (the newest good one of the ${WALK_BACK_VERSIONS} before)`
      : parameter.name === rulesName
        ? `the environment's rule settings stay in force (no good version among the ${WALK_BACK_VERSIONS} before)`
        : `left out: the rule acts on that resource (no good version among the ${WALK_BACK_VERSIONS} before)`;
    if (!logged.has(key)) {
      logged.add(key);
      deps.logger.error(CONFIG_REJECTED_MESSAGE, {
        key: parameter.name,
        version: parameter.version,
        problem,
        inForce: what,
        inForceVersion: inForce?.version ?? null,
        ...metricFields('ConfigRejected', 1, Date.now()),
      });
    }
    if (!deps.notifyRejection || notified.has(key)) return;
    try {
      await deps.notifyRejection({ parameter: parameter.name, version: parameter.version, problem, inForce: what });
      notified.add(key);
    } catch (error) {
      // Logged and alarmed already; the next read of this container (or another container) tries again.
      deps.logger.warn('trailguard config rejection not notified', { key: parameter.name, version: parameter.version, error: String(error).slice(0, 300) });
    }
  }

  /**
   * The newest good version of the WALK_BACK_VERSIONS before a rejected one, from the store: one GetParameters of
   * `name:N` selectors (same action, same parameter ARN), so every container finds the same. Judged once per
   * stored version and text in a container; at most MAX_WALK_BACKS_PER_READ calls per read.
   */
  async function walkBack<T>(parameter: StoredParameter, parse: (text: string) => Parsed<T>, deadline: number | undefined) {
    const oldest = Math.max(1, parameter.version - WALK_BACK_VERSIONS);
    // A store flooded with bad values costs each read at most this many calls; past it a bad value is left out (acts).
    if (walkBacksLeft <= 0) return undefined;
    walkBacksLeft -= 1;
    const versions: number[] = [];
    for (let n = parameter.version - 1; n >= oldest; n -= 1) versions.push(n);
    if (versions.length === 0) return undefined;
    const answer = await deps.reader.getParameters(
      versions.map((n) => `${parameter.name}:${n}`),
      deadline,
    );
    for (const n of versions) {
      // SSM answers with the plain name and the version (and Selector `:N`); the selector form is accepted too.
      const found = answer.found.find((p) => p.version === n && (p.name === parameter.name || p.name === `${parameter.name}:${n}`));
      const parsed = found ? parse(found.value) : undefined;
      if (parsed?.ok) return { version: n, value: parsed.value };
    }
    return undefined;
  }

  /** The value in force for one parameter: its stored version if good, else the newest good previous one, else none. */
  async function settle<T>(
    parameter: StoredParameter,
    kept: Map<string, Kept<T>>,
    parse: (text: string) => Parsed<T>,
    deadline: number | undefined,
  ): Promise<InForce<T> | undefined> {
    const last = kept.get(parameter.name);
    if (last?.version === parameter.version && last.text === parameter.value) {
      if (last.problem !== undefined) await reject(parameter, last.problem, last.inForce);
      return last.inForce;
    }
    const parsed = parse(parameter.value);
    if (parsed.ok) {
      const inForce = { version: parameter.version, value: parsed.value };
      kept.set(parameter.name, { version: parameter.version, text: parameter.value, inForce });
      return inForce;
    }
    const inForce = await walkBack(parameter, parse, deadline);
    kept.set(parameter.name, { version: parameter.version, text: parameter.value, inForce, problem: parsed.problem });
    await reject(parameter, parsed.problem, inForce);
    return inForce;
  }

  const parseRules = (text: string) => parseValue(RuleSettings, text);
  const parseExemption = (scope: RuleId | '*') => (text: string) => {
    const parsed = parseValue(StoredExemption, text);
    return parsed.ok ? { ok: true as const, value: toExemption(scope, parsed.value) } : parsed;
  };

  /** The rules in force after this read, or none (the environment's). */
  async function rulesFrom(found: readonly StoredParameter[], deadline: number | undefined): Promise<RuleSettingsConfig | undefined> {
    const stored = found.find((p) => p.name === rulesName);
    if (!stored) {
      rules.clear();
      return undefined;
    }
    return (await settle(stored, rules, parseRules, deadline))?.value;
  }

  /** The exemptions in force after this read, one per parameter. */
  async function exemptionsFrom(folder: readonly StoredParameter[], scope: RuleId | '*', deadline: number | undefined): Promise<Exemption[]> {
    const result: Exemption[] = [];
    const parse = parseExemption(scope);
    for (const parameter of folder) {
      const inForce = await settle(parameter, exemptions, parse, deadline);
      if (inForce) result.push(inForce.value);
    }
    return result;
  }

  async function readStore(deadline: number | undefined): Promise<Config> {
    walkBacksLeft = MAX_WALK_BACKS_PER_READ;
    const [rulesAnswer, own, all] = await Promise.all([
      deps.reader.getParameters([rulesName], deadline),
      deps.reader.getParametersByPath(folders[0], deadline),
      deps.reader.getParametersByPath(folders[1], deadline),
    ]);
    const storedRules = await rulesFrom(rulesAnswer.found, deadline);
    const storedExemptions = [...(await exemptionsFrom(own, rule, deadline)), ...(await exemptionsFrom(all, '*', deadline))];
    // Only the parameters still in the store are kept: a removed exemption is gone.
    const present = new Set([...own, ...all].map((p) => p.name));
    for (const name of exemptions.keys()) if (!present.has(name)) exemptions.delete(name);
    // The alert on changes to this store takes its settings from the deployment only: a write that turns it off
    // would otherwise be read before its own event is decided, and go untold.
    const overridden = Object.fromEntries([...deps.ruleOverrides, STORE_WATCH_RULE].map((id) => [id, base.rules[id]]));
    return {
      ...base,
      rules: storedRules ? ({ ...storedRules, ...overridden } as Config['rules']) : base.rules,
      exemptions: [...base.exemptions, ...storedExemptions],
    };
  }

  /** Every failed read is counted; a line is logged at most once per READ_FAILED_LOG_INTERVAL_MS with the count. */
  function logFailure(now: number, failure: AwsCallError, inForce: string | undefined): void {
    failuresUnlogged += 1;
    if (failureLoggedAt !== undefined && now - failureLoggedAt < READ_FAILED_LOG_INTERVAL_MS) return;
    const fields = {
      key: failure.resource,
      kind: failure.kind,
      code: failure.code,
      failures: failuresUnlogged,
      inForce: inForce ?? 'none: the event is retried',
      // Every failure since the last line counts: the alarm sees them all, however few lines are written.
      ...metricFields('ConfigReadFailed', failuresUnlogged, now),
    };
    if (inForce) deps.logger.warn(CONFIG_READ_FAILED_MESSAGE, fields);
    else deps.logger.error(CONFIG_READ_FAILED_MESSAGE, fields);
    failureLoggedAt = now;
    failuresUnlogged = 0;
  }

  /** The cached config while it may still be decided on (read within the stale limit), else undefined. */
  const usable = (now: number) => (cached && now - cached.at <= staleMs ? cached : undefined);

  return {
    async read(now, deadline) {
      if (cached && now - cached.at < maxAgeMs) return cached.config;
      const kept = usable(now);
      if (kept && retryAt !== undefined && now < retryAt) return kept.config;
      try {
        const config = await readStore(deadline);
        cached = { config, at: now };
        retryAt = undefined;
        return config;
      } catch (error) {
        const failure =
          error instanceof AwsCallError
            ? error
            : new AwsCallError('SSM.GetParameters', prefix, 'transient', 'UnknownError', String(error).slice(0, 300), { cause: error });
        // Never refreshes the cached config's time: a failure does not make it younger.
        retryAt = now + retryMs;
        if (kept) {
          logFailure(now, failure, `the configuration read ${Math.round((now - kept.at) / 1000)} s ago`);
          return kept.config;
        }
        logFailure(now, failure, undefined);
        // Cold start, or the last read is past the stale limit: without the store an exemption may be missing (or
        // one removed still applied), so the event is retried (then dead-lettered), never decided on a guess.
        const why = cached ? `unreadable, and the last read is over ${staleMs / 1000} s old` : 'unreadable';
        throw new AwsCallError(
          failure.api,
          failure.resource,
          'transient',
          failure.code,
          `live configuration ${why} (${failure.kind}), the event is retried: ${failure.detail}`.slice(0, 300),
          { cause: error },
        );
      }
    },
  };
}
