/**
 * `trailguard undo EVENT_ID --log SOURCE`: reverses one remediation from its log record. Prints the plan
 * (from each action's `previous`); `--mode dry-run` also reads what the resources hold now; `--apply`
 * performs the reversing calls with the operator's credentials, reads each back, prints the undo's own
 * remediation-log record (`trigger: "undo"`), notifies the configured topic, and prints the exemption that
 * keeps the rule from remediating again.
 */
import {
  DeletePublicAccessBlockCommand, GetPublicAccessBlockCommand, PutPublicAccessBlockCommand,
  type DeletePublicAccessBlockCommandInput, type PutPublicAccessBlockCommandInput,
} from '@aws-sdk/client-s3';
import {
  AuthorizeSecurityGroupIngressCommand, DeleteTagsCommand, DescribeSecurityGroupRulesCommand,
  type AuthorizeSecurityGroupIngressCommandInput, type DeleteTagsCommandInput, type IpPermission, type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { GetTrailCommand, UpdateTrailCommand, type UpdateTrailCommandInput } from '@aws-sdk/client-cloudtrail';
import { cloudTrailClient } from '../shared/aws/cloudtrail.js';
import { ec2Client } from '../shared/aws/ec2.js';
import { awsCall, classifyAwsError, hasErrorCode } from '../shared/aws/errors.js';
import { s3Client } from '../shared/aws/s3.js';
import { SETTINGS } from '../shared/cloudtrail/trail.js';
import type { Config, Exemption, Mode } from '../shared/config.js';
import { describeTags } from '../shared/ec2/instance-reads.js';
import { fromSdkRule, isSameRule, normalizeProtocol, portsFor, type CidrRule } from '../shared/ec2/world-open.js';
import { consoleOut, Logger } from '../shared/log.js';
import { buildNotification, displayValue, snsNotifier, type Notify } from '../shared/notifier.js';
import { RECORD_MESSAGE, writeRecordTo, type ActionRecord, type NotificationStatus, type RecordError, type RemediationRecord } from '../shared/remediation-log.js';
import type { LoggedRecord } from '../shared/report/records.js';
import { reversalsOf, type Reversal, type ReverseStep } from '../shared/report/reverse.js';
import { disabledSettings, toPublicAccessBlock } from '../shared/s3/public-access.js';
import { terminalSafe } from './output.js';
import { Progress, type ProgressStream } from './progress.js';
import { EXIT } from './replay.js';
import { collectRecords } from './report.js';

export interface UndoOptions {
  readonly eventId: string;
  /** Where the record is: files, folders or `logs:<prefix>` (as `report` reads them). */
  readonly sources: readonly string[];
  /** Act (live), else only print the plan. */
  readonly apply: boolean;
  /** Without --apply: `offline` plans from the record alone, `dry-run` also reads the resources now. */
  readonly mode: Mode;
  readonly config: Config;
  /** Region of the CloudWatch Logs client for `logs:` sources. */
  readonly region: string;
  /** Window for `logs:` sources (epoch ms). */
  readonly since: number | undefined;
  readonly now?: () => number;
  readonly out?: (text: string) => void;
  readonly err?: (text: string) => void;
  readonly progress?: ProgressStream;
  /** Publishes the undo's notification; default: the configured topic (`topicArn`), if any. */
  readonly notify?: Notify;
  /** Who runs the undo, for the exemption's reason (`USER`). */
  readonly operator?: string;
}

/** How long the suggested exemption holds: long enough to fix the cause, short enough to be reviewed. */
export const EXEMPTION_DAYS = 30;

/** Whether the reversing call is itself an event the rule acts on (so the exemption must be in place first). */
const RETRIGGERS: Readonly<Record<ReverseStep['api'], boolean>> = {
  'S3.PutPublicAccessBlock': true,
  'S3.DeletePublicAccessBlock': true,
  'EC2.AuthorizeSecurityGroupIngress': true,
  'EC2.DeleteTags': false,
  'CloudTrail.UpdateTrail': true,
};

interface Check {
  /** The resource already holds what the undo puts back. */
  readonly undone: boolean;
  readonly detail: string;
}

type Clients = {
  readonly s3: (region: string) => ReturnType<typeof s3Client>;
  readonly ec2: (region: string) => ReturnType<typeof ec2Client>;
  readonly cloudTrail: (region: string) => ReturnType<typeof cloudTrailClient>;
};

function clientsFor(config: Config, readOnly: boolean): Clients {
  const endpoint = config.endpoint;
  return {
    s3: (region) => s3Client({ region, endpoint, readOnly }),
    ec2: (region) => ec2Client({ region, endpoint, readOnly }),
    cloudTrail: (region) => cloudTrailClient({ region, endpoint, readOnly }),
  };
}

// ------------------------------------------------------------------------------------------ acting

function ruleOfPermission(permission: IpPermission): CidrRule | undefined {
  const cidr = permission.IpRanges?.[0]?.CidrIp ?? permission.Ipv6Ranges?.[0]?.CidrIpv6;
  if (!cidr || !permission.IpProtocol) return undefined;
  const protocol = normalizeProtocol(permission.IpProtocol);
  const [fromPort, toPort] = portsFor(protocol, permission.FromPort, permission.ToPort);
  return { ruleId: undefined, protocol, fromPort, toPort, cidr, description: undefined };
}

async function groupRules(clients: Clients, step: ReverseStep, groupId: string): Promise<CidrRule[]> {
  return awsCall('EC2.DescribeSecurityGroupRules', groupId, async () => {
    const rules: SecurityGroupRule[] = [];
    let token: string | undefined;
    do {
      const page = await clients.ec2(step.region).send(new DescribeSecurityGroupRulesCommand({
        Filters: [{ Name: 'group-id', Values: [groupId] }], MaxResults: 1000, ...(token ? { NextToken: token } : {}),
      }));
      rules.push(...(page.SecurityGroupRules ?? []));
      token = page.NextToken;
    } while (token);
    return rules.map(fromSdkRule).filter((rule) => rule !== undefined);
  });
}

/** Reads the resource now: does it hold what the undo puts back? (dry-run's preview and --apply's verification) */
async function check(step: ReverseStep, clients: Clients): Promise<Check> {
  switch (step.api) {
    case 'S3.PutPublicAccessBlock':
    case 'S3.DeletePublicAccessBlock': {
      const { Bucket, ExpectedBucketOwner } = step.params as unknown as PutPublicAccessBlockCommandInput;
      const now = await awsCall('S3.GetPublicAccessBlock', String(Bucket), async () => {
        try {
          const answer = await clients.s3(step.region).send(new GetPublicAccessBlockCommand({ Bucket, ExpectedBucketOwner }));
          return toPublicAccessBlock(answer.PublicAccessBlockConfiguration);
        } catch (error) {
          if (hasErrorCode(error, 'NoSuchPublicAccessBlockConfiguration')) return null;
          throw error;
        }
      });
      if (step.api === 'S3.DeletePublicAccessBlock') {
        return now === null
          ? { undone: true, detail: `${Bucket} reads back with no Block Public Access configuration` }
          : { undone: false, detail: `${Bucket} has ${JSON.stringify(now)}` };
      }
      const wanted = toPublicAccessBlock((step.params as { PublicAccessBlockConfiguration?: unknown }).PublicAccessBlockConfiguration);
      const same = now !== null && JSON.stringify(now) === JSON.stringify(wanted);
      return same
        ? { undone: true, detail: `${Bucket} reads back with ${JSON.stringify(now)}` }
        : { undone: false, detail: `${Bucket} has ${now ? JSON.stringify(now) : 'no configuration'}${now && disabledSettings(now).length === 0 ? ' (all blocked)' : ''}` };
    }
    case 'EC2.AuthorizeSecurityGroupIngress': {
      const { GroupId, IpPermissions } = step.params as unknown as AuthorizeSecurityGroupIngressCommandInput;
      const wanted = (IpPermissions ?? []).map(ruleOfPermission).filter((rule) => rule !== undefined);
      const present = await groupRules(clients, step, String(GroupId));
      const missing = wanted.filter((rule) => !present.some((p) => isSameRule(p, rule)));
      return missing.length === 0
        ? { undone: true, detail: `${GroupId} reads back with all ${wanted.length} rule(s) present` }
        : { undone: false, detail: `${GroupId} lacks ${missing.map((r) => `${r.protocol} ${r.fromPort}-${r.toPort} from ${r.cidr}`).join('; ')}` };
    }
    case 'EC2.DeleteTags': {
      const { Resources, Tags } = step.params as unknown as { Resources?: string[]; Tags: { Key: string; Value: string }[] };
      const now = await describeTags(clients.ec2(step.region), Resources ?? []);
      const still = (Resources ?? []).flatMap((id) => Tags.filter((t) => now.get(id)?.[t.Key] === t.Value).map((t) => `${id} ${t.Key}`));
      return still.length === 0
        ? { undone: true, detail: `${(Resources ?? []).join(', ')} read back without ${Tags.map((t) => t.Key).join(', ')} as trailguard wrote them` }
        : { undone: false, detail: `still tagged: ${still.join(', ')}` };
    }
    case 'CloudTrail.UpdateTrail': {
      const { Name, ...wanted } = step.params as unknown as UpdateTrailCommandInput;
      const answer = await awsCall('CloudTrail.GetTrail', String(Name), () => clients.cloudTrail(step.region).send(new GetTrailCommand({ Name })));
      const reads = Object.values(SETTINGS).flatMap((s) => (s.restore && s.restore.input in wanted ? [s.restore] : []));
      const differ = reads.filter((r) => (answer.Trail?.[r.read] === true) !== (wanted as Record<string, unknown>)[r.input]);
      return differ.length === 0
        ? { undone: true, detail: `GetTrail reads ${reads.map((r) => `${r.read}: ${String(answer.Trail?.[r.read] === true)}`).join(', ')}` }
        : { undone: false, detail: `GetTrail reads ${differ.map((r) => `${r.read}: ${String(answer.Trail?.[r.read] === true)}`).join(', ')}` };
    }
  }
}

async function perform(step: ReverseStep, clients: Clients): Promise<void> {
  switch (step.api) {
    case 'S3.PutPublicAccessBlock':
      await clients.s3(step.region).send(new PutPublicAccessBlockCommand(step.params as unknown as PutPublicAccessBlockCommandInput));
      return;
    case 'S3.DeletePublicAccessBlock':
      await clients.s3(step.region).send(new DeletePublicAccessBlockCommand(step.params as unknown as DeletePublicAccessBlockCommandInput));
      return;
    case 'EC2.AuthorizeSecurityGroupIngress':
      try {
        await clients.ec2(step.region).send(new AuthorizeSecurityGroupIngressCommand(step.params as unknown as AuthorizeSecurityGroupIngressCommandInput));
      } catch (error) {
        // Someone re-created the rule already: the read-back decides.
        if (!hasErrorCode(error, 'InvalidPermission.Duplicate')) throw error;
      }
      return;
    case 'EC2.DeleteTags':
      await clients.ec2(step.region).send(new DeleteTagsCommand(step.params as unknown as DeleteTagsCommandInput));
      return;
    case 'CloudTrail.UpdateTrail':
      await clients.cloudTrail(step.region).send(new UpdateTrailCommand(step.params as unknown as UpdateTrailCommandInput));
      return;
  }
}

/** What the undo replaced: the remediated state, from the original action's params. */
function replacedState(step: ReverseStep, original: ActionRecord): unknown {
  const params = original.params as Record<string, unknown>;
  switch (step.api) {
    case 'S3.PutPublicAccessBlock':
    case 'S3.DeletePublicAccessBlock': return { PublicAccessBlockConfiguration: params.PublicAccessBlockConfiguration ?? null };
    case 'EC2.AuthorizeSecurityGroupIngress': return { SecurityGroupRules: [] };
    case 'EC2.DeleteTags': return { Tags: Object.fromEntries((step.params.Tags as { Key: string; Value: string }[]).map((t) => [t.Key, t.Value])) };
    case 'CloudTrail.UpdateTrail': {
      const { Name: _name, ...settings } = params;
      return settings;
    }
  }
}

// ------------------------------------------------------------------------------------------ printing

function stepLines(reversal: Reversal): string[] {
  const action = `${reversal.action.api} on ${displayValue(reversal.action.resource)} (${reversal.action.status})`;
  switch (reversal.kind) {
    case 'steps':
      return [`  ${action}`, ...reversal.steps.flatMap((s) => [`    undo: ${displayValue(s.summary, 1000)}`, `      ${s.api} (needs ${s.iamAction}) in ${s.region}`, `      $ ${s.cli}`])];
    case 'manual':
      return [`  ${action}`, `    by hand: ${reversal.why}`, `      $ ${reversal.cli}`];
    case 'none':
      return [`  ${action}`, `    nothing to undo: ${reversal.why}`];
  }
}

const DAY_MS = 86_400_000;

/** The exemption entries that stop the rule from remediating the resource again. */
export function exemptionsFor(record: RemediationRecord, now: number, operator: string): Exemption[] {
  if (!record.rule) return [];
  const expires = new Date(now + EXEMPTION_DAYS * DAY_MS).toISOString().slice(0, 10);
  const today = new Date(now).toISOString().slice(0, 10);
  return record.resources.map((resource) => ({
    rule: record.rule ?? '*',
    resource: resource.id,
    reason: `remediation undone by ${operator} on ${today} (trailguard undo of ${record.eventId}): replace with the ticket that approves it`,
    expires,
  }));
}

// ------------------------------------------------------------------------------------------ the command

function undoMessage(record: RemediationRecord, lines: readonly string[]) {
  const resource = record.resources[0]?.id ?? 'unknown resource';
  const title = record.outcome === 'remediated' ? `Remediation undone on ${resource} (${record.rule ?? 'no rule'})` : `FAILED to undo the remediation on ${resource} (${record.rule ?? 'no rule'})`;
  return { title, lines };
}

async function applyRecord(original: RemediationRecord, reversals: readonly Reversal[], clients: Clients, options: UndoOptions, now: () => number): Promise<RemediationRecord> {
  const started = now();
  const actions: ActionRecord[] = [];
  let error: RecordError | null = null;
  for (const reversal of reversals) {
    if (reversal.kind !== 'steps') continue;
    for (const step of reversal.steps) {
      const base = { api: step.api, resource: step.resource, params: step.params, previous: replacedState(step, reversal.action) };
      try {
        await perform(step, clients);
      } catch (thrown) {
        const classified = classifyAwsError(thrown, step.api, step.resource);
        error ??= {
          kind: classified.kind === 'gone' ? 'gone' : classified.kind,
          code: classified.code, api: step.api,
          ...(classified.kind === 'denied' ? { permission: step.iamAction } : {}),
          message: classified.message,
        } as RecordError;
        actions.push({ ...base, status: 'failed', error: `${classified.kind}: ${classified.code}` });
        continue;
      }
      let verification;
      try {
        const read = await check(step, clients);
        verification = { ok: read.undone, detail: read.detail };
      } catch (thrown) {
        verification = { ok: false, detail: `the read-back failed: ${classifyAwsError(thrown, step.api, step.resource).code}` };
      }
      actions.push({ ...base, status: 'done', verification });
    }
  }
  const failed = actions.filter((a) => a.status === 'failed' || a.verification?.ok === false);
  const summary = reversals.flatMap((r) => (r.kind === 'steps' ? r.steps.map((s) => s.summary) : [])).join('; ');
  const outcome = failed.length === 0 ? 'remediated' : 'failed';
  const reason = `undo of ${original.eventId}: ${summary}; ${failed.length === 0 ? 'done and verified' : `${failed.length} of ${actions.length} undo actions failed or did not verify`}`;
  const draft: RemediationRecord = {
    rule: original.rule, outcome, severity: original.severity, mode: 'live', trigger: 'undo',
    eventId: original.eventId, eventName: original.eventName, eventSource: original.eventSource, eventTime: original.eventTime,
    errorCode: original.errorCode ?? null, account: original.account, region: original.region,
    // The actor fields describe the violating call; the operator is in the reason of the exemption, not here.
    actor: original.actor, actorType: original.actorType, sourceIp: original.sourceIp, userAgent: original.userAgent,
    resources: original.resources, actions, reason, finding: null, exemptions: [], error,
    notification: { status: 'not-needed' }, durationMs: 0, exposureMs: null,
  };
  const notification = await notifyUndo(draft, options);
  return { ...draft, notification, durationMs: Math.max(0, Math.round(now() - started)) };
}

async function notifyUndo(record: RemediationRecord, options: UndoOptions): Promise<NotificationStatus> {
  const notify = options.notify ?? (options.config.topicArn ? snsNotifier(options.config.topicArn, options.config.endpoint) : undefined);
  if (!notify) return { status: 'skipped', reason: 'no SNS topic configured' };
  const lines = record.actions.map((a) => `${a.api} on ${a.resource}: ${a.status}${a.verification ? `, ${a.verification.ok ? 'verified' : 'NOT verified'}: ${a.verification.detail}` : ''}`);
  try {
    const messageId = await notify(buildNotification(record, undoMessage(record, [`Undone by ${options.operator ?? 'an operator'} with trailguard undo.`, ...lines])));
    return { status: 'sent', messageId };
  } catch (error) {
    const classified = classifyAwsError(error, 'SNS.Publish', options.config.topicArn ?? 'topic');
    return { status: 'failed', error: `${classified.kind}: ${classified.code}` };
  }
}

/** Finds the event's records, prints the plan, and with --apply undoes, verifies, logs and notifies. */
export async function undo(options: UndoOptions): Promise<number> {
  const out = terminalSafe(options.out ?? consoleOut.stdout);
  const err = terminalSafe(options.err ?? consoleOut.stderr);
  const now = options.now ?? Date.now;
  const operator = options.operator ?? 'an operator';
  const progress = new Progress('trailguard undo', { stream: options.progress ?? process.stderr, now });
  let found: LoggedRecord[];
  let problems: number;
  try {
    const collected = await collectRecords(
      { sources: options.sources, format: 'text', since: options.since, region: options.region, endpoint: options.config.endpoint, progress: options.progress,
        filterPattern: `{ $.message = "${RECORD_MESSAGE}" && $.eventId = ${JSON.stringify(options.eventId)} }` },
      progress, (text) => { progress.done(); err(text); },
    );
    found = collected.records.filter((l) => l.record.eventId === options.eventId);
    problems = collected.problems;
  } finally {
    progress.done();
  }
  const originals = found.map((l) => l.record).filter((r) => r.trigger !== 'undo');
  const undone = found.some((l) => l.record.trigger === 'undo' && l.record.outcome === 'remediated');
  if (originals.length === 0) {
    err(`trailguard: no remediation-log record of event ${options.eventId} in ${options.sources.join(', ')}${problems > 0 ? ' (some sources could not be read)' : ''}\n`);
    return EXIT.badInput;
  }
  const withWrites = originals.filter((r) => r.actions.some((a) => a.status === 'done'));
  if (withWrites.length === 0) {
    // An audit alert only notifies: say so, rather than suggest a remediation was skipped.
    const alertsOnly = originals.every((r) => r.outcome === 'alerted' && r.actions.length === 0);
    const why = alertsOnly ? 'an alert only notifies and changes nothing in the account, so there is nothing to undo' : 'no write was performed, nothing to undo';
    out(`Event ${options.eventId}: ${originals.map((r) => `${r.rule ?? '-'} ${r.outcome} (mode ${r.mode})`).join(', ')}: ${why}.\n`);
    return EXIT.ok;
  }
  if (undone) err(`trailguard: note: the log already holds a completed undo of ${options.eventId}\n`);

  const readOnly = !options.apply;
  const clients = clientsFor(options.config, readOnly);
  let exit: number = EXIT.ok;
  const exemptions: Exemption[] = [];
  let retriggers = false;
  for (const record of withWrites) {
    const reversals = reversalsOf(record);
    const lines = [
      `${options.apply ? 'Undoing' : 'Plan to undo'} ${record.rule ?? '-'} ${record.outcome} of event ${displayValue(record.eventId)} (${displayValue(record.eventName)} by ${displayValue(record.actor)} at ${displayValue(record.eventTime)}, ${displayValue(record.account)}/${displayValue(record.region)})`,
      `  reason it acted: ${displayValue(record.reason, 1000)}`,
      ...reversals.flatMap(stepLines),
    ];
    out(`${lines.join('\n')}\n`);
    const steps = reversals.flatMap((r) => (r.kind === 'steps' ? r.steps : []));
    if (steps.length === 0) {
      out('  nothing trailguard undo can perform for this record.\n\n');
      continue;
    }
    retriggers ||= steps.some((s) => RETRIGGERS[s.api]);
    exemptions.push(...exemptionsFor(record, now(), operator));
    if (!options.apply && options.mode !== 'offline') {
      for (const step of steps) {
        try {
          const read = await check(step, clients);
          out(`  now: ${displayValue(read.detail, 1000)}${read.undone ? ' (already as before: nothing would change)' : ''}\n`);
        } catch (error) {
          out(`  now: could not read (${classifyAwsError(error, step.api, step.resource).code})\n`);
        }
      }
    }
    if (!options.apply) {
      out('\n');
      continue;
    }
    const result = await applyRecord(record, reversals, clients, options, now);
    for (const action of result.actions) {
      out(`  ${action.api} on ${displayValue(action.resource)}: ${action.status}${action.error ? ` (${action.error})` : ''}${action.verification ? `, ${action.verification.ok ? 'verified' : 'NOT verified'}: ${displayValue(action.verification.detail, 1000)}` : ''}\n`);
    }
    out(`  notification: ${result.notification.status}\n  remediation-log record of this undo:\n`);
    writeRecordTo(new Logger('INFO', (line) => out(`${line}\n`)))(result);
    out('\n');
    if (result.outcome !== 'remediated') exit = EXIT.remediationFailed;
  }
  if (exemptions.length > 0) {
    const when = options.apply ? 'Now add' : 'Before --apply, add';
    out(`${when} this exemption to TRAILGUARD_EXEMPTIONS (the stack parameter "exemptions") and deploy, so the rule does not remediate the resource again:\n`);
    out(`${JSON.stringify(exemptions, null, 2)}\n`);
    if (retriggers) {
      out(`The reversing call is itself a CloudTrail event the rule acts on: ${options.apply ? 'if the exemption was not deployed first, the rule may already have remediated again (check the log)' : 'deploy the exemption before --apply, or the rule remediates the undo within seconds'}.\n`);
    }
  }
  if (!options.apply) out('Nothing was changed: run again with --apply to perform the plan (with your own credentials).\n');
  return exit;
}
