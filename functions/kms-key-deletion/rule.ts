import * as v from 'valibot';
import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { isKmsKeyRef, regionArg } from '../../shared/aws/names.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { alert, compliant, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { awsCommand, checked, noCommand, refusedIn } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const KeyRequest = v.looseObject({ keyId: v.pipe(v.string(), v.minLength(1), v.maxLength(2048)), pendingWindowInDays: v.optional(v.number()) });
// ScheduleKeyDeletion answers {keyId: <ARN>, deletionDate, keyState, pendingWindowInDays}; the others answer null.
const KeyResponse = v.optional(v.looseObject({ keyId: v.optional(v.string()), deletionDate: v.optional(v.union([v.string(), v.number()])) }));

interface KeyFacts {
  readonly resources: readonly [ResourceRef];
  readonly key: string;
  readonly deletionDate: string | undefined;
  readonly pendingDays: number | undefined;
}

type Settings = Config['rules']['kms-key-deletion'];

/** What this rule reports: a customer-managed key scheduled for deletion, and one disabled. */
export const FINDINGS = ['key-deletion-scheduled', 'key-disabled'] as const;
type Finding = (typeof FINDINGS)[number];

function parse({ record, event }: EventContext): KeyFacts {
  const request = parseWith(KeyRequest, record.requestParameters, 'detail.requestParameters', event.id);
  const response = parseWith(KeyResponse, record.responseElements, 'detail.responseElements', event.id);
  const key = response?.keyId ?? request.keyId;
  return {
    resources: [{ type: 'AWS::KMS::Key', id: key, ...(key !== request.keyId ? { name: request.keyId } : {}) }],
    key,
    deletionDate: response?.deletionDate === undefined ? undefined : String(response.deletionDate),
    pendingDays: request.pendingWindowInDays,
  };
}

/** A KMS customer-managed key disabled or scheduled for deletion (AWS-managed keys allow neither). */
export const kmsKeyDeletion = alertRule<KeyFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'kms-key-deletion',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  // KMS.3 is about deletion only; CloudWatch.7 watches disabling and scheduled deletion alike.
  controls: { byFinding: { 'key-disabled': ['CloudWatch.7'] }, other: ['KMS.3', 'CloudWatch.7'] },
  settings: (config: Config) => config.rules['kms-key-deletion'],
  parse,
  decide: (facts, _state, _settings, { record }) => {
    switch (record.eventName) {
      case 'ScheduleKeyDeletion': {
        const when = facts.deletionDate ? ` on ${facts.deletionDate}` : ` in ${facts.pendingDays ?? 30} days`;
        return alert(
          `KMS key ${facts.key} is scheduled for deletion${when}: data encrypted under it becomes unrecoverable then; it is unusable already`,
          'HIGH',
          facts.resources,
          'key-deletion-scheduled',
        );
      }
      case 'DisableKey':
        return alert(`KMS key ${facts.key} was disabled: every decrypt and encrypt with it fails until it is enabled`, 'HIGH', facts.resources, 'key-disabled');
      default:
        return compliant(`${record.eventName} on KMS key ${facts.key}: the key is being kept`, facts.resources);
    }
  },
  title: (record) => `KMS key ${record.eventName === 'DisableKey' ? 'disabled' : 'scheduled for deletion'}: ${record.resources[0]?.id ?? 'unknown'}`,
  checkNext: (record) => {
    const key = { keyId: checked(record.resources[0]?.id, 'KMS key id', isKmsKeyRef), region: regionArg(record.region) };
    const refused = refusedIn(key);
    return [
      `what uses it: ${awsCommand('kms', 'list-aliases', key)}, and its recent Decrypt/GenerateDataKey calls in CloudTrail`,
      record.eventName === 'DisableKey'
        ? `if unintended: ${awsCommand('kms', 'enable-key', key)}`
        : `if unintended, before the date: ${refused ? noCommand(refused) : `${awsCommand('kms', 'cancel-key-deletion', key)}, then ${awsCommand('kms', 'enable-key', key)} (a cancelled key stays disabled)`}`,
    ];
  },
});
