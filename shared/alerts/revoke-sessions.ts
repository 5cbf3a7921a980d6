import { isIamName } from '../aws/names.js';
import { awsCommand, checked } from '../shell.js';

/** The inline policy's name, as the IAM console's "Revoke active sessions" names the same deny. */
export const REVOKE_POLICY_NAME = 'AWSRevokeOlderSessions';

/**
 * The command a person pastes to cut every session of a role issued before `issuedBefore` (ISO time): a deny on
 * `aws:TokenIssueTime`. Credentials taken from an instance stop working; the instance's next ones still do. Never
 * run automatically: it also cuts the workload's own current sessions until they refresh.
 */
export function revokeOlderSessionsCommand(roleName: string | undefined, issuedBefore: string): string {
  const policy = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Deny', Action: '*', Resource: '*', Condition: { DateLessThan: { 'aws:TokenIssueTime': issuedBefore } } }],
  };
  return awsCommand('iam', 'put-role-policy', {
    roleName: checked(roleName, 'role name', isIamName),
    policyName: REVOKE_POLICY_NAME,
    policyDocument: JSON.stringify(policy),
  });
}
