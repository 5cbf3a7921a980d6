import { readFile } from 'node:fs/promises';
import { RULES } from '../functions/rules.js';
import { loadConfig, parseConfig, type Config, type Mode, type RuleId } from '../shared/config.js';
import { PatternIndex } from '../shared/events/pattern.js';
import { toEnvelopeJson } from '../shared/events/schema.js';
import { consoleOut } from '../shared/log.js';
import type { RemediationRecord } from '../shared/remediation-log.js';
import type { AnyRule } from '../shared/rule.js';
import { run, unmatchedRecord, type RunDeps } from '../shared/runner/run.js';
import { dynamoStateStore } from '../shared/state/dynamo-store.js';
import { terminalValue } from '../shared/safe-text.js';
import { parseItem, readInputBatches, type InputItem, type ReadItem } from './inputs.js';
import { cliRuleOverrides, loadRunConfig } from './live-store.js';
import { BatchPrinter, plainTerminal, quietOnClosedReader, RecordPrinter, standardOutput, WatchedOutput, type Format, type PrintedBatch } from './output.js';
import { Progress, type ProgressStream } from './progress.js';
import { ReplayPool, WorkerFailure, workerCount } from './replay-pool.js';
import { cliNotification } from './publishing.js';
import type { Terminal } from './terminal.js';
import { EXIT, InputProblem } from './usage.js';

/** Exit codes: 0 every input read and nothing failed; 1 a remediation failed; 2 unreadable or invalid input. */
export { EXIT };

export interface ReplayOptions {
  readonly mode: Mode;
  readonly format: Format;
  readonly configFile: string | undefined;
  readonly inputs: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin?: NodeJS.ReadableStream;
  /** The events to replay instead of reading `inputs` (backtests: LookupEvents, log files in S3). */
  readonly events?: AsyncIterable<InputItem>;
  /** Where records go as they are: tests pass a writer (no colour, nothing cut). @default standard output */
  readonly out?: (text: string) => void;
  /** Where text output goes, with its colour and width. @default the terminal of standard output (or `out`) */
  readonly terminal?: Terminal;
  /** `--all`: text output lists the events no rule's pattern matches too. @default false */
  readonly all?: boolean;
  readonly err?: (text: string) => void;
  /** Where the progress line goes (only when it is a TTY). @default process.stderr */
  readonly progress?: ProgressStream;
  /** Publish notifications to the configured topic (`--notify`); replay publishes nothing unasked. @default false */
  readonly notify?: boolean;
  /** The stream records are written to, watched for backpressure and a closed pipe. @default process.stdout unless `out` is given */
  readonly stdout?: NodeJS.WritableStream;
}

/** Why a live replay is refused without the state table: like redrive and sweep, it must not act unguarded. */
export const LIVE_NEEDS_STATE_TABLE =
  'a live replay needs the state table, so duplicates are recognised and the circuit breaker caps its writes: set TRAILGUARD_STATE_TABLE (stack output StateTableName) or "stateTable" in --config';

/** Where a command's text goes: the caller's terminal or writer, else standard output. */
export function outputTerminal(options: { readonly terminal?: Terminal; readonly out?: (text: string) => void }, env: ReplayOptions['env']): Terminal {
  return options.terminal ?? (options.out ? plainTerminal(options.out) : standardOutput(env));
}

/** Loads `--config FILE` with the same schema as Lambda's environment; AWS_ENDPOINT_URL still applies. */
export async function replayConfig(configFile: string | undefined, env: ReplayOptions['env']): Promise<Config> {
  return configOf(configFile ? await readConfigFile(configFile) : undefined, configFile, env);
}

/** The Config of `--config FILE`'s JSON (`raw`, read once: replay's workers get the same JSON, not the file again), else of `env`. */
export function configOf(raw: unknown, configFile: string | undefined, env: ReplayOptions['env']): Config {
  if (!configFile) return loadConfig(env);
  const withEndpoint = env.AWS_ENDPOINT_URL && raw && typeof raw === 'object' && !('endpoint' in raw) ? { ...raw, endpoint: env.AWS_ENDPOINT_URL } : raw;
  return parseConfig(withEndpoint, configFile);
}

/** The rules the loaded config overrides in the live configuration: `--config FILE`'s `rules` keys, else TRAILGUARD_RULES'. */
export async function replayRuleOverrides(configFile: string | undefined, env: ReplayOptions['env']): Promise<readonly RuleId[]> {
  return cliRuleOverrides(configFile ? await readConfigFile(configFile) : undefined, env);
}

/** The JSON of `--config FILE`, or a problem that says in words what is wrong with the file. */
export async function readConfigFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a folder, not a file'
          : code === 'EACCES'
            ? 'not allowed to read it'
            : `cannot read it (${code ?? (error as Error).message})`;
    throw new InputProblem(`--config ${terminalValue(file)}: ${why}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputProblem(`--config ${terminalValue(file)}: not JSON (${(error as Error).message})`);
  }
}

/** Routes one event to every rule whose pattern matches (as EventBridge would), or records it as unmatched. */
export async function routeEvent(rules: readonly AnyRule[], value: unknown, deps: RunDeps): Promise<RemediationRecord[]> {
  return routeEventNow(rules, value, deps);
}

/** Each rule list's patterns, indexed once by the event names they list (RULES, or a test's own list). */
const patternIndexes = new WeakMap<readonly AnyRule[], PatternIndex<AnyRule>>();

function patternIndexOf(rules: readonly AnyRule[]): PatternIndex<AnyRule> {
  let index = patternIndexes.get(rules);
  if (!index) {
    index = new PatternIndex(rules, (rule) => rule.pattern);
    patternIndexes.set(rules, index);
  }
  return index;
}

/**
 * routeEvent, with no promise for an event no rule's pattern matches (most of a backtest): its record is built
 * synchronously, and replay's loop awaits only the events a rule runs on.
 */
function routeEventNow(rules: readonly AnyRule[], value: unknown, deps: RunDeps): RemediationRecord[] | Promise<RemediationRecord[]> {
  const json = toEnvelopeJson(value);
  const matching = patternIndexOf(rules).matching(json);
  if (matching.length === 0) return [unmatchedRecord(value, deps, json)];
  return runEach(matching, value, deps);
}

async function runEach(rules: readonly AnyRule[], value: unknown, deps: RunDeps): Promise<RemediationRecord[]> {
  const records: RemediationRecord[] = [];
  for (const rule of rules) records.push(await run(rule, value, deps));
  return records;
}

/** What one read item gave once routed: its records, or why it gave none. Plain data (worker replies). */
export type Routed =
  | { readonly kind: 'event'; readonly source: string; readonly records: RemediationRecord[] }
  /** A batch of items a worker routed and printed (`--format jsonl`): its records' JSON lines, what counts of them, its messages. */
  | PrintedBatch
  | { readonly kind: 'error'; readonly source: string; readonly problem: string }
  | { readonly kind: 'skipped'; readonly source: string; readonly note: string };

/** Parses one read item and routes each event in it: the one step the main thread or a worker runs per item. */
export async function routeItem(read: ReadItem, deps: RunDeps): Promise<Routed[]> {
  return routeItemNow(read, deps);
}

/** routeItem, with no promise while no rule's pattern matches the item's events (replay's loops await only the rest). */
export function routeItemNow(read: ReadItem, deps: RunDeps): Routed[] | Promise<Routed[]> {
  let items: InputItem[];
  try {
    items = parseItem(read);
  } catch (error) {
    return [{ kind: 'error', source: read.source, problem: `cannot be read: ${(error as Error).message}` }];
  }
  const routed: Routed[] = [];
  for (let at = 0; at < items.length; at += 1) {
    const item = items[at] as InputItem;
    if (item.kind !== 'event') {
      routed.push(item);
      continue;
    }
    let records: RemediationRecord[] | Promise<RemediationRecord[]>;
    try {
      records = routeEventNow(RULES, item.value, deps);
    } catch (error) {
      routed.push(notRouted(item.source, error));
      continue;
    }
    if (!Array.isArray(records)) return routeRest(records, items, at, routed, deps);
    routed.push({ kind: 'event', source: item.source, records });
  }
  return routed;
}

/** The rest of routeItemNow once an event is awaited: `pending` is items[at]'s records. */
async function routeRest(pending: Promise<RemediationRecord[]>, items: readonly InputItem[], at: number, routed: Routed[], deps: RunDeps): Promise<Routed[]> {
  for (let next = at; next < items.length; next += 1) {
    const item = items[next] as InputItem;
    if (item.kind !== 'event') {
      routed.push(item);
      continue;
    }
    // One hostile event (nested thousands deep: a RangeError) is an error item, and replay goes on with the rest.
    try {
      routed.push({ kind: 'event', source: item.source, records: await (next === at ? pending : routeEventNow(RULES, item.value, deps)) });
    } catch (error) {
      routed.push(notRouted(item.source, error));
    }
  }
  return routed;
}

const notRouted = (source: string, error: unknown): Routed => ({ kind: 'error', source, problem: `cannot be routed: ${(error as Error).message}` });

/**
 * A batch of read items routed, as a worker (or the main thread, helping the workers) does it: for `--format jsonl`
 * printed here into one PrintedBatch, JSON.stringify and the terminal-safety check included; for text, the routed
 * items (the main thread prints the rows, with the terminal's width and colour).
 */
export async function routeBatch(items: readonly ReadItem[], deps: RunDeps, format: Format): Promise<Routed[]> {
  const batch = format === 'jsonl' ? new BatchPrinter() : undefined;
  const results: Routed[] = [];
  for (const item of items) {
    const routed = routeItemNow(item, deps);
    for (const result of Array.isArray(routed) ? routed : await routed) {
      if (!batch) results.push(result);
      else if (result.kind === 'event') batch.event(result.source, result.records);
      else if (result.kind === 'error' || result.kind === 'skipped') batch.note(result);
      else throw new Error(`routeItem gave a ${result.kind} item`);
    }
  }
  return batch ? [batch.take()] : results;
}

/** An offline replay's dependencies: no store, no publisher, nothing written (replay prints the records). */
export function offlineDeps(config: Config): RunDeps {
  return { config, mode: 'offline', ...cliNotification('replay', 'offline', config, false), write: () => undefined, now: Date.now };
}

/** Items read before the workers start: a small input is done before they would be up. */
const SEQUENTIAL_ITEMS = 2000;

/** `trailguard replay`: the same matching and rule code as Lambda, over files, folders or stdin. */
export async function replay(options: ReplayOptions): Promise<number> {
  const err = options.err ?? consoleOut.stderr;
  // `… 2>&1 | head`: once the reader is gone, messages and progress go nowhere; the run goes on with its exit code.
  quietOnClosedReader(process.stderr);
  const rawConfig = options.configFile ? await readConfigFile(options.configFile) : undefined;
  const loaded = configOf(rawConfig, options.configFile, options.env);
  // Dry-run and live decide as the functions would: with the parameter store's exemptions and rule settings.
  const { config } = await loadRunConfig({
    config: loaded,
    mode: options.mode,
    ruleOverrides: cliRuleOverrides(rawConfig, options.env),
    err,
    region: options.env.AWS_REGION ?? options.env.AWS_DEFAULT_REGION,
  });
  const live = options.mode === 'live';
  if (live && !config.stateTable) {
    err(`trailguard: ${LIVE_NEEDS_STATE_TABLE}\n`);
    return EXIT.badInput;
  }
  // The stream records reach: watched for backpressure and a closed pipe. A test's `out` writer is neither.
  const stream = options.stdout ?? (options.out ? undefined : process.stdout);
  const output = stream ? new WatchedOutput(stream) : undefined;
  const terminal = options.terminal ?? (options.out ? plainTerminal(options.out) : standardOutput(options.env, stream));
  const printer = new RecordPrinter(options.format, terminal, { all: options.all === true });
  const region = config.region ?? options.env.AWS_REGION ?? options.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const deps: RunDeps =
    options.mode === 'offline'
      ? offlineDeps(config)
      : {
          config,
          mode: options.mode,
          ...cliNotification('replay', options.mode, config, options.notify === true),
          write: () => undefined, // replay prints the record itself, below
          now: Date.now,
          // Live acts like the functions: claims (a second replay of an event is a duplicate) and the breaker's cap.
          // Offline and dry-run go without: fixture ids repeat (docs/cloudtrail-shapes.md#types-times-and-fixture-artefacts), and they write nothing to dedupe.
          ...(live && config.stateTable ? { store: dynamoStateStore(config.stateTable, region, config.endpoint) } : {}),
        };
  let exit: number;
  const progress = new Progress('trailguard replay', { stream: options.progress ?? process.stderr });
  try {
    // A message clears the progress line first, so it starts on a clean line.
    const say = (text: string) => {
      progress.done();
      err(text);
    };
    // Offline reads files and runs pure code, so it may use every core; dry-run and live call AWS, count and are
    // capped by the breaker, so they stay in one thread.
    const workers = options.mode === 'offline' && !options.events ? workerCount(options.env) : 0;
    const setup = { configFile: options.configFile, config: rawConfig, env: { ...options.env }, format: options.format };
    const batches = options.events ? singly(options.events) : readInputBatches(options.inputs, options.stdin);
    try {
      exit = await replayItems(
        routed(batches, deps, options.format, workers > 0 ? () => new ReplayPool(workers, setup) : undefined),
        printer,
        progress,
        say,
        output,
      );
    } catch (error) {
      if (!(error instanceof WorkerFailure)) throw error;
      say(`trailguard: ${terminalValue(error.message)}; the rest is not replayed\n`);
      exit = EXIT.badInput;
    }
  } finally {
    progress.done();
    // Also when the input fails mid-way (Ctrl-C in a backtest, a failed page): the records decided are written.
    if (!output?.closed) printer.finish();
    // The last write's error comes after it: waited for, so a full disk is an exit 2, not a silent loss.
    await output?.written();
    output?.stopWatching();
  }
  if (output?.failure) {
    err(`trailguard: cannot write the records: ${terminalValue(output.failure)}\n`);
    return EXIT.badInput;
  }
  return exit;
}

/** Given items as batches of one. */
async function* singly(items: AsyncIterable<InputItem>): AsyncGenerator<ReadItem[]> {
  for await (const item of items) yield [item];
}

/** The routed results in input order: the first items here, the rest by the pool's workers when there is one. */
async function* routed(batches: AsyncIterable<readonly ReadItem[]>, deps: RunDeps, format: Format, pool?: () => ReplayPool): AsyncGenerator<Routed[]> {
  const reader = batches[Symbol.asyncIterator]();
  let seen = 0;
  while (!pool || seen < SEQUENTIAL_ITEMS) {
    const next = await reader.next();
    if (next.done) return;
    seen += next.value.length;
    const results: Routed[] = [];
    for (const item of next.value) {
      const routed = routeItemNow(item, deps);
      for (const result of Array.isArray(routed) ? routed : await routed) results.push(result);
    }
    yield results;
  }
  const workers = pool();
  try {
    // A batch routed here fails as one at a worker would: named, exit 2, the rest not replayed.
    const routeHere = (items: readonly ReadItem[]) =>
      routeBatch(items, deps, format).catch((error: unknown) => {
        throw new WorkerFailure(`${(error as Error).message}, at ${items[0]?.source ?? 'the input'} or after it`);
      });
    yield* workers.route({ [Symbol.asyncIterator]: () => reader }, routeHere);
  } finally {
    await workers.close();
  }
}

async function replayItems(
  batches: AsyncIterable<readonly Routed[]>,
  printer: RecordPrinter,
  progress: Progress,
  err: (text: string) => void,
  output?: WatchedOutput,
): Promise<number> {
  let exit: number = EXIT.ok;
  for await (const batch of batches) {
    // A reader gone (`| head`): nothing more can be shown, so replay stops reading, quietly.
    if (output?.closed) return exit;
    for (const item of batch) {
      if (item.kind === 'printed') {
        for (let event = 0; event < item.events; event += 1) progress.record(event < item.matched);
        printer.printBatch(item);
        for (const note of item.notes) {
          if (note.kind === 'skipped') err(`trailguard: ${terminalValue(note.source)}: skipped (${terminalValue(note.note)})\n`);
          else {
            // As below: values from the input (its name, the event's own values in the message) stay on their line.
            const problem = note.kind === 'error' ? note.problem : `invalid event: ${note.message}`;
            err(`trailguard: ${terminalValue(note.source)}: ${terminalValue(problem)}\n`);
            exit = EXIT.badInput;
          }
        }
        if (item.failed && exit === EXIT.ok) exit = EXIT.remediationFailed;
        const drained = output?.drained();
        if (drained) await drained;
        continue;
      }
      if (item.kind === 'error') {
        err(`trailguard: ${terminalValue(item.source)}: ${terminalValue(item.problem)}\n`);
        exit = EXIT.badInput;
        continue;
      }
      if (item.kind === 'skipped') {
        err(`trailguard: ${terminalValue(item.source)}: skipped (${terminalValue(item.note)})\n`);
        continue;
      }
      const records: readonly RemediationRecord[] = item.records;
      progress.record(records.some((record) => record.rule !== null));
      printer.printEvent(records, item.source);
      for (const record of records) {
        if (record.error?.kind === 'parse') {
          // Values from the input (its name, and the event's own values quoted in the message) stay on their line.
          err(`trailguard: ${terminalValue(item.source)}: invalid event: ${terminalValue(record.error.message)}\n`);
          exit = EXIT.badInput;
        } else if (record.outcome === 'failed' && exit === EXIT.ok) {
          exit = EXIT.remediationFailed;
        }
      }
      // A slow reader (`| less`): the next event waits until what is written drains, so memory stays flat.
      const drained = output?.drained();
      if (drained) await drained;
    }
  }
  return exit;
}
