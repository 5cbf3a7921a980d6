/**
 * What each subcommand accepts and how it explains itself: its options (parsed strictly, per command, so an
 * option of another command is refused rather than ignored), its usage, and at least one example.
 */
import type { ParseArgsConfig } from 'node:util';
import { RULE_IDS } from '../shared/config.js';

/** The options one command declares, as node:util parseArgs takes them. */
export type OptionsSpec = NonNullable<ParseArgsConfig['options']>;

/** One subcommand's declaration. */
export interface CommandSpec {
  readonly name: string;
  /** One line for `trailguard --help`. */
  readonly summary: string;
  /** Synopsis lines, without the leading "trailguard ". */
  readonly usage: readonly string[];
  /** What the command does and what its options mean. */
  readonly details: string;
  readonly examples: readonly string[];
  readonly options: OptionsSpec;
}

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

// Examples name a rule from the settings registry (the first remediating rule), so no rule id is spelled outside its
// places; not from RULES, whose modules load the AWS SDK, which usage text must not wait for (test/cli/bin.test.ts).
const EXAMPLE_RULE = RULE_IDS[0] ?? 'RULE';

export const REPLAY = {
  name: 'replay',
  summary: 'run CloudTrail events through the rules (files, history)',
  usage: [
    'replay [--mode offline|dry-run|live] [--notify] [--config FILE] [--format text|jsonl] [--all] INPUT...',
    'replay --lookup [--lookup-all] [--s3 s3://bucket/prefix] [--since 24h] [--region R] [--mode offline|dry-run] [--all] [INPUT...]',
    'replay --athena TABLE [--database DB] [--output s3://bucket/prefix/] [--catalog C] [--workgroup WG] [--layout account|organization|region] [--since 24h|DAY] [--until DAY] [--region R,...] [--account ID,...] [--mode offline|dry-run] [--print-sql]',
    'replay --lake EVENT_DATA_STORE [--since 24h|DAY] [--until DAY] [--region R,...] [--account ID,...] [--mode offline|dry-run] [--print-sql]',
  ],
  details: `INPUT is a file (EventBridge envelope, bare CloudTrail record, CloudTrail log
file {"Records":[...]}, LookupEvents output, JSON lines; .gz allowed), a folder
of such files, or - for JSON lines on stdin.
  --mode      offline (default): decide from the event alone, no AWS call;
              dry-run: read-only calls; live: acts (needs the state table, so
              duplicates are recognised and the circuit breaker caps writes)
  --lookup    backtest over the account's CloudTrail history (LookupEvents:
              the last 90 days at most, the rules' event sources only);
              --lookup-all reads every management event
  --s3        backtest over the trail's log files in s3://bucket/prefix
  --athena    backtest in Athena over the CloudTrail TABLE (docs/athena.md):
              one query selects the rules' candidate events, decided here;
              --database, --workgroup, --catalog as in Athena, --output for a
              workgroup without a result location; the client's Region is
              AWS_REGION, --region and --account filter the events;
              --layout: the table's partitions (docs/athena.md), default
              account (region, day), organization (account too), region (day)
  --lake      the same on a CloudTrail Lake event data store (ARN or ID)
  --print-sql print the --athena or --lake query and exit, calling nothing
  --since     the backtest's window: 30m, 24h (default), 7d, 90d; --athena
              and --lake also take a day (2026-01-01) and --until
  --format    text (default, a table that fits the terminal) or jsonl (one
              remediation record per line, nothing else)
  --all       text also lists the events no rule's pattern matches (by
              default they are only counted)
  --notify    publish to the alert topic (dry-run or live only)
  --config    JSON file of settings and exemptions (default: TRAILGUARD_*)`,
  examples: [
    'replay events/',
    'replay --format jsonl events/ > remediation.jsonl',
    'replay --lookup --since 7d --region us-east-1',
    'replay --athena cloudtrail_logs --database security \\\n      --since 2026-01-01 --format jsonl > backtest.jsonl',
  ],
  options: {
    ...HELP,
    mode: { type: 'string' },
    config: { type: 'string' },
    format: { type: 'string', default: 'text' },
    notify: { type: 'boolean' },
    all: { type: 'boolean' },
    lookup: { type: 'boolean' },
    'lookup-all': { type: 'boolean' },
    s3: { type: 'string', multiple: true },
    since: { type: 'string' },
    region: { type: 'string' },
    athena: { type: 'string' },
    lake: { type: 'string' },
    database: { type: 'string' },
    workgroup: { type: 'string' },
    catalog: { type: 'string' },
    output: { type: 'string' },
    layout: { type: 'string' },
    until: { type: 'string' },
    account: { type: 'string' },
    'print-sql': { type: 'boolean' },
  },
} as const satisfies CommandSpec;

export const REPORT = {
  name: 'report',
  summary: 'findings by severity, outcomes and exposure from a log',
  usage: ['report [--since 24h] [--severity CRITICAL,HIGH] [--rule RULE,...] [--format text|json|html] [--region R] SOURCE...'],
  details: `SOURCE is remediation-log JSON lines (replay --format jsonl, Lambda or exported
CloudWatch log lines; files or folders), or logs:<log group name prefix> to read
CloudWatch Logs (window --since, default 24h).
  --since     only records of this window (30m, 24h, 7d); files are read
              whole without it
  --severity  only findings of these severities (comma-separated, any case)
  --rule      only findings of these rules (comma-separated rule ids)
  --format    text (default), json or html (one self-contained page)`,
  examples: [
    'report remediation.jsonl',
    'report --severity critical,high --format html remediation.jsonl \\\n      > report.html',
    'report --since 7d logs:/aws/lambda/trailguard-prod-',
  ],
  options: {
    ...HELP,
    since: { type: 'string' },
    format: { type: 'string', default: 'text' },
    region: { type: 'string' },
    severity: { type: 'string' },
    rule: { type: 'string' },
  },
} as const satisfies CommandSpec;

export const UNDO = {
  name: 'undo',
  summary: 'show how to reverse a remediation; --apply reverses it',
  usage: ['undo EVENT_ID --log SOURCE [--apply [--yes] [--force]] [--mode offline|dry-run] [--since 30d] [--region R] [--config FILE]'],
  details: `Prints how to reverse the remediation(s) of EVENT_ID found in --log SOURCE
(the sources report reads).
  --mode      offline (default), or dry-run: also read what the resources
              hold now
  --apply     perform, verify, log (outcome reverted, as your AWS identity)
              and notify the undo, after asking (--yes: don't ask); refused
              while the configuration does not exempt the resources, or the
              rule would remediate the undo again (--force: undo anyway)
  --since     how far back a logs: source is searched (default 30d)`,
  examples: [
    'undo 6f1c2d3e-0000-4000-8000-000000000001 --log remediation.jsonl',
    'undo 6f1c2d3e-0000-4000-8000-000000000001 --apply \\\n      --config prod.json --log logs:/aws/lambda/trailguard-prod-',
  ],
  options: {
    ...HELP,
    log: { type: 'string', multiple: true },
    apply: { type: 'boolean' },
    yes: { type: 'boolean' },
    force: { type: 'boolean' },
    mode: { type: 'string' },
    since: { type: 'string' },
    region: { type: 'string' },
    config: { type: 'string' },
  },
} as const satisfies CommandSpec;

export const REDRIVE = {
  name: 'redrive',
  summary: "run the dead-letter queue's events through the rules again",
  usage: ['redrive --queue URL [--mode live|dry-run|offline] [--notify] [--max N] [--format text|jsonl] [--all] [--config FILE]'],
  details: `Default mode live: a message is deleted once its event reached a final outcome.
A dry-run or offline redrive only reports, and makes every message it read
visible in the queue again at once.
  --queue     the stack output DeadLetterQueueUrl (or TRAILGUARD_DLQ_URL)
  --max       read at most N messages (default 1000)
  --all       text also lists messages no rule's pattern matches
  --notify    a dry-run publishes only with it; a live redrive publishes as
              the functions would`,
  examples: ['redrive --mode dry-run --queue \\\n      https://sqs.us-east-1.amazonaws.com/111122223333/trailguard-prod-dlq'],
  options: {
    ...HELP,
    queue: { type: 'string' },
    mode: { type: 'string' },
    notify: { type: 'boolean' },
    max: { type: 'string', default: '1000' },
    format: { type: 'string', default: 'text' },
    all: { type: 'boolean' },
    config: { type: 'string' },
  },
} as const satisfies CommandSpec;

export const BREAKER = {
  name: 'breaker',
  summary: 'show the circuit breakers of the rules that write',
  usage: ['breaker status [RULE] [--config FILE]', 'breaker reset RULE [--config FILE]'],
  details: `status lists each rule that writes, and its sweep's breaker (RULE:sweep): open
or closed, and its writes in the current window against the limit. reset closes
an open breaker. Needs the state table: TRAILGUARD_STATE_TABLE (stack output
StateTableName) or "stateTable" in --config.`,
  examples: ['breaker status', `breaker reset ${EXAMPLE_RULE}`],
  options: { ...HELP, config: { type: 'string' } },
} as const satisfies CommandSpec;

export const SWEEP = {
  name: 'sweep',
  summary: "check a region's current state for what the rules protect",
  usage: ['sweep [--rule RULE] [--mode dry-run|live] [--notify] [--region R] [--account ID] [--format text|jsonl] [--config FILE]'],
  details: `Runs each finding through its rule (default mode dry-run; live needs the state
table, for the circuit breaker).
  --region    default AWS_REGION
  --account   12 digits: pins bucket writes to the account and keeps other
              accounts' trails out`,
  examples: ['sweep --region eu-west-1', `sweep --rule ${EXAMPLE_RULE} --region eu-west-1 \\\n      --account 111122223333`],
  options: {
    ...HELP,
    rule: { type: 'string' },
    mode: { type: 'string' },
    notify: { type: 'boolean' },
    region: { type: 'string' },
    account: { type: 'string' },
    format: { type: 'string', default: 'text' },
    config: { type: 'string' },
  },
} as const satisfies CommandSpec;

export const MEMBER_TEMPLATE = {
  name: 'member-template',
  summary: 'write the member stack for organisation mode',
  usage: ['member-template [--stdout]'],
  details: `Writes the CloudFormation member stack to dist/member-stack.json, or with
--stdout prints it. Deploy it as a StackSet to every member account and region.`,
  examples: ['member-template', 'member-template --stdout > member-stack.json'],
  options: { ...HELP, stdout: { type: 'boolean' } },
} as const satisfies CommandSpec;

export const EXEMPT = {
  name: 'exempt',
  summary: 'add, list or remove exemptions (Parameter Store, no redeploy)',
  usage: [
    'exempt add --rule RULE|* --resource GLOB --reason TEXT [--expires DATE] [--replace] [--dry-run] [--yes]',
    'exempt list [--rule RULE] [--format text|json]',
    'exempt remove --rule RULE|* --resource GLOB [--dry-run]',
    'exempt remove --expired [--dry-run]',
  ],
  details: `Exemptions live in SSM Parameter Store, one parameter each under
<prefix>/exemptions/<rule|all>/: the functions see a change within their
configuration cache time (configMaxAgeSeconds, default 60 s), no deploy.
The prefix is TRAILGUARD_PARAMETER_PREFIX (stack output ParameterPrefix) or
"parameterPrefix" in --config; the Region AWS_REGION or "region".
  --rule      a rule id, or * for every rule (list: what applies to RULE)
  --resource  a resource id or name; * matches any run, ? one character
  --expires   DATE, YYYY-MM-DD: the last day (UTC) it holds; absent: no expiry
  --replace   add: overwrite the exemption of this rule and glob in place
              (renew it, change its reason or expiry): shows old and new
  --dry-run   show the parameter to create or delete, change nothing
  --yes       add a broad exemption (a glob of few literal characters, or
              rule * with a glob), refused without it
  --expired   remove every expired exemption of the store
  --format    text (default) or json
  --config    JSON file of settings (default: TRAILGUARD_*), every action
list shows who last changed each parameter (IAM's record, needs
ssm:DescribeParameters); a value's own addedBy is shown as a claim only.
Exit 2 when add finds the exemption already there (without --replace), or
remove finds none.`,
  examples: [
    `exempt add --rule ${EXAMPLE_RULE} --resource 'sandbox-*' \\\n      --reason 'SEC-1234: public demo site' --expires 2027-01-31`,
    'exempt list --format json',
    `exempt add --replace --rule ${EXAMPLE_RULE} --resource 'sandbox-*' \\\n      --reason 'SEC-1234: public demo site' --expires 2027-04-30`,
    `exempt remove --rule ${EXAMPLE_RULE} --resource 'sandbox-*'`,
  ],
  options: {
    ...HELP,
    rule: { type: 'string' },
    resource: { type: 'string' },
    reason: { type: 'string' },
    expires: { type: 'string' },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean' },
    expired: { type: 'boolean' },
    replace: { type: 'boolean' },
    format: { type: 'string', default: 'text' },
    config: { type: 'string' },
  },
} as const satisfies CommandSpec;

export const HELP_COMMAND = {
  name: 'help',
  summary: "show this list, or one command's usage",
  usage: ['help [COMMAND]'],
  details: 'The same as trailguard --help, or trailguard COMMAND --help.',
  examples: ['help replay'],
  options: {},
} as const satisfies CommandSpec;

export const COMMANDS: readonly CommandSpec[] = [REPLAY, REPORT, UNDO, REDRIVE, BREAKER, SWEEP, EXEMPT, MEMBER_TEMPLATE, HELP_COMMAND];

const EXIT_CODES = 'Exit: 0 all read, 1 a remediation failed, 2 unreadable or invalid input.';

/** `trailguard --help`: one line per command. */
export function overview(version: string): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `trailguard ${version}: remediates what CloudTrail shows, and reports on it`,
    '',
    'usage: trailguard COMMAND [options]',
    '       trailguard COMMAND --help     trailguard --version',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    EXIT_CODES,
    '',
  ].join('\n');
}

const HELP_WIDTH = 80;

/** A synopsis line, broken before an option where it passes 80 columns; continuation lines indented. */
function synopsis(line: string): string {
  const lines: string[] = [];
  let current = '  trailguard';
  for (const word of line.split(/ (?=[[A-Z-]|--)/)) {
    if (`${current} ${word}`.length > HELP_WIDTH && current.trim() !== 'trailguard') {
      lines.push(current);
      current = `      ${word}`;
    } else {
      current = `${current} ${word}`;
    }
  }
  lines.push(current);
  return lines.join('\n');
}

/** `trailguard COMMAND --help`: synopsis, details, examples. */
export function commandHelp(spec: CommandSpec): string {
  return [
    `usage:${spec.usage.map((line) => `\n${synopsis(line)}`).join('')}`,
    '',
    spec.details,
    '',
    'examples:',
    ...spec.examples.map((example) => `  trailguard ${example}`),
    '',
  ].join('\n');
}

/** The short form printed under a usage problem. */
export function usageLines(spec: CommandSpec): string {
  return `usage:${spec.usage.map((line) => `\n${synopsis(line)}`).join('')}\n(trailguard ${spec.name} --help for details and examples)\n`;
}

/** The commands that declare an option, for "--apply goes with undo". */
export function commandsWithOption(option: string): string[] {
  return COMMANDS.filter((c) => option in c.options).map((c) => c.name);
}
