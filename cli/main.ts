import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MODES, RULE_IDS, type Config, type Mode, type RuleId } from '../shared/config.js';
import { TrailguardError } from '../shared/errors.js';
import { consoleOut } from '../shared/log.js';
import { terminalValue } from '../shared/safe-text.js';
import {
  BREAKER,
  COMMANDS,
  commandHelp,
  commandsWithOption,
  EXEMPT,
  MEMBER_TEMPLATE,
  overview,
  REDRIVE,
  REPLAY,
  REPORT,
  SWEEP,
  UNDO,
  usageLines,
  type CommandSpec,
  type OptionsSpec,
} from './commands.js';
import { closest, EXIT, InputProblem, UsageProblem } from './usage.js';

type Env = Readonly<Record<string, string | undefined>>;

/** package.json's version, read when asked (no work at import time). */
function version(): string {
  const pkg: unknown = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'));
  return pkg && typeof pkg === 'object' && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

function fail(message: string, spec?: CommandSpec, withUsage = false): number {
  const help = spec ? (withUsage ? usageLines(spec) : `(trailguard ${spec.name} --help for usage and examples)\n`) : '';
  consoleOut.stderr(`trailguard: ${message}\n${help}`);
  return EXIT.badInput;
}

/** Parses one command's arguments strictly: an option it does not declare is refused, naming where it belongs. */
function parseFor<O extends OptionsSpec>(spec: CommandSpec & { readonly options: O }, args: readonly string[]) {
  try {
    return parseArgs({ args: [...args], options: spec.options, strict: true, allowPositionals: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const unknown = /'(-[^' ]+)'/.exec((error as Error).message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
      const name = unknown.replace(/^-+/, '');
      const elsewhere = commandsWithOption(name);
      const guess = closest(name, Object.keys(spec.options));
      const hint = elsewhere.length > 0 ? `: it goes with ${elsewhere.join(', ')}` : guess ? ` (did you mean --${guess}?)` : '';
      throw new UsageProblem(`${spec.name} has no option ${terminalValue(unknown)}${hint}`, true);
    }
    throw new UsageProblem(`${spec.name}: ${terminalValue((error as Error).message)}`, true);
  }
}

function modeOf(text: string | undefined, fallback: Mode): Mode {
  const mode = MODES.find((m) => m === (text ?? fallback));
  if (!mode) throw new UsageProblem(`--mode must be one of ${MODES.join(', ')}, got "${text}"`);
  return mode;
}

function formatOf(text: string | undefined): 'text' | 'jsonl' {
  if (text !== 'text' && text !== 'jsonl') throw new UsageProblem(`--format must be text or jsonl, got "${text}"`);
  return text;
}

/** Runs the CLI with these arguments and returns the exit code. */
export async function main(argv: readonly string[], env: Env = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    consoleOut.stderr(overview(version()));
    return EXIT.badInput;
  }
  if (command === '--help' || command === '-h') {
    consoleOut.stdout(overview(version()));
    return EXIT.ok;
  }
  if (command === '--version' || command === '-V') {
    consoleOut.stdout(`${version()}\n`);
    return EXIT.ok;
  }
  if (command === 'help') {
    const asked = rest[0] === undefined || rest[0].startsWith('-') ? undefined : rest[0];
    const about = asked === undefined ? undefined : COMMANDS.find((c) => c.name === asked);
    if (asked !== undefined && !about) return unknownCommand(asked);
    consoleOut.stdout(about ? commandHelp(about) : overview(version()));
    return EXIT.ok;
  }
  const spec = COMMANDS.find((c) => c.name === command);
  if (!spec)
    return command.startsWith('-')
      ? fail(`options go after the command: trailguard COMMAND [options] (trailguard --help lists the commands)`)
      : unknownCommand(command);
  if (rest.includes('--help') || rest.includes('-h')) {
    consoleOut.stdout(commandHelp(spec));
    return EXIT.ok;
  }
  try {
    return await run(spec.name, rest, env);
  } catch (error) {
    if (error instanceof UsageProblem) return fail(error.message, spec, error.withUsage);
    if (error instanceof InputProblem || error instanceof TrailguardError) return fail(error.message);
    throw error;
  }
}

function unknownCommand(command: string): number {
  const guess = closest(
    command,
    COMMANDS.map((c) => c.name),
  );
  return fail(`unknown command "${terminalValue(command)}"${guess ? `: did you mean \`${guess}\`?` : ''} (trailguard --help lists the commands)`);
}

async function run(command: string, args: readonly string[], env: Env): Promise<number> {
  // The commands' code, and the AWS SDK behind it, loads when a command runs: usage and help print without it.
  const [
    { dynamoStateStore },
    { breaker },
    { exemptCommand },
    { memberTemplate },
    { backtestEvents, printWarehouseSql, reportCommand, undoCommand },
    { standardOutput },
    { redrive },
    { replay, replayConfig, replayRuleOverrides },
    { sweep },
  ] = await Promise.all([
    import('../shared/state/dynamo-store.js'),
    import('./breaker.js'),
    import('./exempt.js'),
    import('./member-template.js'),
    import('./operators.js'),
    import('./output.js'),
    import('./redrive.js'),
    import('./replay.js'),
    import('./sweep.js'),
  ]);
  switch (command) {
    case 'replay': {
      const { values, positionals } = parseFor(REPLAY, args);
      const mode = modeOf(values.mode, 'offline');
      const format = formatOf(values.format);
      const config = await replayConfig(values.config, env);
      await refuseNotify(values.notify, 'replay', mode, config);
      if (values['print-sql']) {
        // Refused as the backtest it prints would be: a warehouse backtest never runs live.
        if (mode === 'live') throw new UsageProblem('--print-sql shows a backtest query, and a backtest runs offline or dry-run, never live');
        return printWarehouseSql(values, positionals, config, env);
      }
      const backtest = backtestEvents(values, positionals, config, env);
      if (backtest && mode === 'live') throw new UsageProblem('a backtest (--lookup, --s3, --athena, --lake) runs offline or dry-run, never live');
      if (!backtest && positionals.length === 0) throw new UsageProblem('no INPUT given', true);
      return replay({
        mode,
        format,
        configFile: values.config,
        inputs: positionals,
        env,
        notify: values.notify === true,
        all: values.all === true,
        terminal: standardOutput(env),
        ...(backtest ? { events: backtest } : {}),
      });
    }
    case 'report': {
      const { values, positionals } = parseFor(REPORT, args);
      return reportCommand(values, positionals, env);
    }
    case 'undo': {
      const { values, positionals } = parseFor(UNDO, args);
      return undoCommand(values, positionals, await replayConfig(values.config, env), env, await replayRuleOverrides(values.config, env));
    }
    case 'redrive': {
      const { values, positionals } = parseFor(REDRIVE, args);
      if (positionals.length > 0) throw new UsageProblem(`redrive takes no arguments besides its options, got "${positionals[0]}"`);
      const mode = modeOf(values.mode, 'live');
      const format = formatOf(values.format);
      const queueUrl = values.queue ?? env.TRAILGUARD_DLQ_URL;
      if (!queueUrl) throw new UsageProblem('redrive needs --queue URL (the stack output DeadLetterQueueUrl) or TRAILGUARD_DLQ_URL');
      const max = Number(values.max);
      if (!Number.isInteger(max) || max < 1) throw new UsageProblem(`--max must be a positive whole number, got "${values.max}"`);
      const config = await replayConfig(values.config, env);
      await refuseNotify(values.notify, 'redrive', mode, config);
      // Redrive acts like the functions: duplicates of events already handled, and the breaker's cap, live in the state table.
      if (mode === 'live' && !config.stateTable)
        throw new UsageProblem(
          'a live redrive needs the state table, so duplicates are recognised and the circuit breaker caps its writes: set TRAILGUARD_STATE_TABLE (stack output StateTableName) or "stateTable" in --config',
        );
      return redrive({
        queueUrl,
        mode,
        format,
        max,
        config,
        ruleOverrides: await replayRuleOverrides(values.config, env),
        notify: values.notify === true,
        all: values.all === true,
        terminal: standardOutput(env),
      });
    }
    case 'breaker': {
      const { values, positionals } = parseFor(BREAKER, args);
      const [action, rule, extra] = positionals;
      if (action !== 'status' && action !== 'reset') throw new UsageProblem(`breaker needs status or reset${action ? `, got "${action}"` : ''}`, true);
      if (action === 'reset' && !rule) throw new UsageProblem('breaker reset needs the RULE (or RULE:sweep) whose breaker to close');
      if (extra !== undefined) throw new UsageProblem(`breaker takes one RULE, got "${extra}" too`);
      const config: Config = await replayConfig(values.config, env);
      if (!config.stateTable)
        throw new UsageProblem('breaker needs the state table: set TRAILGUARD_STATE_TABLE (stack output StateTableName) or "stateTable" in --config');
      const store = dynamoStateStore(config.stateTable, config.region ?? 'us-east-1', config.endpoint);
      return breaker(action, rule, { store, limits: config.reliability.breaker, terminal: standardOutput(env) });
    }
    case 'sweep': {
      const { values, positionals } = parseFor(SWEEP, args);
      if (positionals.length > 0) throw new UsageProblem(`sweep takes no arguments besides its options, got "${positionals[0]}"`);
      const mode = modeOf(values.mode, 'dry-run');
      const format = formatOf(values.format);
      if (mode === 'offline') throw new UsageProblem("sweep reads the account's current state, which offline never does: use --mode dry-run (default) or live");
      const rule = values.rule === undefined ? undefined : RULE_IDS.find((id) => id === values.rule);
      if (values.rule !== undefined && !rule) {
        const guess = closest(values.rule, RULE_IDS);
        throw new UsageProblem(`--rule must be one of ${RULE_IDS.join(', ')}, got "${values.rule}"${guess ? ` (did you mean ${guess}?)` : ''}`);
      }
      if (values.account !== undefined && !/^\d{12}$/.test(values.account))
        throw new UsageProblem(`--account must be a 12-digit account id, got "${values.account}"`);
      const config = await replayConfig(values.config, env);
      await refuseNotify(values.notify, 'sweep', mode, config);
      const region = values.region ?? config.region;
      if (!region || !/^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/.test(region))
        throw new UsageProblem(`sweep needs a region: --region R or AWS_REGION${region ? `, got "${region}"` : ''}`);
      if (mode === 'live' && !config.stateTable)
        throw new UsageProblem(
          'a live sweep needs the state table, so the circuit breaker caps its writes: set TRAILGUARD_STATE_TABLE (stack output StateTableName) or "stateTable" in --config',
        );
      return sweep({
        rule: rule satisfies RuleId | undefined,
        mode,
        format,
        region,
        account: values.account,
        config,
        ruleOverrides: await replayRuleOverrides(values.config, env),
        notify: values.notify === true,
        terminal: standardOutput(env),
      });
    }
    case 'exempt': {
      const { values, positionals } = parseFor(EXEMPT, args);
      return exemptCommand(positionals, values, await replayConfig(values.config, env), env, standardOutput(env));
    }
    case 'member-template': {
      const { values, positionals } = parseFor(MEMBER_TEMPLATE, args);
      if (positionals.length > 0) throw new UsageProblem(`member-template takes no arguments besides --stdout, got "${positionals[0]}"`);
      return memberTemplate(values.stdout === true);
    }
    default:
      throw new UsageProblem(`unknown command "${command}"`);
  }
}

/** `--notify` where it cannot be honoured (offline, no topic) is refused, not ignored. */
async function refuseNotify(notify: boolean | undefined, command: 'replay' | 'redrive' | 'sweep', mode: Mode, config: Config): Promise<void> {
  if (!notify) return;
  const { notifyFlagProblem } = await import('./publishing.js');
  const problem = await notifyFlagProblem(command, mode, async () => config);
  if (problem) throw new UsageProblem(problem);
}
