import * as v from 'valibot';
import { countingRule, type Counted } from '../../shared/alerts/counting.js';
import type { Config } from '../../shared/config.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { compliant, type EventContext } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

/**
 * SES enumerated by one principal (`ses-enumeration`): its identities, their verification, the sending quota and
 * whether sending is on. These are the first calls of someone who wants to send mail (phishing, spam) from a stolen
 * key; a mailer reads its quota again and again, which is one item. Without a state store each call is uncounted.
 */
export const FINDINGS = ['ses-enumeration', 'ses-call-uncounted'] as const;
type Finding = (typeof FINDINGS)[number];

/** The calls that ask about one identity or several: each identity asked about is its own item. */
const PER_IDENTITY_V1 = new Set(['GetIdentityVerificationAttributes', 'GetIdentityDkimAttributes']);

// An identity is an email address or a domain (up to 320 characters as SES takes them); a call names up to 100.
const Identity = v.pipe(v.string(), v.minLength(1), v.maxLength(320));
const IdentitiesRequest = v.looseObject({ identities: v.pipe(v.array(Identity), v.maxLength(100)) });
// SES v2 is a REST API: the path parameter is logged under its member name, camelCased (docs/cloudtrail-shapes.md#ses).
const EmailIdentityRequest = v.looseObject({ emailIdentity: Identity });

/** Identities per call that become items: a call over 100 identities still costs a bounded number of state writes. */
const MAX_IDENTITY_ITEMS = 25;

/** The items of one call: the call itself, or the call with each identity it asked about (case-folded, as SES compares them). */
export function sesItemsOf(eventName: string, request: unknown, eventId: string | null): readonly string[] {
  if (PER_IDENTITY_V1.has(eventName)) {
    const { identities } = parseWith(IdentitiesRequest, request, 'detail.requestParameters', eventId);
    return [...new Set(identities.map((identity) => `${eventName} ${identity.toLowerCase()}`))].slice(0, MAX_IDENTITY_ITEMS);
  }
  if (eventName === 'GetEmailIdentity') {
    const { emailIdentity } = parseWith(EmailIdentityRequest, request, 'detail.requestParameters', eventId);
    return [`${eventName} ${emailIdentity.toLowerCase()}`];
  }
  return [eventName];
}

function count({ record, event }: EventContext): Counted {
  const items = sesItemsOf(record.eventName, record.requestParameters, event.id);
  if (items.length === 0)
    return {
      kind: 'decided',
      decision: (resources) => compliant(`${terminalValue(record.eventName)} asked about no identity: nothing enumerated`, resources),
    };
  return { kind: 'items', items };
}

/** N distinct SES identity and account reads by one principal within a window (default 4 in 30 min), once per window. */
export const sesEnumeration = countingRule({
  id: 'ses-enumeration',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['ses-enumeration'],
  count,
  noun: 'SES identity and account reads',
  severity: 'MEDIUM',
  title: (finding: Finding | undefined) => (finding === 'ses-enumeration' ? 'SES enumerated by one principal' : 'SES identity or quota read'),
  checkNext: (finding, principal) => [
    `what else ${terminalValue(principal)} did: CloudTrail Event history, filtered by its access key or user name`,
    `whether this account sends mail at all, and how much it sent lately: ${awsCommand('ses', 'get-send-statistics')} (sending is not in CloudTrail)`,
    `whether sending is enabled and out of the sandbox: ${awsCommand('sesv2', 'get-account')}; pause it while you look: ${awsCommand('sesv2', 'put-account-sending-attributes', { sendingEnabled: false })}`,
    ...(finding === 'ses-call-uncounted' ? [] : ['if it is a mailer or the SES console used by its owners, exempt that role by ARN (never by name alone)']),
  ],
});
