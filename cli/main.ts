import { parseArgs } from 'node:util';
import { MODES, RULE_IDS, type Config, type Mode, type RuleId } from '../shared/config.js';
import { TrailguardError } from '../shared/errors.js';
import { consoleOut } from '../shared/log.js';
import { dynamoStateStore } from '../shared/state/dynamo-store.js';
import { breaker } from './breaker.js';
import { backtestEvents, reportCommand, undoCommand, UsageProblem } from './operators.js';
import { notifyFlagProblem } from './publishing.js';
import { redrive } from './redrive.js';
import { EXIT, replay, replayConfig } from './replay.js';
import { sweep } from './sweep.js';

const USAGE = `usage:
  trailguard replay [--mode offline|dry-run|live] [--notify] [--config FILE] [--format text|jsonl] INPUT...
  trailguard replay --lookup [--lookup-all] [--s3 s3://bucket/prefix] [--since 24h] [--region R] [--mode offline|dry-run] [--notify] [INPUT...]
  trailguard report [--since 24h] [--format text|json|html] [--region R] SOURCE...
  trailguard undo EVENT_ID --log SOURCE [--apply [--yes] [--force]] [--mode offline|dry-run] [--since 30d] [--config FILE]
  trailguard redrive --queue URL [--mode live|dry-run|offline] [--notify] [--config FILE] [--format text|jsonl] [--max N]
  trailguard breaker status [RULE] | trailguard breaker reset RULE   [--config FILE]
  trailguard sweep [--rule RULE] [--mode dry-run|live] [--notify] [--region R] [--account ID] [--config FILE] [--format text|jsonl]

replay: INPUT is a file (EventBridge envelope, bare CloudTrail record, CloudTrail log file {"Records":[...]},
  LookupEvents output, JSON lines; .gz allowed), a folder of such files, or - for JSON lines on stdin.
  Modes: offline (default: decide from the event alone, no AWS call), dry-run (read-only calls), live
  (needs the state table: duplicates are recognised, the circuit breaker caps its writes).
  Backtest: --lookup reads the account's CloudTrail history (LookupEvents, filtered by the rules' event
  sources; --lookup-all reads every management event), --s3 the trail's log files; both within --since.
report: SOURCE is remediation-log JSON lines (replay --format jsonl, Lambda or CloudWatch-exported log
  lines; files or folders) or logs:<log group name prefix> (CloudWatch Logs, window --since, default 24h).
undo: prints how to reverse the remediation(s) of EVENT_ID found in --log SOURCE (same sources as report);
  --mode dry-run also reads the resources now; --apply performs, verifies, logs (outcome reverted, by your AWS
  identity) and notifies the undo, after asking (--yes: don't ask); it refuses while the loaded configuration
  does not exempt the resources, or the rule would remediate the undo again (--force: undo anyway).
redrive: takes the dead-letter queue's events through the rules again (default mode live; a message is
  deleted once its event reached a final outcome). The queue URL is the stack output DeadLetterQueueUrl.
breaker: shows or resets a rule's circuit breaker (needs TRAILGUARD_STATE_TABLE or "stateTable" in --config).
sweep: checks the current state of one region (default AWS_REGION) for what the rules protect and runs each
  finding through its rule (default mode dry-run; live needs the state table, for the circuit breaker).
  --account (12 digits) pins bucket writes to the account and keeps other accounts' trails out.
--notify: publish to the alert topic. Replay (and backtests) and dry-runs publish only with it; a live redrive
  or sweep publishes as the functions would; offline never publishes.
Exit: 0 all read, 1 a remediation failed, 2 unreadable or invalid input.
`;

type Env = Readonly<Record<string, string | undefined>>;

const OPTIONS = {
  mode: { type: 'string' },
  config: { type: 'string' },
  format: { type: 'string', default: 'text' },
  queue: { type: 'string' },
  max: { type: 'string', default: '1000' },
  rule: { type: 'string' },
  region: { type: 'string' },
  account: { type: 'string' },
  since: { type: 'string' },
  log: { type: 'string', multiple: true },
  apply: { type: 'boolean' },
  yes: { type: 'boolean' },
  force: { type: 'boolean' },
  notify: { type: 'boolean' },
  lookup: { type: 'boolean' },
  'lookup-all': { type: 'boolean' },
  s3: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

function fail(message: string): number {
  consoleOut.stderr(`trailguard: ${message}\n`);
  return EXIT.badInput;
}

/** Runs the CLI with these arguments and returns the exit code. */
export async function main(argv: readonly string[], env: Env = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    consoleOut.stdout(USAGE);
    return command === undefined ? EXIT.badInput : EXIT.ok;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: [...rest], allowPositionals: true, options: OPTIONS });
  } catch (error) {
    return fail(`${(error as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    consoleOut.stdout(USAGE);
    return EXIT.ok;
  }
  const defaultMode: Mode = command === 'redrive' ? 'live' : command === 'sweep' ? 'dry-run' : 'offline';
  const mode = (values.mode ?? defaultMode) as Mode;
  if (!MODES.includes(mode)) return fail(`--mode must be one of ${MODES.join(', ')}, got "${values.mode}"`);
  if (command !== 'report' && values.format !== 'text' && values.format !== 'jsonl') return fail(`--format must be text or jsonl, got "${values.format}"`);
  const format = values.format === 'jsonl' ? 'jsonl' : 'text';
  try {
    const notifyProblem = values.notify ? await notifyFlagProblem(command, mode, () => replayConfig(values.config, env)) : undefined;
    if (notifyProblem) return fail(notifyProblem);
    const notify = values.notify === true;
    switch (command) {
      case 'replay': {
        const backtest = values.lookup || values.s3 ? backtestEvents(values, positionals, await replayConfig(values.config, env), env) : undefined;
        if (backtest && mode === 'live') return fail('a backtest (--lookup, --s3) runs offline or dry-run, never live');
        if (!backtest && positionals.length === 0) return fail(`no INPUT given\n${USAGE}`);
        return await replay({ mode, format, configFile: values.config, inputs: positionals, env, notify, ...(backtest ? { events: backtest } : {}) });
      }
      case 'report':
        return await reportCommand(values, positionals, env);
      case 'undo':
        return await undoCommand(values, positionals, await replayConfig(values.config, env), env);
      case 'redrive': {
        const queueUrl = values.queue ?? env.TRAILGUARD_DLQ_URL;
        if (!queueUrl) return fail('redrive needs --queue URL (the stack output DeadLetterQueueUrl) or TRAILGUARD_DLQ_URL');
        const max = Number(values.max);
        if (!Number.isInteger(max) || max < 1) return fail(`--max must be a positive whole number, got "${values.max}"`);
        const config = await replayConfig(values.config, env);
        // Redrive acts like the functions: duplicates of events already handled, and the breaker's cap, live in the state table.
        if (mode === 'live' && !config.stateTable) return fail('a live redrive needs the state table, so duplicates are recognised and the circuit breaker caps its writes: set TRAILGUARD_STATE_TABLE (stack output StateTableName) or "stateTable" in --config');
        return await redrive({ queueUrl, mode, format, max, config, notify });
      }
      case 'breaker': {
        const config: Config = await replayConfig(values.config, env);
        if (!config.stateTable) return fail('breaker needs the state table: set TRAILGUARD_STATE_TABLE (stack output StateTableName) or "stateTable" in --config');
        const store = dynamoStateStore(config.stateTable, config.region ?? 'us-east-1', config.endpoint);
        return await breaker(positionals[0], positionals[1], store);
      }
      case 'sweep': {
        if (mode === 'offline') return fail('sweep reads the account\'s current state, which offline never does: use --mode dry-run (default) or live');
        if (values.rule !== undefined && !RULE_IDS.includes(values.rule as RuleId)) return fail(`--rule must be one of ${RULE_IDS.join(', ')}, got "${values.rule}"`);
        if (values.account !== undefined && !/^\d{12}$/.test(values.account)) return fail(`--account must be a 12-digit account id, got "${values.account}"`);
        const config = await replayConfig(values.config, env);
        const region = values.region ?? config.region;
        if (!region || !/^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/.test(region)) return fail(`sweep needs a region: --region R or AWS_REGION${region ? `, got "${region}"` : ''}`);
        if (mode === 'live' && !config.stateTable) return fail('a live sweep needs the state table, so the circuit breaker caps its writes: set TRAILGUARD_STATE_TABLE (stack output StateTableName) or "stateTable" in --config');
        return await sweep({ rule: values.rule as RuleId | undefined, mode, format, region, account: values.account, config, notify });
      }
      default:
        return fail(`unknown command "${command}"\n${USAGE}`);
    }
  } catch (error) {
    if (error instanceof UsageProblem || error instanceof TrailguardError || error instanceof SyntaxError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
      return fail((error as Error).message);
    }
    throw error;
  }
}
