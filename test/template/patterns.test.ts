import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RULES } from '../../functions/rules.js';
import { matchesPattern } from '../../shared/events/pattern.js';
import { isBareRecord, wrapRecord } from '../../shared/events/schema.js';
import { admitsOnlyAwsSources } from '../helpers/template.js';
import { loadSample, sampleNames } from '../helpers/samples.js';

// Every pattern requires an `aws.` source: only AWS services can emit one (PutEvents refuses it to anyone else), so
// no principal can trigger a rule with an event of its own making. The deployed copies are checked in organization.test.ts.
const FUNCTIONS = join(import.meta.dirname, '..', '..', 'functions');
const PATTERN_FILES = readdirSync(FUNCTIONS, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .flatMap((entry) =>
    readdirSync(join(FUNCTIONS, entry.name))
      .filter((file) => file.endsWith('pattern.json'))
      .map((file) => join(entry.name, file)),
  );

describe('the EventBridge patterns', () => {
  it('are one pattern.json per rule, each the pattern its rule matches with', () => {
    expect(PATTERN_FILES.sort()).toEqual(RULES.map((rule) => join(rule.id, 'pattern.json')).sort());
    for (const rule of RULES) expect(JSON.parse(readFileSync(join(FUNCTIONS, rule.id, 'pattern.json'), 'utf8')), rule.id).toEqual(rule.pattern);
  });

  it.each(PATTERN_FILES)('%s admits aws.* sources only', (file) => {
    expect(admitsOnlyAwsSources(JSON.parse(readFileSync(join(FUNCTIONS, file), 'utf8')))).toBe(true);
  });

  it('tells an aws.* source condition from one that admits custom events', () => {
    expect([['aws.s3'], [{ prefix: 'aws.' }], ['aws.ec2', { prefix: 'aws.s' }]].map((source) => admitsOnlyAwsSources({ source }))).toEqual([true, true, true]);
    const open = [
      undefined,
      [],
      ['example.app'],
      [{ prefix: 'aws' }],
      [{ prefix: '' }],
      [{ 'anything-but': 'aws.s3' }],
      [{ exists: true }],
      [{ wildcard: 'aws.*' }],
      ['aws.s3', 'custom'],
    ];
    expect(open.map((source) => admitsOnlyAwsSources(source === undefined ? {} : { source }))).toEqual(open.map(() => false));
  });

  it('root-activity: a custom event dressed as a root sign-in matches no longer, the real one still does', () => {
    const rootActivity = RULES.find((rule) => rule.id === 'root-activity');
    const sample = loadSample('root-activity', sampleNames('root-activity').find((name) => name.includes('console-sign-in-without-mfa')) ?? '');
    const real = (isBareRecord(sample) ? wrapRecord(sample) : sample) as Record<string, unknown>;
    const forged = { ...real, source: 'example.forged' };

    expect(real.source).toBe('aws.signin');
    expect(matchesPattern(rootActivity?.pattern ?? {}, real)).toBe(true);
    expect(matchesPattern(rootActivity?.pattern ?? {}, forged)).toBe(false);
  });
});
