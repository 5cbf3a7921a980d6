import { describe, expect, it } from 'vitest';
import { RULES } from '../functions/rules.js';
import { untaggedInstanceEnforce } from '../functions/untagged-instance/enforce.js';
import { buildBurstNotification } from '../shared/notifier.js';
import type { RemediationRecord } from '../shared/remediation-log.js';
import { ACTION_TYPES } from '../shared/actions/registry.js';
import { reversalCommands, reversalLines, reversalsOf, reversalText } from '../shared/actions/reversal.js';
import type { AnyRule } from '../shared/rule.js';
import { run } from '../shared/runner/run.js';
import { containerAt } from './helpers/json-path.js';
import { DONE_ACTIONS, liveRecords, record } from './helpers/records.js';
import { capturingDeps, loadSample, sampleNames } from './helpers/samples.js';

// Every suggested command, from every rule, the report and undo: whatever an event value holds, it reaches a
// command line only inside single quotes. The marker stands for any event string: a quote (the one character
// single quotes cannot hold), `;`, `$(…)`, backticks and a pipe, around a core that must never be outside quotes.
const CORE = 'm4rk';
const MARKER = `tg'${CORE};$(id)\`id\`|sh`;
const NOTIFIED = ['remediated', 'would-remediate', 'failed', 'alerted'] as const;

/** The text of a line outside single quotes, as a POSIX shell reads it; `open` when a quote is left unclosed. */
function outsideQuotes(line: string): { readonly text: string; readonly open: boolean } {
  let text = '';
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const char = line[i] ?? '';
    if (quoted) {
      if (char === "'") quoted = false;
    } else if (char === "'") {
      quoted = true;
    } else if (char === '\\') {
      // Outside quotes a backslash makes the next character literal: `'\''` is how a quote is written.
      text += line.slice(i, i + 2);
      i += 1;
    } else {
      text += char;
    }
  }
  return { text, open: quoted };
}

/** Lines holding a command with the marker (or any `$(`) outside single quotes, or an unclosed quote. */
function unsafeCommandLines(lines: readonly string[]): string[] {
  return lines.filter((line) => {
    if (!line.includes('aws ')) return false;
    const outside = outsideQuotes(line);
    return outside.open || outside.text.includes(CORE) || outside.text.includes('$(') || outside.text.includes('`');
  });
}

type Path = readonly (string | number)[];

/** The paths of every string in a JSON value. */
function stringPaths(value: unknown, prefix: Path = []): Path[] {
  if (typeof value === 'string') return [prefix];
  if (value === null || typeof value !== 'object') return [];
  const entries: [string | number, unknown][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  return entries.flatMap(([key, child]) => stringPaths(child, [...prefix, key]));
}

/** A copy with the strings at `paths` replaced by the marker. */
function marked<T>(value: T, paths: readonly Path[]): T {
  const copy = structuredClone(value);
  for (const path of paths) {
    const parent = containerAt(copy, path.slice(0, -1));
    parent[path[path.length - 1] as string | number] = MARKER;
  }
  return copy;
}

/** Each string replaced alone (the rest stays valid, so the value reaches the message), then all at once. */
function markedVariants<T>(value: T): T[] {
  const paths = stringPaths(value);
  return [...paths.map((path) => marked(value, [path])), marked(value, paths)];
}

/** The records a person could be sent for this event: as decided, and as every notified outcome with its actions done. */
function recordVariants(decided: RemediationRecord): RemediationRecord[] {
  const done = decided.actions.map((a) => ({ ...a, status: 'done' as const }));
  return [decided, ...NOTIFIED.map((outcome) => ({ ...decided, outcome, actions: done }))];
}

const messageRulesOf = (rule: string | null): AnyRule[] => [
  ...RULES.filter((r) => r.id === rule),
  ...(rule === 'untagged-instance' ? [untaggedInstanceEnforce as AnyRule] : []),
];

/** Every command line a record gives: its rule's message (and the enforcement check's), and its reversals. */
function commandLinesOf(r: RemediationRecord): string[] {
  return [
    ...messageRulesOf(r.rule).flatMap((rule) => rule.message(r).lines),
    ...reversalLines(ACTION_TYPES, r),
    ...reversalsOf(ACTION_TYPES, r).flatMap(({ reversal }) => [reversalText(reversal), ...reversalCommands(reversal)]),
  ];
}

describe('suggested commands quote every event value', () => {
  it.each(RULES.map((rule) => [rule.id, rule] as const))('%s: over every sample with each string field replaced by the marker', async (_id, rule) => {
    const findings: string[] = [];
    let commands = 0;
    let markerQuoted = 0;
    for (const name of sampleNames(rule.id)) {
      const sample = loadSample(rule.id, name) as { detail?: Record<string, unknown> };
      const failed = sample.detail ? { ...sample, detail: { ...sample.detail, errorCode: 'AccessDenied' } } : { ...sample, errorCode: 'AccessDenied' };
      for (const event of [...markedVariants(sample), ...markedVariants(failed)]) {
        const decided = await run(rule, event, capturingDeps());
        for (const r of recordVariants(decided)) {
          const lines = commandLinesOf(r).filter((line) => line.includes('aws '));
          commands += lines.length;
          markerQuoted += lines.filter((line) => line.includes(CORE)).length;
          findings.push(...unsafeCommandLines(lines).map((line) => `${name}: ${line}`));
        }
      }
    }
    expect(findings).toEqual([]);
    seen.set(rule.id, { commands, markerQuoted });
  });

  it('saw commands from the rules that suggest them offline, and event values in some, quoted (else the tests above prove nothing)', () => {
    // public-bucket suggests its command only with the state read in dry-run and live: the records below cover it.
    for (const id of RULES.map((r) => r.id).filter((id) => id !== 'public-bucket')) expect(seen.get(id)?.commands, id).toBeGreaterThan(0);
    // Names AWS allows with `;` and `$` (a Config recorder's, a security group's) are quoted, not refused.
    expect([...seen.values()].reduce((sum, s) => sum + s.markerQuoted, 0)).toBeGreaterThan(0);
  });

  it('over remediation records of every writing rule, for the messages and the report and undo reversals', () => {
    const stop = {
      api: 'EC2.StopInstances',
      status: 'done',
      resource: 'i-0123456789abcdef0',
      params: { InstanceIds: ['i-0123456789abcdef0'] },
      previous: { Tags: {} },
    } as const;
    const schedule = {
      api: 'Scheduler.CreateSchedule',
      status: 'done',
      resource: 'i-0123456789abcdef0',
      params: {
        Name: 'tg-enforce-0123',
        GroupName: 'default',
        Target: { Arn: 'arn:aws:lambda:eu-west-1:111122223333:function:trailguard-enforce', RoleArn: 'r', Input: '{}' },
      },
    } as const;
    const live = liveRecords();
    const records: RemediationRecord[] = [
      ...Object.values(live),
      record({ ...live.bucket, actions: [DONE_ACTIONS.bucketHadSome] }),
      record({ ...live.trail, eventName: 'StopLogging', actions: [DONE_ACTIONS.startLogging] }),
      record({ ...live.instance, actions: [stop, schedule] }),
      // A default VPC group named only by name (a by-content revoke: a by-id one always names the group id).
      record({
        ...live.group,
        actions: [
          {
            ...DONE_ACTIONS.revoke,
            params: { GroupName: 'web', IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] },
          },
        ],
      }),
    ];
    const findings = records.flatMap((original) =>
      markedVariants(original)
        .flatMap((r) => recordVariants(r))
        .flatMap((r) => unsafeCommandLines(commandLinesOf(r)).map((line) => `${original.rule}: ${line}`)),
    );
    expect(findings).toEqual([]);
    // The group name, tag values and a rule's description are names AWS allows with `;` and `$`: quoted, not refused.
    const quoted = records.flatMap((original) => markedVariants(original).flatMap(commandLinesOf)).filter((line) => line.includes(CORE));
    expect(quoted.length).toBeGreaterThan(0);
  });

  it("puts only a 12-digit account and a known rule id into the burst notice's Logs Insights query", () => {
    const window = { maxPerWindow: 20, windowMinutes: 15 };
    const hostile = buildBurstNotification(record({ account: MARKER, rule: MARKER as never }), window, '2026-11-20T09:30:00Z');
    const valid = buildBurstNotification(record(), window, '2026-11-20T09:30:00Z');

    const queryOf = (text: string) => text.split('\n').find((line) => line.includes('filter message'));
    expect(queryOf(hostile.text)).toBe('  filter message = "trailguard remediation" | sort @timestamp desc');
    expect(queryOf(valid.text)).toBe(
      '  filter message = "trailguard remediation" and rule = "public-bucket" and account = "111122223333" | sort @timestamp desc',
    );
  });
});

/** What each rule's sweep above saw, for the check after it (tests in a file run in order). */
const seen = new Map<string, { readonly commands: number; readonly markerQuoted: number }>();
