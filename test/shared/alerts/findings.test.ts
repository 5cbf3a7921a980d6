import { describe, expect, it } from 'vitest';
import { FINDINGS as CONFIG_RECORDER, configRecorderStopped } from '../../../functions/config-recorder-stopped/rule.js';
import { FINDINGS as CONFIG_STORE, configStoreChange } from '../../../functions/config-store-change/rule.js';
import { FINDINGS as SIGNIN_FAILURES, consoleSigninFailures } from '../../../functions/console-signin-failures/rule.js';
import { FINDINGS as SIGNIN_WITHOUT_MFA, consoleSigninWithoutMfa } from '../../../functions/console-signin-without-mfa/rule.js';
import { FINDINGS as IAM_POLICY, iamPolicyChange } from '../../../functions/iam-policy-change/rule.js';
import { FINDINGS as KMS_KEY, kmsKeyDeletion } from '../../../functions/kms-key-deletion/rule.js';
import { FINDINGS as NETWORK, networkChange } from '../../../functions/network-change/rule.js';
import { FINDINGS as NETWORK_LOGS, networkLogsDeleted } from '../../../functions/network-logs-deleted/rule.js';
import { FINDINGS as ORGANIZATION, organizationLeft } from '../../../functions/organization-left/rule.js';
import { FINDINGS as USER_DATA, instanceUserDataChanged } from '../../../functions/instance-user-data-changed/rule.js';
import { FINDINGS as IMAGE_DEREGISTERED, imageDeregistered } from '../../../functions/image-deregistered/rule.js';
import { FINDINGS as FEDERATION, federationTokenIssued } from '../../../functions/federation-token-issued/rule.js';
import { FINDINGS as SECRETS_READ, secretsBulkRead } from '../../../functions/secrets-bulk-read/rule.js';
import { FINDINGS as PARAMETERS_DECRYPT, parametersBulkDecrypt } from '../../../functions/parameters-bulk-decrypt/rule.js';
import { FINDINGS as IAM_ENUMERATED, iamEnumeratedByInstance } from '../../../functions/iam-enumerated-by-instance/rule.js';
import { FINDINGS as INSTANCE_OUTSIDE, instanceCredentialsOutside } from '../../../functions/instance-credentials-outside/rule.js';
import { FINDINGS as DENIED_CALLS, deniedCallsBurst } from '../../../functions/denied-calls-burst/rule.js';
import { FINDINGS as USER_DATA_READ, instanceUserDataRead } from '../../../functions/instance-user-data-read/rule.js';
import { FINDINGS as REMOTE_SESSIONS, remoteSessionSpread } from '../../../functions/remote-session-spread/rule.js';
import { FINDINGS as LAMBDA_BACKDOOR, lambdaBackdoor } from '../../../functions/lambda-backdoor/rule.js';
import { FINDINGS as NOTEBOOK_LIFECYCLE, notebookLifecycleAttached } from '../../../functions/notebook-lifecycle-attached/rule.js';
import { FINDINGS as MODEL_ACCESS, modelAccessEnabled } from '../../../functions/model-access-enabled/rule.js';
import { FINDINGS as SES_ENUMERATION, sesEnumeration } from '../../../functions/ses-enumeration/rule.js';
import { FINDINGS as BEDROCK_FIRST_USE, bedrockFirstUse } from '../../../functions/bedrock-first-use/rule.js';
import { FINDINGS as ROOT, rootActivity } from '../../../functions/root-activity/rule.js';
import { FINDINGS as BUCKET_DELETED, s3BucketDeleted } from '../../../functions/s3-bucket-deleted/rule.js';
import { RULES } from '../../../functions/rules.js';
import { alertRule } from '../../../shared/alerts/alert-rule.js';
import { ALERT_RULE_IDS } from '../../../shared/config.js';
import { alert } from '../../../shared/rule.js';
import { record } from '../../helpers/records.js';
import { runSample, sampleNames } from '../../helpers/samples.js';

/** Every audit alert with the finding codes its module exports. */
const ALERTS = [
  [rootActivity, ROOT],
  [consoleSigninWithoutMfa, SIGNIN_WITHOUT_MFA],
  [consoleSigninFailures, SIGNIN_FAILURES],
  [iamPolicyChange, IAM_POLICY],
  [kmsKeyDeletion, KMS_KEY],
  [configRecorderStopped, CONFIG_RECORDER],
  [networkChange, NETWORK],
  [s3BucketDeleted, BUCKET_DELETED],
  [configStoreChange, CONFIG_STORE],
  [networkLogsDeleted, NETWORK_LOGS],
  [organizationLeft, ORGANIZATION],
  [instanceUserDataChanged, USER_DATA],
  [imageDeregistered, IMAGE_DEREGISTERED],
  [federationTokenIssued, FEDERATION],
  [secretsBulkRead, SECRETS_READ],
  [parametersBulkDecrypt, PARAMETERS_DECRYPT],
  [iamEnumeratedByInstance, IAM_ENUMERATED],
  [instanceCredentialsOutside, INSTANCE_OUTSIDE],
  [deniedCallsBurst, DENIED_CALLS],
  [instanceUserDataRead, USER_DATA_READ],
  [remoteSessionSpread, REMOTE_SESSIONS],
  [lambdaBackdoor, LAMBDA_BACKDOOR],
  [notebookLifecycleAttached, NOTEBOOK_LIFECYCLE],
  [modelAccessEnabled, MODEL_ACCESS],
  [sesEnumeration, SES_ENUMERATION],
  [bedrockFirstUse, BEDROCK_FIRST_USE],
] as const;

describe('audit alert findings', () => {
  it('lists every audit alert, each registered rule being the one its module exports', () => {
    expect(ALERTS.map(([rule]) => rule.id).sort()).toEqual([...ALERT_RULE_IDS].sort());
    // (`includes`, not toContain: a failing toContain would print the rules, and chai calls a rule's `inspect`.)
    for (const [rule] of ALERTS) expect(RULES.includes(rule), rule.id).toBe(true);
  });

  it.each(ALERTS.map(([rule, findings]) => [rule.id, rule, findings] as const))(
    '%s exports its FINDINGS as kebab-case codes, unique, and the rule carries them',
    (_id, rule, findings) => {
      expect(rule.findings).toBe(findings);
      expect(findings.length).toBeGreaterThan(0);
      expect(new Set(findings).size).toBe(findings.length);
      for (const code of findings) expect(code).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    },
  );

  it.each(ALERTS.map(([rule, findings]) => [rule.id, rule, findings] as const))(
    '%s: every bundled sample that alerts offline carries one of its codes',
    async (id, rule, findings) => {
      for (const name of sampleNames(id).filter((n) => n.startsWith('alerted.'))) {
        const { record: alerted } = await runSample(rule, name);
        expect(alerted.outcome, name).toBe('alerted');
        expect(findings, `${name}: ${alerted.finding}`).toContain(alerted.finding);
      }
    },
  );

  it.each(ALERTS.map(([rule]) => [rule.id, rule] as const))('%s is notify-only: no action types, no act or verify', (_id, rule) => {
    expect(rule.actions).toEqual([]);
    expect(rule).not.toHaveProperty('act');
    expect(rule).not.toHaveProperty('verify');
  });
});

describe("alertRule hands title and checkNext the record's finding, never reading the reason", () => {
  const rule = alertRule({
    id: 'kms-key-deletion',
    pattern: { source: ['aws.kms'] },
    findings: ['key-disabled', 'key-deletion-scheduled'] as const,
    settings: () => ({ enabled: true }),
    parse: () => ({ resources: [] }),
    decide: () => alert('a reason', 'HIGH', [], 'key-disabled'),
    title: (_record, finding) => `title for ${finding ?? 'no finding'}`,
    checkNext: (_record, finding) => [`next for ${finding ?? 'no finding'}`],
  });
  const alerted = (finding: string | null, reason = 'key-disabled') => record({ rule: 'kms-key-deletion', outcome: 'alerted', finding, reason });

  it("passes one of the rule's codes through", () => {
    expect(rule.message(alerted('key-deletion-scheduled'))).toEqual({
      title: 'title for key-deletion-scheduled',
      lines: ['Check next: next for key-deletion-scheduled'],
    });
  });

  it("passes undefined for a code that is not the rule's, and for none, whatever the reason says", () => {
    expect(rule.message(alerted('privilege-escalation')).title).toBe('title for no finding');
    expect(rule.message(alerted(null)).title).toBe('title for no finding');
  });

  it('adds no check-next lines unless the record alerted or failed', () => {
    expect(rule.message({ ...alerted('key-disabled'), outcome: 'exempt' }).lines).toEqual([]);
  });
});
