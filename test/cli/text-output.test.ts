import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cut, fitText, wrap } from '../../cli/output.js';
import { replay } from '../../cli/replay.js';
import { colourFor, Terminal, widthOf } from '../../cli/terminal.js';
import { RULE_IDS } from '../../shared/config.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { EVENTS_DIR } from '../helpers/samples.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CONFIG = join(ROOT, 'config', 'replay.sample.json');
const NO_PROGRESS = { isTTY: false, write: () => true };
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC starts the colour sequences this matches
const SGR = /\x1b\[[0-9;]*m/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: a stray ESC is what this test looks for
const ESC = /\x1b/;
// Folders whose samples hold the longest rule ids, the longest reasons, and an event no rule's pattern matches.
const INPUTS = ['console-signin-without-mfa', 'console-signin-failures', 'iam-policy-change', 'untagged-instance'].map((rule) => join(EVENTS_DIR, rule));

async function shown(options: { colour?: boolean; width?: number | undefined; all?: boolean; format?: 'text' | 'jsonl'; inputs?: string[] }) {
  let out = '';
  const terminal = new Terminal(options.colour ?? false, options.width, (text) => {
    out += text;
  });
  const exit = await replay({
    mode: 'offline',
    format: options.format ?? 'text',
    configFile: CONFIG,
    inputs: options.inputs ?? INPUTS,
    env: {},
    terminal,
    all: options.all === true,
    err: () => undefined,
    progress: NO_PROGRESS,
  });
  return { exit, out, lines: out.replace(/\n$/, '').split('\n') };
}

/** The first line of each record: it starts with the severity column. */
const recordLines = (lines: string[]) => lines.map((line) => line.replace(SGR, '')).filter((line) => /^(CRITICAL|HIGH|MEDIUM|LOW|-) +[a-z-]+ /.test(line));

describe('replay text output on a terminal', () => {
  it.each([80, 120, 160, 200])('fits %i columns, every line', async (width) => {
    const { lines } = await shown({ width, colour: true });
    expect(recordLines(lines).length).toBeGreaterThan(20);
    for (const line of lines) expect(widthOf(line), line).toBeLessThanOrEqual(width);
  });

  it.each([80, 160, undefined])('never cuts a rule id (width %s): the rule column holds whole ids', async (width) => {
    const { lines } = await shown({ width });
    const rules = recordLines(lines).map((line) => line.split(/ +/)[2]);
    expect(rules.length).toBeGreaterThan(20);
    for (const rule of rules) expect([...RULE_IDS, '-']).toContain(rule);
    expect(rules).toContain('console-signin-without-mfa');
  });

  it('colours severity and outcome on a terminal, and its only escape sequences are colours', async () => {
    const { out } = await shown({ width: 120, colour: true });
    expect(out).toContain('\x1b[1;31mCRITICAL\x1b[0m');
    expect(out).toContain('\x1b[31mHIGH\x1b[0m');
    expect(out.replace(SGR, '')).not.toMatch(ESC);
  });

  it('has no colour when colour is off', async () => {
    const { out } = await shown({ width: 120, colour: false });
    expect(out).toContain('CRITICAL');
    expect(out).not.toMatch(ESC);
  });

  it('lists only what a rule matched, and counts the rest; --all lists them too', async () => {
    const quiet = await shown({ width: 160 });
    expect(quiet.out).not.toContain('SwitchRole');
    expect(quiet.out).toContain("not listed: 2 events no rule's pattern matches (--all lists them)\n");

    const all = await shown({ width: 160, all: true });
    expect(all.out).toContain('SwitchRole');
    expect(all.out).toContain("no rule's pattern matches aws.signin SwitchRole");
    expect(all.out).not.toContain('not listed');
  });

  it('sums records per outcome and per severity, most urgent first', async () => {
    const { out } = await shown({ format: 'jsonl' });
    const records = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as RemediationRecord);
    const per = (severity: string) => records.filter((r) => r.severity === severity).length;
    const { lines } = await shown({ width: undefined });
    const expected = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW']
      .filter((s) => per(s) > 0)
      .map((s) => `${per(s)} ${s}`)
      .join(', ');
    expect(lines).toContain(`by severity: ${expected}`);
    expect(lines.find((line) => / events?, \d+ records?/.test(line))).toMatch(new RegExp(`^\\d+ events, ${records.length} records: `));
  });

  it('pluralises: 1 event, 1 record', async () => {
    const { lines } = await shown({ inputs: [join(EVENTS_DIR, 'trail-logging', 'exempt.stop-logging-sandbox-trail.json')] });
    expect(lines.at(-2)).toBe('1 event, 1 record: 1 exempt');
    expect(lines.at(-1)).toBe('by severity: none');
  });
});

describe('replay output when piped', () => {
  const run = promisify(execFile);
  const bin = join(ROOT, 'bin', 'trailguard.mjs');

  it('is never cut or coloured, one line per record, even with colour forced but NO_COLOR set', async () => {
    const { NO_COLOR: _noColor, FORCE_COLOR: _forceColor, ...inherited } = process.env;
    const { stdout } = await run(process.execPath, [bin, 'replay', '--config', CONFIG, 'events/iam-policy-change'], {
      cwd: ROOT,
      env: { ...inherited, FORCE_COLOR: '1', NO_COLOR: '1' },
      timeout: 15_000,
    });
    expect(stdout).not.toMatch(ESC);
    expect(Math.max(...stdout.split('\n').map((line) => line.length))).toBeGreaterThan(200);
    expect(stdout).toContain(
      'every principal it is attached to is now an administrator  [events/iam-policy-change/alerted.create-policy-version-admin-as-default.json]',
    );
  });

  it('colours only a terminal, never with NO_COLOR', () => {
    expect(colourFor(true, {})).toBe(true);
    expect(colourFor(false, {})).toBe(false);
    expect(colourFor(true, { NO_COLOR: '1' })).toBe(false);
    expect(colourFor(false, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(false);
  });

  it('prints JSON lines exactly as the records, and nothing else, even on a colour terminal', async () => {
    const { out } = await shown({ format: 'jsonl', colour: true, width: 80, inputs: [join(EVENTS_DIR, 'iam-policy-change')] });
    const records = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as RemediationRecord);
    expect(records.length).toBeGreaterThan(10);
    expect(out).not.toMatch(ESC);
    expect(out).toBe(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  });
});

describe('cut and wrap', () => {
  it('cut keeps colour sequences whole and closes them', () => {
    const red = '\x1b[31mexample-reports-bucket\x1b[0m';
    const cutRed = cut(red, 8);
    expect(widthOf(cutRed)).toBe(8);
    expect(cutRed).toBe('\x1b[31mexample\x1b[0m…');
  });

  it('wrap breaks at spaces, and splits a word longer than the line', () => {
    expect(wrap('a public bucket example-reports', 12)).toEqual(['a public', 'bucket', 'example-repo', 'rts']);
  });
});

describe("fitText (undo's plan on a terminal)", () => {
  const plan = [
    'Plan to undo open-security-group remediated of event evt-group (AuthorizeSecurityGroupIngress by arn:aws:iam::111122223333:user/alice)',
    `      $ aws ec2 authorize-security-group-ingress --region 'eu-west-1' --group-id 'sg-0123456789abcdef0' --ip-permissions '[{"IpProtocol":"tcp"}]'`,
    '    "reason": "remediation undone by an operator on 2026-12-07 (trailguard undo of evt-group): replace with the ticket"',
  ].join('\n');

  it('wraps prose to the width with a hanging indent, and leaves commands and JSON whole to be pasted', () => {
    const lines = fitText(plan, 80).split('\n');
    expect(lines.slice(0, 2)).toEqual([
      'Plan to undo open-security-group remediated of event evt-group',
      '  (AuthorizeSecurityGroupIngress by arn:aws:iam::111122223333:user/alice)',
    ]);
    expect(lines).toContain(plan.split('\n')[1]);
    expect(lines).toContain(plan.split('\n')[2]);
    expect(lines).toHaveLength(4);
  });

  it('changes nothing when piped', () => {
    expect(fitText(plan, undefined)).toBe(plan);
  });
});
