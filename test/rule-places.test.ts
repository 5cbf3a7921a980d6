import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { CHECKS, RULES } from '../functions/rules.js';
import { SWEEPS } from '../functions/sweeps.js';
import { centralFunctions, codeOf as codeRunBy } from '../scripts/member-stack.js';

// Issue 16, item 4: adding a rule touches its own folder and its registry line (docs/rules.md, "Adding a rule"). This test
// builds the list of places that name a rule, its id (`public-bucket`) or its function key (`publicBucket`,
// `publicBucketSweep`, `PublicBucket…` in logical ids), in the repository's files, and fails for a place outside
// those a rule may be named in. Comments are not places: a comment that names a rule as an example asks nothing of
// a new rule. Everything else is: code, strings, YAML values, JSON.

const ROOT = join(import.meta.dirname, '..');
/** This file names every rule in its lists below: it is the census, not a place. */
const SELF = 'test/rule-places.test.ts';

/** Where a rule is named by design: its folder, its samples and tests, the registries, the documentation. */
const REGISTRIES: Readonly<Record<string, string>> = {
  'functions/rules.ts': "the rule registry (RULES, and CHECKS for a rule's scheduled checks)",
  'functions/sweeps.ts': 'the sweep registry (SWEEPS), for a rule with a reconciliation sweep',
  'shared/config.ts': "the settings registry: every rule's settings schema, whose keys are the rule ids (every bundle validates all of TRAILGUARD_RULES)",
};

function isOwnPlace(path: string, rule: string): boolean {
  return (
    path.startsWith(`functions/${rule}/`)
    || path.startsWith(`events/${rule}/`)
    || path.startsWith(`test/functions/${rule}/`)
    || Object.hasOwn(REGISTRIES, path)
    || path === 'README.md'
    || path.startsWith('docs/')
    || /^CHANGELOG(\.md)?$/i.test(path)
  );
}

/**
 * The places outside those that name a rule, each with why. Keep this list short: every entry is a place a new
 * rule may have to touch, or a cross-reference a person reads. An entry no file needs any more fails the test.
 */
const EXCEPTIONS: readonly { readonly path: string; readonly rules: readonly string[]; readonly why: string }[] = [
  {
    path: 'config/replay.sample.json',
    rules: [
      'public-bucket',
      'untagged-instance',
      'open-security-group',
      'trail-logging',
      'shared-image-snapshot',
      'shared-db-snapshot',
      'public-lambda-function',
      'lambda-backdoor',
      'console-access-added',
      'serial-console-enabled',
      'trust-anchor-created',
      'outside-role-trust',
      'outside-bucket-policy',
      'trail-bucket-lifecycle',
      'secrets-bulk-read',
      'denied-calls-burst',
      'ses-enumeration',
      'bedrock-first-use',
      'instance-credentials-outside',
      'instance-user-data-read',
      'remote-session-spread',
    ],
    why: 'the sample configuration shows an exemption per remediation rule (and per counting rule: automation exempt by role); a new rule may add one, and needs none',
  },
  {
    path: 'functions/console-signin-without-mfa/rule.ts',
    rules: ['console-signin-failures', 'root-activity'],
    why: 'its reasons send the reader to the sibling rule that handles the event (a failed sign-in, a root sign-in)',
  },
  {
    path: 'functions/outside-role-trust/rule.ts',
    rules: ['iam-policy-change'],
    why: 'a role trusting outside is CRITICAL when it holds an administrator policy: one list of those (adminPolicyArns), the one iam-policy-change keeps',
  },
  {
    path: 'functions/iam-policy-change/rule.ts',
    rules: ['root-activity'],
    why: 'a root IAM change is folded into the page root-activity sends for it (one page per event): it names the rule that covers it',
  },
  {
    path: 'shared/runner/self-calls.ts',
    rules: ['untagged-instance'],
    why: 'the loop guard tells the enforcement check (the one caller that stops instances) by its role and session names',
  },
  {
    path: 'shared/actions/ec2-create-tags.ts',
    rules: ['untagged-instance'],
    why: 'the CreateTags self signature knows its own writes by the tag keys the untagged-instance settings require',
  },
  {
    path: 'shared/live-config/live-config.ts',
    rules: ['config-store-change'],
    why: 'the alert on changes to the store takes its settings from the deployment only: the store must not switch off its own watch',
  },
  {
    path: 'events/config-store-change/alerted.exemption-added-for-rule.json',
    rules: ['public-bucket'],
    why: "an exemption parameter lives in its rule's folder (<prefix>/exemptions/<rule>/): the per-rule sample names one",
  },
  {
    path: 'test/shared/alerts/findings.test.ts',
    rules: [
      'config-store-change',
      'network-logs-deleted',
      'organization-left',
      'instance-user-data-changed',
      'image-deregistered',
      'federation-token-issued',
      'secrets-bulk-read',
      'parameters-bulk-decrypt',
      'iam-enumerated-by-instance',
      'denied-calls-burst',
      'notebook-lifecycle-attached',
      'model-access-enabled',
      'lambda-backdoor',
      'ses-enumeration',
      'bedrock-first-use',
      'instance-credentials-outside',
      'instance-user-data-read',
      'remote-session-spread',
    ],
    why: "every audit alert's exported FINDINGS against the codes its rule carries: a new alert adds its line",
  },
  {
    path: 'test/shared/controls.test.ts',
    rules: [
      'config-store-change',
      'organization-left',
      'instance-user-data-changed',
      'image-deregistered',
      'federation-token-issued',
      'secrets-bulk-read',
      'parameters-bulk-decrypt',
      'iam-enumerated-by-instance',
      'denied-calls-burst',
      'console-access-added',
      'serial-console-enabled',
      'trust-anchor-created',
      'notebook-lifecycle-attached',
      'model-access-enabled',
      'lambda-backdoor',
      'outside-role-trust',
      'trail-bucket-lifecycle',
      'ses-enumeration',
      'bedrock-first-use',
      'instance-credentials-outside',
      'instance-user-data-read',
      'remote-session-spread',
    ],
    why: 'the rules no Security Hub control matches, named so that a rule without controls is a decision: a new one may add itself',
  },
  {
    path: 'shared/actions/s3-bucket-lifecycle.ts',
    rules: ['trail-bucket-lifecycle'],
    why: 'the lifecycle self signature knows its own writes by the retention the trail-bucket-lifecycle settings keep',
  },
  {
    path: 'test/template/organization.test.ts',
    rules: [
      'secrets-bulk-read',
      'parameters-bulk-decrypt',
      'iam-enumerated-by-instance',
      'denied-calls-burst',
      'outside-bucket-policy',
      'trail-bucket-lifecycle',
      'ses-enumeration',
      'bedrock-first-use',
      'instance-credentials-outside',
      'instance-user-data-read',
    ],
    why: 'the rules whose EventBridge rules must receive read-only calls (state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS on every bus and forwarder), and the bundles past the 150 KB budget, named so that each is a decision',
  },
  {
    path: 'test/cli/replay.test.ts',
    rules: ['outside-bucket-policy', 'denied-calls-burst'],
    why: 'the other rules a folder of public-bucket samples reaches (a bucket policy, a denied call), listed so that a new overlap is seen and decided',
  },
  {
    path: 'shared/actions/ec2-delete-tags.ts',
    rules: ['untagged-instance'],
    why: 'why an undone tagging is not redone says which rule tags, and when (at launch only)',
  },
];

/**
 * Tests outside test/functions/<rule>/ take the rules that exist today as fixtures (a public bucket, a world-open
 * group, a stopped trail, a root call): a new rule needs none of them, and a new rule's id in such a test fails
 * here, so its tests live in its own test folder. Exhaustive maps keyed by rule id are caught apart (ENUMERATIONS).
 */
const FIXTURE_RULES: readonly string[] = [
  'public-bucket',
  'open-security-group',
  'untagged-instance',
  'trail-logging',
  'root-activity',
  'console-signin-without-mfa',
  'console-signin-failures',
  'iam-policy-change',
  'kms-key-deletion',
  'config-recorder-stopped',
  'network-change',
  's3-bucket-deleted',
];

/**
 * Exhaustive maps keyed by rule id (`: Record<RuleId, …>`, `satisfies Record<Exclude<RuleId, AlertRuleId>, …>`): a new
 * rule does not compile until it has an entry, so each is a place a new rule touches. Only these may hold one.
 */
const ENUMERATIONS: Readonly<Record<string, string>> = {
  'test/fault-matrix.test.ts': 'the fault matrix holds each remediation rule to its denied, gone and own-write calls: a new remediation rule adds its three',
  'test/e2e/helpers/invoke.ts': "the end-to-end tests import each rule's handler statically (a bundler-free module graph): a new rule adds its line",
};
const ENUMERATION = /(?::|satisfies)\s*(?:Readonly<)?Record<(?:Exclude<)?(?:RuleId|AlertRuleId)\b/;

/** A file's text without its comments: TypeScript and JavaScript through the compiler's printer, `#` comments of YAML and shell. */
function codeOf(path: string, text: string): string {
  if (/\.(ts|mts|cts|js|mjs|cjs)$/.test(path)) {
    const kind = /\.(ts|mts|cts)$/.test(path) ? ts.ScriptKind.TS : ts.ScriptKind.JS;
    return ts.createPrinter({ removeComments: true }).printFile(ts.createSourceFile(path, text, ts.ScriptTarget.Latest, false, kind));
  }
  if (/\.(ya?ml|sh)$/.test(path) || path.endsWith('.gitignore'))
    return text
      .split('\n')
      .map((line) => line.replace(/(^|\s)#.*$/, '$1'))
      .join('\n');
  return text;
}

/** camelCase function key from a kebab rule id: `public-bucket` → `publicBucket`. */
const keyOf = (rule: string) => rule.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The name of a rule in code: its id as a word of its own (not part of `my-public-bucket-x`), or its function key,
 * camel or Pascal case, starting a word and followed by nothing or a capital (`publicBucketSweep`, not `RestrictPublicBuckets`).
 */
function nameOf(rule: string): RegExp {
  const key = keyOf(rule);
  const pascal = key.charAt(0).toUpperCase() + key.slice(1);
  return new RegExp(`(?<![\\w-])${escapeRegExp(rule)}(?![\\w-])|(?<![A-Za-z0-9])(?:${escapeRegExp(key)}|${escapeRegExp(pascal)})(?![a-z0-9])`);
}

interface Place {
  readonly path: string;
  readonly rule: string;
}

/** Every (file, rule) where the file's code names the rule. */
function placesIn(files: readonly { readonly path: string; readonly text: string }[], rules: readonly string[]): Place[] {
  const patterns = rules.map((rule) => [rule, nameOf(rule)] as const);
  return files.flatMap(({ path, text }) => {
    const code = codeOf(path, text);
    return patterns.filter(([, pattern]) => pattern.test(code)).map(([rule]) => ({ path, rule }));
  });
}

/** The places no rule of its own, registry, exception, fixture or enumeration (a map every rule has an entry in) allows, each as `path: rule`. */
function misplaced(places: readonly Place[], exceptions: typeof EXCEPTIONS = EXCEPTIONS, fixtures: readonly string[] = FIXTURE_RULES): string[] {
  return places
    .filter(({ path, rule }) => !isOwnPlace(path, rule))
    .filter(({ path, rule }) => !exceptions.some((e) => e.path === path && e.rules.includes(rule)))
    .filter(({ path, rule }) => !(path.startsWith('test/') && fixtures.includes(rule)))
    .filter(({ path }) => !Object.hasOwn(ENUMERATIONS, path))
    .map(({ path, rule }) => `${path}: ${rule}`);
}

/** The files that declare an exhaustive map keyed by rule id, but are no listed enumeration. */
function unlistedEnumerations(
  files: readonly { readonly path: string; readonly text: string }[],
  listed: Readonly<Record<string, string>> = ENUMERATIONS,
): string[] {
  return files
    .filter(({ path, text }) => !Object.hasOwn(REGISTRIES, path) && !Object.hasOwn(listed, path) && ENUMERATION.test(codeOf(path, text)))
    .map(({ path }) => path);
}

// The repository: tracked files and new ones not ignored (a place is one before it is committed), as they are now.
const PATHS = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 })
  .split('\n')
  .filter((path) => path !== '' && path !== SELF && existsSync(join(ROOT, path)));
const FILES = [...new Set(PATHS)]
  .sort()
  .map((path) => ({ path, text: readFileSync(join(ROOT, path), 'utf8') }))
  .filter(({ text }) => !text.includes('\0'));
/** The rules: the folders under functions/ with a rule.ts. */
const RULE_IDS = [...new Set(PATHS.map((path) => /^functions\/([^/]+)\/rule\.ts$/.exec(path)?.[1]).filter((id) => id !== undefined))].sort();
const PLACES = placesIn(FILES, RULE_IDS);

describe('the places that name a rule (issue 16: a new rule touches its folder and its registry line)', () => {
  it('finds the rules and their places: every rule in its own folder and in the registry', () => {
    expect(RULE_IDS.length).toBeGreaterThan(0);
    for (const rule of RULE_IDS) {
      expect(
        PLACES.some((place) => place.rule === rule && place.path === `functions/${rule}/rule.ts`),
        rule,
      ).toBe(true);
      expect(
        PLACES.some((place) => place.rule === rule && place.path === 'functions/rules.ts'),
        `${rule} in functions/rules.ts`,
      ).toBe(true);
    }
  });

  it('names no rule outside its folder, its samples and tests, the registries, the documentation and the listed exceptions', () => {
    expect(misplaced(PLACES)).toEqual([]);
  });

  it('declares exhaustive maps keyed by rule id only in the registries and the listed enumerations', () => {
    expect(unlistedEnumerations(FILES)).toEqual([]);
  });

  it('keeps no exception, fixture or enumeration that nothing needs any more', () => {
    for (const exception of EXCEPTIONS) {
      for (const rule of exception.rules) {
        expect(RULE_IDS, `${exception.path}: ${rule} is no rule`).toContain(rule);
        expect(PLACES, `${exception.path} no longer names ${rule}: drop it from EXCEPTIONS`).toContainEqual({ path: exception.path, rule });
      }
    }
    for (const rule of FIXTURE_RULES) expect(RULE_IDS, `FIXTURE_RULES: ${rule} is no rule`).toContain(rule);
    for (const path of Object.keys(ENUMERATIONS)) {
      const file = FILES.find((f) => f.path === path);
      expect(file && ENUMERATION.test(codeOf(path, file.text)), `${path} holds no map keyed by rule id: drop it from ENUMERATIONS`).toBe(true);
    }
  });
});

describe('the census itself (it can fail)', () => {
  const rules = ['public-bucket', 'brand-new-rule'];
  const at = (path: string, text: string) => misplaced(placesIn([{ path, text }], rules));

  it("reports a rule id or function key named in code outside the rule's places", () => {
    expect(at('shared/x.ts', "export const id = 'public-bucket';")).toEqual(['shared/x.ts: public-bucket']);
    expect(at('shared/x.ts', 'const fn = `${stage}-publicBucketSweep-role`;')).toEqual(['shared/x.ts: public-bucket']);
    expect(at('serverless.yml', 'functions:\n  - ${file(./functions/public-bucket/function.yml)}\n')).toEqual(['serverless.yml: public-bucket']);
    expect(at('scripts/x.cjs', "module.exports = { resource: 'PublicBucketLambdaFunction' };")).toEqual(['scripts/x.cjs: public-bucket']);
    expect(at('functions/brand-new-rule/rule.ts', "import { publicBucket } from '../public-bucket/rule.js';")).toEqual([
      'functions/brand-new-rule/rule.ts: public-bucket',
    ]);
  });

  it('reports a new rule named in a test outside its own test folder, and an unlisted exhaustive map', () => {
    expect(at('test/shared/runner/run.test.ts', "run(rules.find((r) => r.id === 'brand-new-rule'));")).toEqual([
      'test/shared/runner/run.test.ts: brand-new-rule',
    ]);
    expect(at('test/shared/runner/run.test.ts', "run(rules.find((r) => r.id === 'public-bucket'));")).toEqual([]);
    expect(at('test/functions/brand-new-rule/decide.test.ts', "const id = 'brand-new-rule';")).toEqual([]);
    expect(unlistedEnumerations([{ path: 'test/x.test.ts', text: 'const CODES: Record<Exclude<RuleId, AlertRuleId>, string> = {};' }])).toEqual([
      'test/x.test.ts',
    ]);
    expect(unlistedEnumerations([{ path: 'test/x.test.ts', text: 'const SOME: Partial<Record<RuleId, string>> = {};' }])).toEqual([]);
  });

  it("allows the rule's own places, and does not read comments or longer words", () => {
    for (const path of [
      'functions/public-bucket/sweep.ts',
      'functions/rules.ts',
      'events/public-bucket/x.json',
      'test/functions/public-bucket/x.test.ts',
      'README.md',
    ]) {
      expect(at(path, "const id = 'public-bucket';"), path).toEqual([]);
    }
    expect(at('shared/x.ts', '// as public-bucket does\n/** publicBucket, for one */\nexport const x = 1;')).toEqual([]);
    expect(at('serverless.yml', '# publicBucket\nkey: value # public-bucket\n')).toEqual([]);
    expect(at('shared/x.ts', "const flags = { RestrictPublicBuckets: true }; const name = 'my-public-bucket-logs';")).toEqual([]);
  });
});

describe('what serverless.yml derives from the rule folders (scripts/rule-files.cjs), against the registries', () => {
  const functions = centralFunctions();
  const ruleFiles = createRequire(import.meta.url)('../scripts/rule-files.cjs') as { writers: () => { key: string }[]; functions: () => string[] };

  it('deploys every function file of every rule folder, each running a rule, sweep or check of the registries', () => {
    expect(ruleFiles.functions().length).toBeGreaterThanOrEqual(RULES.length);
    for (const fn of functions) expect(codeRunBy(fn).id, `${fn.file}: ${fn.key}`).toBe(fn.rule);
    for (const rule of RULES)
      expect(
        functions.filter((fn) => fn.kind === 'event' && fn.rule === rule.id),
        rule.id,
      ).toHaveLength(1);
    for (const sweep of SWEEPS)
      expect(
        functions.filter((fn) => fn.kind === 'sweep' && fn.rule === sweep.rule.id),
        `${sweep.rule.id} sweep`,
      ).toHaveLength(1);
    for (const check of CHECKS)
      expect(
        functions.filter((fn) => fn.kind === 'check' && fn.rule === check.rule.id),
        `${check.rule.id} check`,
      ).toHaveLength(1);
  });

  it('names as the self roles exactly the functions whose code may write (a permission that is no read)', () => {
    const writes = (action: string) => !/^[\w-]+:(Get|Describe|List)[A-Z]/.test(action) && action !== 'iam:PassRole';
    const writing = functions
      .filter((fn) => {
        const sweep = fn.kind === 'sweep' ? SWEEPS.find((s) => s.rule.id === fn.rule) : undefined;
        return [...Object.values(codeRunBy(fn).permissions), ...Object.values(sweep?.permissions ?? {})].some(writes);
      })
      .map((fn) => fn.key);
    expect(
      ruleFiles
        .writers()
        .map((fn) => fn.key)
        .sort(),
    ).toEqual(writing.sort());
    expect(writing.length).toBeGreaterThan(0);
  });
});
