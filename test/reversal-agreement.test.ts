import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { undo } from '../cli/undo.js';
import { RULES } from '../functions/rules.js';
import { untaggedInstanceEnforce } from '../functions/untagged-instance/enforce.js';
import { ACTION_TYPES } from '../shared/actions/registry.js';
import { reversalCommands, reversalOf, reversalText } from '../shared/actions/reversal.js';
import { parseConfig } from '../shared/config.js';
import { buildNotification } from '../shared/notifier.js';
import type { ActionRecord, RemediationRecord } from '../shared/remediation-log.js';
import { aggregate } from '../shared/report/aggregate.js';
import type { AnyRule } from '../shared/rule.js';
import { messageOf } from '../shared/runner/notify.js';
import { run } from '../shared/runner/run.js';
import { record as recordWith } from './helpers/records.js';
import { capturingDeps, loadSample, sampleNames } from './helpers/samples.js';

// Issue 16: the notification, `report` and `undo` print the same reverse command for every action. Every rule that
// writes runs over every sample offline; its planned actions become done writes with the state they replaced (as a
// live run records it), and the three places must print the same command for each.

/** What a live run would have read before each write: the state the write replaced. */
const PREVIOUS: Readonly<Record<string, (params: Record<string, unknown>) => unknown>> = {
  'S3.PutPublicAccessBlock': () => ({
    PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false },
  }),
  'EC2.RevokeSecurityGroupIngress': (params) => ({
    SecurityGroupRules: [
      {
        SecurityGroupRuleId: 'sgr-0aaa1111bbbb2222c',
        GroupId: params.GroupId,
        IsEgress: false,
        IpProtocol: 'tcp',
        FromPort: 22,
        ToPort: 22,
        CidrIpv4: '0.0.0.0/0',
      },
    ],
  }),
  'EC2.CreateTags': () => ({ Tags: { Name: 'web' } }),
  'EC2.StopInstances': () => ({ State: 'running', Tags: { Name: 'web' } }),
  'CloudTrail.UpdateTrail': (params) =>
    Object.fromEntries(
      Object.keys(params)
        .filter((key) => key !== 'Name')
        .map((key) => [key, false]),
    ),
  'CloudTrail.StartLogging': () => ({ IsLogging: false }),
  'CloudTrail.PutEventSelectors': () => ({ EventSelectors: [{ ReadWriteType: 'ReadOnly', IncludeManagementEvents: false }] }),
  'IAM.UpdateAssumeRolePolicy': () => ({
    PolicyDocument: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::444455556666:root' }, Action: 'sts:AssumeRole' }],
    }),
  }),
  'S3.PutBucketPolicy': () => ({
    Policy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: '444455556666' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }],
    }),
  }),
  'S3.DeleteBucketPolicy': () => ({
    Policy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: '444455556666' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' }],
    }),
  }),
  'S3.PutBucketLifecycleConfiguration': () => ({ Rules: [{ ID: 'expire-fast', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } }] }),
  'S3.DeleteBucketLifecycle': () => ({ Rules: [{ ID: 'expire-fast', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: 1 } }] }),
  'IAM.DeleteLoginProfile': () => ({ CreateDate: '2026-11-25T11:58:00Z', PasswordResetRequired: false }),
};

/** Writes that no call can reverse, by design: a deleted console password is never readable (undo says how to give access back). */
const IRREVERSIBLE: ReadonlySet<string> = new Set(['IAM.DeleteLoginProfile']);

const WRITING_RULES: readonly AnyRule[] = [...RULES, untaggedInstanceEnforce].filter((rule) => rule.actions.length > 0);

/** Every sample's offline record, with its planned writes done (and read back) as a live run records them. */
async function liveRecordsOf(rule: AnyRule): Promise<RemediationRecord[]> {
  // The enforcement check has no CloudTrail samples (Scheduler invokes it): its one write, as a live check records it.
  if (rule === untaggedInstanceEnforce) {
    return [
      recordWith({
        rule: 'untagged-instance',
        trigger: 'schedule',
        eventId: 'trailguard-enforce-example',
        resources: [{ type: 'AWS::EC2::Instance', id: 'i-0123456789abcdef0' }],
        actions: [
          {
            api: 'EC2.StopInstances',
            status: 'done',
            resource: 'i-0123456789abcdef0',
            params: { InstanceIds: ['i-0123456789abcdef0'] },
            previous: { State: 'running', Tags: { Name: 'web' } },
            verification: { ok: true, detail: 'stopped' },
          },
        ],
      }),
    ];
  }
  const records: RemediationRecord[] = [];
  for (const name of sampleNames(rule.id)) {
    const decided = await run(rule, loadSample(rule.id, name), capturingDeps());
    if (decided.actions.length === 0) continue;
    const actions: ActionRecord[] = decided.actions.map((action) => {
      const previous = PREVIOUS[action.api]?.(action.params as Record<string, unknown>);
      return { ...action, status: 'done', verification: { ok: true, detail: 'read back' }, ...(previous === undefined ? {} : { previous }) };
    });
    records.push({ ...decided, outcome: 'remediated', mode: 'live', eventId: `${rule.id}:${name}`, actions });
  }
  return records;
}

/** The reverse commands a notification of `record` shows, from its "To reverse" lines. */
function notifiedCommands(rule: AnyRule, record: RemediationRecord): string[] {
  const text = buildNotification(record, messageOf(rule, record)).text;
  return text.split('\n').flatMap((line) => {
    const at = line.indexOf('aws ');
    return line.includes('To reverse') && at >= 0 ? [line.slice(at)] : [];
  });
}

/** The commands `trailguard undo` prints for `record` (its plan, offline). */
async function undoCommands(record: RemediationRecord, dir: string): Promise<string[]> {
  const log = join(dir, `${record.eventId.replace(/[^a-z0-9-]/gi, '_')}.jsonl`);
  writeFileSync(log, `${JSON.stringify(record)}\n`);
  let out = '';
  await undo({
    eventId: record.eventId,
    sources: [log],
    apply: false,
    mode: 'offline',
    config: parseConfig({}),
    region: 'eu-west-1',
    since: undefined,
    out: (text) => {
      out += text;
    },
    err: () => undefined,
    progress: { isTTY: false, write: () => true },
  });
  return out.split('\n').flatMap((line) => (line.trim().startsWith('$ aws ') ? [line.trim().slice(2)] : []));
}

describe('one reverse command per action: notification, report and undo agree', () => {
  it.each(WRITING_RULES.map((rule) => [rule.id, rule] as const))('%s: over every sample', async (_id, rule) => {
    const dir = mkdtempSync(join(tmpdir(), 'trailguard-agree-'));
    const records = await liveRecordsOf(rule);
    expect(records.length).toBeGreaterThan(0);
    let compared = 0;
    for (const record of records) {
      // The one source: each action's reversal from its action type.
      const reversals = record.actions.map((action) => reversalOf(ACTION_TYPES, record, action)).filter((r) => r.kind !== 'none');
      const expected = reversals.flatMap((reversal) => reversalCommands(reversal));
      const reported = aggregate([{ record, loggedAt: undefined, source: 'test' }], {
        now: Date.parse('2026-12-01T00:00:00Z'),
        since: undefined,
        sources: ['test'],
      })
        .actions.filter((a) => a.reversal.kind !== 'none')
        .map((a) => a.reversal.text);
      expect(reported, record.eventId).toEqual(reversals.map(reversalText));
      expect(notifiedCommands(rule, record), record.eventId).toEqual(expected);
      expect(await undoCommands(record, dir), record.eventId).toEqual(expected);
      compared += expected.length;
    }
    // Not vacuous: every writing rule has samples whose writes reverse with a command, unless its writes cannot be.
    if (records.every((record) => record.actions.every((action) => IRREVERSIBLE.has(action.api)))) expect(compared).toBe(0);
    else expect(compared).toBeGreaterThan(0);
  });
});
