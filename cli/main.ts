import { parseArgs } from 'node:util';
import { MODES, type Mode } from '../shared/config.js';
import { TrailguardError } from '../shared/errors.js';
import { consoleOut } from '../shared/log.js';
import { EXIT, replay } from './replay.js';

const USAGE = `usage: trailguard replay [--mode offline|dry-run|live] [--config FILE] [--format text|jsonl] INPUT...

INPUT is a file (EventBridge envelope, bare CloudTrail record, CloudTrail log file {"Records":[...]},
LookupEvents output, JSON lines; .gz allowed), a folder of such files, or - for JSON lines on stdin.
Modes: offline (default: decide from the event alone, no AWS call), dry-run (read-only calls), live.
Exit: 0 all read, 1 a remediation failed, 2 unreadable or invalid input.
`;

/** Runs the CLI with these arguments and returns the exit code. */
export async function main(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = process.env): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    consoleOut.stdout(USAGE);
    return EXIT.ok;
  }
  if (command !== 'replay') {
    consoleOut.stderr(`trailguard: unknown command "${command ?? ''}"\n${USAGE}`);
    return EXIT.badInput;
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: [...rest],
      allowPositionals: true,
      options: {
        mode: { type: 'string', default: 'offline' },
        config: { type: 'string' },
        format: { type: 'string', default: 'text' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    consoleOut.stderr(`trailguard: ${(error as Error).message}\n${USAGE}`);
    return EXIT.badInput;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    consoleOut.stdout(USAGE);
    return EXIT.ok;
  }
  const mode = values.mode as Mode;
  if (!MODES.includes(mode)) {
    consoleOut.stderr(`trailguard: --mode must be one of ${MODES.join(', ')}, got "${values.mode}"\n`);
    return EXIT.badInput;
  }
  if (values.format !== 'text' && values.format !== 'jsonl') {
    consoleOut.stderr(`trailguard: --format must be text or jsonl, got "${values.format}"\n`);
    return EXIT.badInput;
  }
  if (positionals.length === 0) {
    consoleOut.stderr(`trailguard: no INPUT given\n${USAGE}`);
    return EXIT.badInput;
  }
  try {
    return await replay({ mode, format: values.format, configFile: values.config, inputs: positionals, env });
  } catch (error) {
    if (error instanceof TrailguardError || error instanceof SyntaxError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
      consoleOut.stderr(`trailguard: ${(error as Error).message}\n`);
      return EXIT.badInput;
    }
    throw error;
  }
}
