import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { RULES } from '../../functions/rules.js';
import { functionKeyOf, logicalPrefixOf, packageOnce, packageRefused, type Packaged } from '../helpers/template.js';

// Item: names over AWS's limits. The stage is in nearly every name, and a real CreateStack fails on a name that is
// too long while `serverless package` used to exit 0. scripts/name-limits.cjs refuses such a stage at package time.
const { checkNames, namesOf } = createRequire(import.meta.url)('../../scripts/name-limits.cjs') as {
  checkNames: (template: unknown, options: { service: string; stage: string }) => { tooLong: unknown[]; maxStageLength: number };
  namesOf: (template: unknown) => { id: string; name: string; limit: number }[];
};

// The limits as the services document them, independently of the plugin's table.
const LIMITS: Readonly<Record<string, readonly [string, number]>> = {
  'AWS::IAM::Role': ['RoleName', 64],
  'AWS::Lambda::Function': ['FunctionName', 64],
  'AWS::Events::Rule': ['Name', 64],
  'AWS::Events::EventBus': ['Name', 256],
  'AWS::SQS::Queue': ['QueueName', 80],
  'AWS::SNS::Topic': ['TopicName', 256],
  'AWS::DynamoDB::Table': ['TableName', 255],
  'AWS::Logs::LogGroup': ['LogGroupName', 512],
  'AWS::Logs::QueryDefinition': ['Name', 255],
};

const ORGANIZATION = { organizationId: 'o-exampleorg1' };
const TOO_LONG = 'prod-eu-west-1-blue-green'; // the example: 25 characters, in organisation mode
// The longest names are a rule's organisation-bus copy, `trailguard-<stage>-<function>-rule-1-org`, of a rule with
// the longest function key (any of them, when several are as long).
const LONGEST_KEYS = ((keys) => keys.filter((key) => key.length === Math.max(...keys.map((k) => k.length))))(RULES.map((rule) => functionKeyOf(rule.id)));
const orgRuleName = (stage: string, key: string) => `trailguard-${stage}-${key}-rule-1-org`;

let refusal: { status: number | null; output: string };
let longest: number;
let atTheLimit: Packaged;
beforeAll(() => {
  refusal = packageRefused(ORGANIZATION, TOO_LONG);
  longest = Number(/the stage can be at most (\d+) characters/.exec(refusal.output)?.[1]);
  atTheLimit = packageOnce(ORGANIZATION, 'l'.repeat(longest));
});

describe("stage names and AWS's name limits (organisation mode, where names are longest)", () => {
  it('refuses a 25-character stage, naming the longest name and its limit, and the longest stage allowed', () => {
    expect(TOO_LONG).toHaveLength(25);
    expect(refusal.status).not.toBe(0);
    expect(refusal.output).toContain(`stage "${TOO_LONG}" (25 characters) makes names longer than AWS allows`);
    const named = LONGEST_KEYS.map((key) => orgRuleName(TOO_LONG, key));
    expect(named[0]?.length).toBeGreaterThan(64);
    expect(refusal.output).toMatch(
      new RegExp(`the EventBridge rule name "(${named.join('|')})" \\(\\w+\\) would be ${named[0]?.length} characters, over the limit of 64`),
    );
    expect(longest).toBeGreaterThan(0);
    expect(longest).toBeLessThan(25);
  });

  it('packages the longest stage it allows, with every name within its limit', () => {
    const resources = Object.entries(atTheLimit.template.Resources);
    let checked = 0;
    for (const [id, resource] of resources) {
      const [property, limit] = LIMITS[resource.Type] ?? [];
      const name = property ? resource.Properties?.[property] : undefined;
      if (typeof name !== 'string' || limit === undefined) continue;
      expect(name.length, `${id}: ${name}`).toBeLessThanOrEqual(limit);
      checked += 1;
    }
    // Every function, its role and its log group, and each rule on both buses, at least (the bus, queue, topic... too).
    const functions = resources.filter(([, r]) => r.Type === 'AWS::Lambda::Function').length;
    expect(checked).toBeGreaterThanOrEqual(3 * functions + 2 * RULES.length);
    for (const key of LONGEST_KEYS)
      expect(atTheLimit.template.Resources[`${logicalPrefixOf(key)}LambdaFunction`]?.Properties?.FunctionName).toBe(`trailguard-${'l'.repeat(longest)}-${key}`);
  });

  it('allows exactly that stage: one more character puts a name over its limit', () => {
    const { tooLong, maxStageLength } = checkNames(atTheLimit.template, { service: 'trailguard', stage: 'l'.repeat(longest) });
    expect(tooLong).toEqual([]);
    expect(maxStageLength).toBe(longest);
    const atLimit = namesOf(atTheLimit.template).filter((n) => n.name.length === n.limit && n.name.includes(`trailguard-${'l'.repeat(longest)}`));
    for (const key of LONGEST_KEYS) expect(atLimit.map((n) => n.name)).toContain(orgRuleName('l'.repeat(longest), key));
  });
});
