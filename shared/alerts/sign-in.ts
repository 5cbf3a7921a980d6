import * as v from 'valibot';
import { parseWith, type CloudTrailRecord } from '../events/schema.js';
import type { ResourceRef } from '../rule.js';

/** CloudTrail's stand-in for a user name that does not exist in the account (failed sign-ins only). */
export const HIDDEN_USER = 'HIDDEN_DUE_TO_SECURITY_REASONS';

// A ConsoleLogin record: responseElements {"ConsoleLogin": "Success" | "Failure"}; additionalEventData
// {"LoginTo": "...", "MobileVersion": "No", "MFAUsed": "Yes" | "No"}; a failure adds errorMessage
// "Failed authentication" (no errorCode). MFAUsed can be absent: it is read as-is, never defaulted.
const SignInResponse = v.looseObject({ ConsoleLogin: v.string() });
const SignInData = v.optional(v.looseObject({ MFAUsed: v.optional(v.string()) }));

/** A console sign-in as the event states it. */
export interface SignIn {
  readonly result: 'Success' | 'Failure' | 'other';
  /** `Yes`, `No`, or undefined when the record has no MFAUsed (said so in every decision that needs it). */
  readonly mfaUsed: string | undefined;
}

/** Reads ConsoleLogin's result and MFAUsed; throws ParseError naming the field when the result is missing. */
export function parseSignIn(record: CloudTrailRecord, eventId: string): SignIn {
  const { ConsoleLogin: result } = parseWith(SignInResponse, record.responseElements, 'detail.responseElements', eventId);
  const data = parseWith(SignInData, record.additionalEventData ?? undefined, 'detail.additionalEventData', eventId);
  return { result: result === 'Success' || result === 'Failure' ? result : 'other', mfaUsed: data?.MFAUsed };
}

/** The signing-in identity as a resource (exemptions match the user name), or none when CloudTrail hides it. */
export function signInResources(record: CloudTrailRecord, account: string | undefined): ResourceRef[] {
  const actor = record.actor;
  if (actor.type === 'Root') return [{ type: 'AWS::IAM::RootUser', id: account ?? actor.accountId ?? 'root', name: 'root' }];
  if (actor.type === 'IAMUser' && actor.userName && actor.userName !== HIDDEN_USER) {
    return [{ type: 'AWS::IAM::User', id: actor.userName, ...(actor.arn ? { name: actor.arn } : {}) }];
  }
  return [];
}
