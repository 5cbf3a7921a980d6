import { PutEventsCommand, PutRuleCommand, PutTargetsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { beforeAll, describe, expect, it } from 'vitest';
import { RULES } from '../../functions/rules.js';
import { RULE_IDS } from '../../shared/config.js';
import { matchesPattern } from '../../shared/events/pattern.js';
import { isBareRecord, wrapRecord } from '../../shared/events/schema.js';
import { loadSample, sampleNames } from '../helpers/samples.js';
import { aws, createQueue, drainQueue, resetEmulator } from './helpers/emulator.js';

/**
 * The deployed patterns checked a second way: each rule's pattern.json on the emulator's EventBridge bus
 * with an SQS target, every sample put on the bus, and what EventBridge routed compared with what the
 * local matcher (which replay uses to route) decides. A sample is one case; some are made to miss.
 */

interface Case {
  readonly key: string;
  readonly envelope: Record<string, unknown> & { detail: Record<string, unknown> };
}

/** Every sample as EventBridge would deliver it (bare records wrapped), plus near misses of a few. */
function cases(): Case[] {
  const all: Case[] = [];
  for (const rule of RULE_IDS) {
    for (const name of sampleNames(rule)) {
      const sample = loadSample(rule, name);
      const envelope = structuredClone(isBareRecord(sample) ? wrapRecord(sample) : sample) as Case['envelope'];
      all.push({ key: `${rule}/${name}`, envelope });
    }
  }
  // The near misses start from a violation: a remediation rule's would-remediate sample, an alert's alerted one.
  const first = (rule: string) => all.find((c) => c.key.startsWith(`${rule}/would-remediate.`)) ?? all.find((c) => c.key.startsWith(`${rule}/alerted.`));
  const misses: Case[] = [];
  for (const rule of RULE_IDS) {
    const base = first(rule);
    if (!base) continue;
    const variant = (suffix: string, change: (envelope: Case['envelope']) => void) => {
      const envelope = structuredClone(base.envelope);
      change(envelope);
      misses.push({ key: `${base.key}~${suffix}`, envelope });
    };
    variant('eventName-lower-case', (e) => {
      e.detail.eventName = String(e.detail.eventName).toLowerCase();
    });
    variant('console-sign-in-detail-type', (e) => {
      e['detail-type'] = 'AWS Console Sign In via CloudTrail';
    });
    variant('other-event-source', (e) => {
      e.detail.eventSource = 'iam.amazonaws.com';
    });
  }
  return [...all, ...misses];
}

/** The event as a PutEvents entry; the case key goes in the record's eventID to find it in the queues. */
function entryOf({ key, envelope }: Case): PutEventsRequestEntry {
  return {
    Source: String(envelope.source),
    DetailType: String(envelope['detail-type']),
    Detail: JSON.stringify({ ...envelope.detail, eventID: key }),
    Resources: (envelope.resources as string[] | undefined) ?? [],
  };
}

const CASES = cases();
const routed = new Map<string, Set<string>>();

beforeAll(async () => {
  await resetEmulator();
  const queues = new Map<string, string>();
  for (const rule of RULES) {
    const queue = await createQueue(`trailguard-e2e-pattern-${rule.id}`);
    await aws.events.send(new PutRuleCommand({ Name: `trailguard-e2e-${rule.id}`, EventPattern: JSON.stringify(rule.pattern), State: 'ENABLED' }));
    await aws.events.send(new PutTargetsCommand({ Rule: `trailguard-e2e-${rule.id}`, Targets: [{ Id: 'inbox', Arn: queue.arn }] }));
    queues.set(rule.id, queue.url);
  }
  const batches = Array.from({ length: Math.ceil(CASES.length / 10) }, (_, i) => CASES.slice(i * 10, i * 10 + 10));
  const answers = await Promise.all(batches.map((batch) => aws.events.send(new PutEventsCommand({ Entries: batch.map(entryOf) }))));
  // On AWS, PutEvents refuses sources starting with `aws.` (NotAuthorizedForSourceException): only AWS
  // services emit them, which is why the runner trusts an `aws.*` source. moto 5.2.4 accepts them, so
  // the real sources and the real patterns can be checked here; on AWS this check needs the patterns'
  // `source` rewritten to a custom prefix on both sides.
  expect(answers.map((answer) => answer.FailedEntryCount)).toEqual(batches.map(() => 0));
  for (const [rule, url] of queues) {
    const keys = (await drainQueue(url)).map((body) => {
      // moto's delivered envelope has id, time, source, detail-type, region, resources and detail, but no
      // `account`: no pattern here keys on the account, so the comparison is unaffected.
      const delivered = JSON.parse(body) as { detail: { eventID: string } };
      return delivered.detail.eventID;
    });
    routed.set(rule, new Set(keys));
  }
  // moto matches every event against every rule in Python, one PutEvents at a time: with 40 rules and 400 cases
  // about a minute and a half on a loaded 2-core machine.
}, 300_000);

describe('EventBridge on the emulator routes every sample as the local matcher does', () => {
  it('puts enough cases on the bus to mean something: matches and misses for every rule', () => {
    for (const rule of RULES) {
      const verdicts = CASES.map((c) => matchesPattern(rule.pattern, c.envelope));
      expect(verdicts.filter(Boolean).length, rule.id).toBeGreaterThanOrEqual(3);
      expect(verdicts.filter((v) => !v).length, rule.id).toBeGreaterThan(20);
    }
  });

  it.each(RULES.map((rule) => [rule.id, rule] as const))('%s: the queue holds exactly the cases the local matcher matches', (_, rule) => {
    const expected = CASES.filter((c) => matchesPattern(rule.pattern, c.envelope))
      .map((c) => c.key)
      .sort();

    expect([...(routed.get(rule.id) ?? [])].sort()).toEqual(expected);
  });
});
