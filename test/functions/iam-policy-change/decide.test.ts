import { describe, expect, it } from 'vitest';
import { FINDINGS, iamPolicyChange } from '../../../functions/iam-policy-change/rule.js';
import { readPolicyDocument } from '../../../shared/alerts/policy-document.js';
import { run } from '../../../shared/runner/run.js';
import { record } from '../../helpers/records.js';
import { capturingDeps, loadSample, runSample, withDetail } from '../../helpers/samples.js';

type Finding = (typeof FINDINGS)[number];

const PUT_ROLE = loadSample('iam-policy-change', 'alerted.put-role-policy-star-url-encoded');
const putRole = (policyDocument: unknown) => withDetail(PUT_ROLE, { requestParameters: { roleName: 'app-runtime', policyName: 'p', policyDocument } });

describe('iam-policy-change', () => {
  it('calls AttachUserPolicy of AdministratorAccess to oneself CRITICAL privilege escalation', async () => {
    const { record, deps } = await runSample(iamPolicyChange, 'alerted.attach-user-policy-administrator-access');
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'CRITICAL',
      reason: expect.stringContaining('gave ITSELF (user mallory) the administrator policy arn:aws:iam::aws:policy/AdministratorAccess'),
    });
    expect(deps.published[0]?.subject).toMatch(/^\[CRITICAL\] Privilege escalation: AttachUserPolicy mallory/);
  });

  it('calls PutRolePolicy with Action "*:*" on Resource "*" CRITICAL, and never echoes the document', async () => {
    const document = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'SecretMarker', Effect: 'Allow', Action: ['*:*'], Resource: '*' }] });
    const deps = capturingDeps();
    const record = await run(iamPolicyChange, putRole(document), deps);
    expect(record).toMatchObject({ severity: 'CRITICAL', reason: expect.stringContaining('allowing "Action": "*:*" on "Resource": "*"') });
    expect(JSON.stringify(record) + deps.published.map((n) => n.text + n.json).join('')).not.toContain('SecretMarker');
  });

  it('reads URL-encoded documents (with + for spaces) and plain ones alike', () => {
    const document = '{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "iam:*", "Resource": ["*"]}}';
    expect(readPolicyDocument(document)).toMatchObject({ kind: 'admin' });
    expect(readPolicyDocument(encodeURIComponent(document))).toMatchObject({ kind: 'admin' });
    expect(readPolicyDocument(encodeURIComponent(document).replace(/%20/g, '+'))).toMatchObject({ kind: 'admin' });
    expect(readPolicyDocument({ Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }] })).toEqual({ kind: 'limited' });
    expect(readPolicyDocument('{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}')).toEqual({ kind: 'limited' });
  });

  it('rates an unreadable document HIGH and says it was not checked, without echoing it', async () => {
    const record = await run(iamPolicyChange, putRole('%E0%A4%A{not json'), capturingDeps());
    expect(record).toMatchObject({ severity: 'HIGH', reason: expect.stringContaining('not checked for administrator rights') });
    expect(record.reason).not.toContain('not json');
  });

  it('is CRITICAL for AdministratorAccess and IAMFullAccess of the aws-cn and aws-us-gov partitions too', async () => {
    const attach = (policyArn: string) =>
      withDetail(loadSample('iam-policy-change', 'alerted.attach-user-policy-administrator-access'), { requestParameters: { userName: 'bob', policyArn } });
    for (const arn of ['arn:aws-us-gov:iam::aws:policy/AdministratorAccess', 'arn:aws-cn:iam::aws:policy/IAMFullAccess']) {
      expect(await run(iamPolicyChange, attach(arn), capturingDeps()), arn).toMatchObject({
        severity: 'CRITICAL',
        reason: expect.stringContaining(`the administrator policy ${arn}`),
      });
    }
    // Same name, another path or a customer policy: not the AWS-managed one.
    expect((await run(iamPolicyChange, attach('arn:aws-us-gov:iam::111122223333:policy/AdministratorAccess'), capturingDeps())).severity).toBe('MEDIUM');
    expect((await run(iamPolicyChange, attach('arn:aws:iam::aws:policy/job-function/AdministratorAccess'), capturingDeps())).severity).toBe('MEDIUM');
  });

  it('says which group a user was added to (AddUserToGroup, MEDIUM), with the group as a resource', async () => {
    const { record, deps } = await runSample(iamPolicyChange, 'alerted.add-user-to-group');
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'MEDIUM',
      reason: expect.stringContaining('user contractor-01 was added to the group platform-admins'),
      resources: [
        { type: 'AWS::IAM::User', id: 'contractor-01' },
        { type: 'AWS::IAM::Group', id: 'platform-admins' },
      ],
    });
    expect(deps.published[0]?.text).toContain("aws iam list-attached-group-policies --group-name 'platform-admins'");
  });

  it("handles SetDefaultPolicyVersion (MEDIUM), saying the version's document is not in the event", async () => {
    const { record, deps } = await runSample(iamPolicyChange, 'alerted.set-default-policy-version');
    expect(record).toMatchObject({
      outcome: 'alerted',
      severity: 'MEDIUM',
      reason: expect.stringContaining('made version v1 the default of arn:aws:iam::111122223333:policy/app-runtime-s3'),
    });
    expect(record.reason).toContain("the event does not carry the version's document");
    expect(deps.published[0]?.text).toContain(
      "aws iam get-policy-version --policy-arn 'arn:aws:iam::111122223333:policy/app-runtime-s3' --version-id <version-id>",
    );
  });

  it('takes custom administrator policies from configuration', async () => {
    const config = capturingDeps().config;
    const attach = withDetail(loadSample('iam-policy-change', 'alerted.attach-user-policy-administrator-access'), {
      requestParameters: { userName: 'bob', policyArn: 'arn:aws:iam::111122223333:policy/god-mode' },
    });
    const plain = await run(iamPolicyChange, attach, capturingDeps());
    const custom = await run(
      iamPolicyChange,
      attach,
      capturingDeps({
        config: {
          ...config,
          rules: {
            ...config.rules,
            'iam-policy-change': { enabled: true, ignoreServiceLinkedRoles: true, adminPolicyArns: ['arn:aws:iam::111122223333:policy/god-mode'] },
          },
        },
      }),
    );
    expect(plain.severity).toBe('MEDIUM');
    expect(custom).toMatchObject({ severity: 'CRITICAL', reason: expect.stringContaining('gave user bob the administrator policy') });
  });

  it('alerts on CreateAccessKey with requestParameters null (a key for the caller itself), root included', async () => {
    const rootKey = loadSample('root-activity', 'alerted.create-access-key-console') as { detail: { requestParameters: unknown } };
    expect(rootKey.detail.requestParameters).toBeNull();
    const root = await run(iamPolicyChange, rootKey, capturingDeps());
    expect(root).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', reason: expect.stringContaining('for the ROOT USER itself') });
    const user = withDetail(loadSample('iam-policy-change', 'alerted.create-access-key-for-other-user'), { requestParameters: null });
    const own = await run(iamPolicyChange, user, capturingDeps());
    expect(own).toMatchObject({ outcome: 'alerted', reason: expect.stringMatching(/for ITSELF \(user \S+\)/) });
    expect(JSON.stringify(root) + JSON.stringify(own)).not.toContain('AKIAEXAMPLENEW');
  });

  it("keeps new access keys' ids out of the record and the message", async () => {
    const { record, deps } = await runSample(iamPolicyChange, 'alerted.create-access-key-for-other-user');
    expect(record).toMatchObject({ severity: 'MEDIUM', resources: [{ type: 'AWS::IAM::User', id: 'contractor-01' }] });
    expect(JSON.stringify(record) + deps.published[0]?.json).not.toContain('AKIAEXAMPLENEWKEY001');
  });
});

describe('iam-policy-change findings', () => {
  const sample = (name: string) => loadSample('iam-policy-change', name);
  // One event per kind of alert, with the finding code it must carry.
  const KINDS: readonly (readonly [Finding, string, unknown])[] = [
    ['privilege-escalation', 'AttachUserPolicy of AdministratorAccess', sample('alerted.attach-user-policy-administrator-access')],
    ['privilege-escalation', 'PutRolePolicy allowing *', sample('alerted.put-role-policy-star-url-encoded')],
    ['privilege-escalation', 'an admin version made the default', sample('alerted.create-policy-version-admin-as-default')],
    ['admin-policy-created', 'CreatePolicy allowing *', sample('alerted.create-policy-admin-document')],
    ['user-created', 'CreateUser', sample('alerted.create-user')],
    ['access-key-created', 'CreateAccessKey', sample('alerted.create-access-key-for-other-user')],
    ['user-added-to-group', 'AddUserToGroup', sample('alerted.add-user-to-group')],
    ['default-policy-version-set', 'SetDefaultPolicyVersion', sample('alerted.set-default-policy-version')],
    ['policy-changed', 'DetachRolePolicy', sample('alerted.detach-role-policy')],
    ['policy-changed', 'a limited PutGroupPolicy', sample('alerted.put-group-policy-limited')],
    ['unreadable-policy-changed', 'an unreadable document', putRole('%E0%A4%A{not json')],
  ];

  it('has an event for every finding code', () => {
    expect(new Set(KINDS.map(([finding]) => finding))).toEqual(new Set(FINDINGS));
  });

  it.each(KINDS)('sets %s on the record for %s', async (finding, _what, event) => {
    const record = await run(iamPolicyChange, event, capturingDeps());
    expect(record).toMatchObject({ outcome: 'alerted', finding });
  });

  it('titles by the finding, not the reason: "Privilege escalation" only for privilege-escalation', () => {
    const alerted = (finding: string, reason: string) =>
      iamPolicyChange.message(
        record({
          rule: 'iam-policy-change',
          outcome: 'alerted',
          severity: 'CRITICAL',
          eventName: 'PutUserPolicy',
          eventSource: 'iam.amazonaws.com',
          resources: [{ type: 'AWS::IAM::User', id: 'bob' }],
          finding,
          reason,
        }),
      );
    const lookalike = alerted('policy-changed', 'privilege escalation: PutUserPolicy gave user bob an inline policy p allowing everything');
    expect(lookalike.title).toBe('IAM change: PutUserPolicy bob');
    expect(lookalike.lines.join('\n')).not.toContain('detach or delete the policy');
    const escalation = alerted('privilege-escalation', 'IAM policy change: PutUserPolicy p on user bob');
    expect(escalation.title).toBe('Privilege escalation: PutUserPolicy bob');
    expect(escalation.lines.join('\n')).toContain('if unapproved: detach or delete the policy');
  });
});
