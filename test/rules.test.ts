import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RULES } from '../functions/rules.js';
import { RULE_IDS } from '../shared/config.js';
import { matchesPattern } from '../shared/events/pattern.js';
import { toEnvelopeJson } from '../shared/events/schema.js';
import { OUTCOMES } from '../shared/remediation-log.js';
import { expectedOutcome, loadSample, sampleNames } from './helpers/samples.js';

const FUNCTIONS_DIR = join(import.meta.dirname, '..', 'functions');

describe('the rule registry', () => {
  it('holds one rule per folder under functions/, with ids as folder names', () => {
    const folders = readdirSync(FUNCTIONS_DIR, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    expect(RULES.map((rule) => rule.id).sort()).toEqual(folders);
    expect(folders.every((folder) => (RULE_IDS as readonly string[]).includes(folder))).toBe(true);
  });

  describe.each(RULES.map((rule) => [rule.id, rule] as const))('%s', (ruleId, rule) => {
    it('names every sample after an outcome, and has would-remediate (or alerted), compliant and ignored samples', () => {
      const outcomes = new Set(sampleNames(ruleId).map(expectedOutcome));
      for (const outcome of outcomes) expect(OUTCOMES).toContain(outcome);
      expect(outcomes.has('would-remediate') || outcomes.has('alerted')).toBe(true);
      expect(outcomes).toContain('compliant');
      expect(outcomes).toContain('ignored');
    });

    it('matches every sample it is meant to handle with its EventBridge pattern', () => {
      const handled = sampleNames(ruleId).filter((name) => expectedOutcome(name) !== 'ignored');
      expect(handled.length).toBeGreaterThan(0);
      for (const name of handled) expect(matchesPattern(rule.pattern, toEnvelopeJson(loadSample(ruleId, name))), name).toBe(true);
    });

    it('declares each API it calls as Service.Operation with an IAM action', () => {
      for (const [api, action] of Object.entries(rule.permissions)) {
        expect(api).toMatch(/^[A-Za-z0-9]+\.[A-Z][A-Za-z0-9]+$/);
        expect(action).toMatch(/^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$/);
      }
    });
  });
});
