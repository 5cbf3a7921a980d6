import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { breaker } from '../../cli/breaker.js';
import { Terminal } from '../../cli/terminal.js';
import { redrive } from '../../cli/redrive.js';
import { replay } from '../../cli/replay.js';
import { report } from '../../cli/report.js';
import { undo } from '../../cli/undo.js';
import { parseConfig } from '../../shared/config.js';
import { consoleOut } from '../../shared/log.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import type { StateStore } from '../../shared/state/store.js';
import { DONE_ACTIONS, record } from '../helpers/records.js';
import { loadSample, withDetail } from '../helpers/samples.js';

// What an attacker puts in a name that trailguard prints: OSC 0 sets the window title, CSI 2J clears the
// screen, U+009B is a one-byte CSI, OSC 52 writes the clipboard (some terminals), CR overwrites the line.
const HOSTILE = 'evil\u001b]0;pwned\u0007\u001b[2J\u009b31m\u001b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\u0007\rOK\u202eend';
// ESC, BEL, CR and every other C0 but the line feed, DEL, C1; and the bidi override.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the controls this test looks for, listed apart from safe-text.ts's \p{Cc}
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/;
const ROOT = join(import.meta.dirname, '..', '..');
const CONFIG = join(ROOT, 'config', 'replay.sample.json');
const NO_PROGRESS = { isTTY: false, write: () => true };
const sqs = mockClient(SQSClient);
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trailguard-terminal-'));
});
beforeEach(() => {
  sqs.reset().rejects(new Error('unexpected SQS call'));
});
afterEach(() => {
  sqs.reset();
  vi.restoreAllMocks();
});

/** A denied StopLogging naming the hostile trail: its name reaches the record's resource and reason. */
function hostileEventFile(): string {
  const sample = loadSample('trail-logging', 'alerted.stop-logging-access-denied');
  const path = join(dir, 'hostile.json');
  writeFileSync(path, JSON.stringify(withDetail(sample, { requestParameters: { name: HOSTILE }, userAgent: HOSTILE })));
  return path;
}

/** A log file of one record carrying the hostile value in every field a person reads. */
function hostileLogFile(): string {
  const hostile = record({
    eventId: 'evt-hostile',
    eventTime: HOSTILE,
    account: HOSTILE,
    actor: HOSTILE,
    userAgent: HOSTILE,
    reason: `example-reports is public ${HOSTILE}`,
    resources: [{ type: 'AWS::S3::Bucket', id: 'example-reports', name: HOSTILE }],
    actions: [DONE_ACTIONS.bucketHadNone],
  });
  const failed = record({
    eventId: 'evt-failed',
    outcome: 'failed',
    actor: HOSTILE,
    reason: HOSTILE,
    error: { kind: 'denied', code: HOSTILE, message: HOSTILE },
  });
  const path = join(dir, 'hostile.jsonl');
  writeFileSync(path, `${JSON.stringify(hostile)}\n${JSON.stringify(failed)}\n`);
  return path;
}

describe('terminal output carries no control or escape sequence from event values', () => {
  it('replay --format text shows the escapes as text, with no ESC or C1 byte', async () => {
    let out = '';
    const exit = await replay({
      mode: 'offline',
      format: 'text',
      configFile: CONFIG,
      inputs: [hostileEventFile()],
      env: {},
      out: (t) => {
        out += t;
      },
      err: () => undefined,
      progress: NO_PROGRESS,
    });

    expect(exit).toBe(0);
    expect(out).toContain('alerted');
    expect(out).toContain('evil\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m\\u001b]52;c;');
    expect(out).not.toMatch(UNSAFE);
  });

  it("replay's messages keep event values on their line: a line feed in an id or a file name forges no line", async () => {
    const forged = 'would-remediate   public-bucket  all good, nothing to see';
    const invalid = withDetail(loadSample('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read'), { eventName: 5 });
    const path = join(dir, `bad\n${forged}.json`);
    writeFileSync(path, JSON.stringify({ ...(invalid as object), id: `abc)\n${forged}` }));
    let err = '';
    const exit = await replay({
      mode: 'offline',
      format: 'text',
      configFile: CONFIG,
      inputs: [path],
      env: {},
      out: () => undefined,
      err: (t) => {
        err += t;
      },
      progress: NO_PROGRESS,
    });

    expect(exit).toBe(2);
    expect(err).toContain('invalid event');
    expect(err.trimEnd().split('\n')).toHaveLength(1);
    expect(err).toContain(`abc)\\u000a${forged}`);
  });

  it('replay --format jsonl stays JSON with the same values, with no ESC or C1 byte', async () => {
    let out = '';
    await replay({
      mode: 'offline',
      format: 'jsonl',
      configFile: CONFIG,
      inputs: [hostileEventFile()],
      env: {},
      out: (t) => {
        out += t;
      },
      err: () => undefined,
      progress: NO_PROGRESS,
    });

    expect(out).not.toMatch(UNSAFE);
    // A denied StopLogging is trail-logging's and (a denied call) denied-calls-burst's: every line is JSON; the first is trail-logging's.
    const lines = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as RemediationRecord);
    expect(lines.length).toBeGreaterThan(0);
    const printed = lines[0] as RemediationRecord;
    expect(printed.userAgent).toBe(HOSTILE);
    expect(printed.reason).toContain(HOSTILE.slice(0, 40));
  });

  it.each(['text', 'json', 'html'] as const)('report --format %s', async (format) => {
    let out = '';
    const exit = await report({
      sources: [hostileLogFile()],
      format,
      since: undefined,
      region: 'eu-west-1',
      endpoint: undefined,
      out: (t) => {
        out += t;
      },
      err: () => undefined,
      progress: NO_PROGRESS,
    });

    expect(exit).toBe(0);
    expect(out).toContain('example-reports');
    expect(out).not.toMatch(UNSAFE);
    if (format === 'json') expect(JSON.stringify(JSON.parse(out))).toContain('\\u001b]0;pwned');
  });

  it('undo prints the plan with no ESC or C1 byte', async () => {
    let out = '';
    const exit = await undo({
      eventId: 'evt-hostile',
      sources: [hostileLogFile()],
      apply: false,
      mode: 'offline',
      config: parseConfig({}),
      region: 'eu-west-1',
      since: undefined,
      out: (t) => {
        out += t;
      },
      err: () => undefined,
      progress: NO_PROGRESS,
    });

    expect(exit).toBe(0);
    expect(out).toContain("aws s3api delete-public-access-block --region 'eu-west-1' --bucket 'example-reports'");
    expect(out).toContain('by evil ]0;pwned');
    expect(out).not.toMatch(UNSAFE);
  });

  it('breaker status shows a stored reason with no ESC or C1 byte', async () => {
    let out = '';
    const store = {
      breakerState: async () => ({ open: true, since: '2026-11-20T09:15:00Z', reason: HOSTILE }),
      windowTotal: async () => 51,
      resetBreaker: async () => undefined,
    } as unknown as StateStore;
    const exit = await breaker('status', 'public-bucket', {
      store,
      limits: { maxWrites: 50, windowMinutes: 10 },
      terminal: new Terminal(false, undefined, (t) => {
        out += t;
      }),
    });

    expect(exit).toBe(0);
    expect(out).toContain('open since 2026-11-20T09:15:00Z (evil\\u001b]0;pwned');
    expect(out).not.toMatch(UNSAFE);
  });

  it('redrive reports an unreadable message with no ESC or C1 byte', async () => {
    let err = '';
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [{ MessageId: HOSTILE, Body: 'not json', ReceiptHandle: 'r' }] })
      .resolves({});
    await redrive({
      queueUrl: 'https://sqs.eu-west-1.amazonaws.com/111122223333/dlq',
      mode: 'offline',
      format: 'text',
      max: 1,
      config: parseConfig({}),
      out: () => undefined,
      err: (t) => {
        err += t;
      },
    });

    expect(err).toContain('message evil\\u001b]0;pwned');
    expect(err).not.toMatch(UNSAFE);
  });

  it("consoleOut, the CLI's one way to the console, writes no ESC or C1 byte (replay's and main's messages)", () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    consoleOut.stderr(`trailguard: ${HOSTILE}: invalid event\n`);

    expect(written.join('')).toContain('trailguard: evil\\u001b]0;pwned');
    expect(written.join('')).not.toMatch(UNSAFE);
  });
});
