import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { COMMANDS } from '../../cli/commands.js';
import { main } from '../../cli/main.js';
import { memberTemplate } from '../../cli/member-template.js';
import { closest, editDistance } from '../../cli/usage.js';
import { memberStackTemplate } from '../../scripts/member-stack.js';
import { captureConsole } from '../helpers/console-capture.js';

const ROOT = join(import.meta.dirname, '..', '..');
const EVENTS = join(ROOT, 'events', 'public-bucket');

afterEach(() => {
  vi.restoreAllMocks();
});

describe('trailguard --help, help COMMAND, COMMAND --help', () => {
  it('lists every command on one line each', async () => {
    const { out } = captureConsole();
    expect(await main(['--help'], {})).toBe(0);
    for (const command of COMMANDS) expect(out()).toMatch(new RegExp(`^ {2}${command.name} +\\S.*$`, 'm'));
    expect(out()).toContain('member-template');
  });

  it.each(COMMANDS.filter((c) => c.name !== 'help').map((c) => c.name))("shows %s's own usage with an example, by --help and by help", async (name) => {
    const { out } = captureConsole();
    expect(await main([name, '--help'], {})).toBe(0);
    const byFlag = out();
    expect(byFlag).toMatch(new RegExp(`^usage:\\n {2}trailguard ${name}\\b`));
    expect(byFlag).toMatch(new RegExp(`\\nexamples:\\n {2}trailguard ${name}\\b`));
    expect(await main(['help', name], {})).toBe(0);
    expect(out()).toBe(byFlag + byFlag);
  });

  it("fits 80 columns, the list and every command's usage", async () => {
    const { out } = captureConsole();
    await main(['--help'], {});
    for (const command of COMMANDS) await main(['help', command.name], {});
    const lines = out().split('\n');
    expect(lines.length).toBeGreaterThan(100);
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80);
  });

  it("prints package.json's version", async () => {
    const { out } = captureConsole();
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await main(['--version'], {})).toBe(0);
    expect(out()).toBe(`${version}\n`);
  });
});

describe("a command's options are its own", () => {
  it("refuses report --apply, saying where --apply belongs, with report's usage", async () => {
    const { err } = captureConsole();
    expect(await main(['report', '--apply', 'log.jsonl'], {})).toBe(2);
    expect(err()).toContain('trailguard: report has no option --apply: it goes with undo\nusage:\n  trailguard report [--since 24h]');
    expect(err()).not.toContain('trailguard replay');
  });

  it('guesses a mistyped option of the same command', async () => {
    const { err } = captureConsole();
    expect(await main(['replay', '--mdoe', 'live', EVENTS], {})).toBe(2);
    expect(err()).toContain('replay has no option --mdoe (did you mean --mode?)');
  });

  it('refuses an option before the command', async () => {
    const { err } = captureConsole();
    expect(await main(['--config', 'x.json', 'replay'], {})).toBe(2);
    expect(err()).toContain('options go after the command');
  });

  it('refuses a breaker action it does not know', async () => {
    const { err } = captureConsole();
    expect(await main(['breaker', 'open', 'public-bucket'], { TRAILGUARD_STATE_TABLE: 'trailguard-state' })).toBe(2);
    expect(err()).toContain('breaker needs status or reset, got "open"');
  });
});

describe('unknown commands', () => {
  it.each([
    ['repaly', 'replay'],
    ['reprot', 'report'],
    ['sweeep', 'sweep'],
    ['member-templat', 'member-template'],
    ['brekaer', 'breaker'],
  ])('suggests a close command for %s', async (typo, meant) => {
    const { err } = captureConsole();
    expect(await main([typo], {})).toBe(2);
    expect(err()).toBe(`trailguard: unknown command "${typo}": did you mean \`${meant}\`? (trailguard --help lists the commands)\n`);
  });

  it('guesses nothing for a word that is close to no command', async () => {
    const { err } = captureConsole();
    expect(await main(['deploy'], {})).toBe(2);
    expect(err()).toBe('trailguard: unknown command "deploy" (trailguard --help lists the commands)\n');
  });

  it('measures distance with swaps as one edit', () => {
    expect(editDistance('repaly', 'replay')).toBe(1);
    expect(editDistance('sweep', 'sweep')).toBe(0);
    expect(editDistance('undo', 'redrive')).toBeGreaterThan(3);
    expect(closest('xyz', ['replay', 'report'])).toBeUndefined();
  });
});

describe('a --config file that cannot be used', () => {
  it('says in words that the file does not exist, never a bare ENOENT', async () => {
    const { err } = captureConsole();
    expect(await main(['replay', '--config', 'no-such-config.json', EVENTS], {})).toBe(2);
    expect(err()).toBe('trailguard: --config no-such-config.json: no such file\n');
  });

  it('says a folder is not a file', async () => {
    const { err } = captureConsole();
    expect(await main(['sweep', '--config', ROOT, '--region', 'eu-west-1'], {})).toBe(2);
    expect(err()).toBe(`trailguard: --config ${ROOT}: is a folder, not a file\n`);
  });
});

describe('trailguard member-template', () => {
  it('prints only the member stack with --stdout', async () => {
    const { out } = captureConsole();
    expect(await main(['member-template', '--stdout'], {})).toBe(0);
    expect(JSON.parse(out())).toEqual(JSON.parse(JSON.stringify(memberStackTemplate())));
  });

  it('writes the stack to a file and says where', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'trailguard-member-')), 'dist', 'member-stack.json');
    let said = '';
    expect(
      memberTemplate(
        false,
        (t) => {
          said += t;
        },
        file,
      ),
    ).toBe(0);
    expect(said).toBe(`wrote ${file}\n`);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(JSON.parse(JSON.stringify(memberStackTemplate())));
  });

  it("refuses another command's option", async () => {
    const { err } = captureConsole();
    expect(await main(['member-template', '--format', 'jsonl'], {})).toBe(2);
    expect(err()).toContain('member-template has no option --format: it goes with replay, report, redrive, sweep');
  });
});
