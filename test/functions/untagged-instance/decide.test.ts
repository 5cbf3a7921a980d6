import { describe, expect, it } from 'vitest';
import { untaggedInstance, type LaunchFacts, type LaunchState } from '../../../functions/untagged-instance/rule.js';
import { MAX_RESOURCES_PER_CALL } from '../../../functions/untagged-instance/tag-writes.js';
import type { InstanceNow } from '../../../shared/ec2/instance-reads.js';
import { creatorOf, fitTagValue, sanitiseTagValue, TAGGED_AT_KEY } from '../../../shared/ec2/tags.js';
import { ParseError } from '../../../shared/errors.js';
import { parseEnvelope, toEnvelopeJson, type Actor } from '../../../shared/events/schema.js';
import { expectedOutcome, loadSample, runSample, sampleConfig, sampleNames, withDetail } from '../../helpers/samples.js';

const RULE = 'untagged-instance';
const ACCOUNT = '111122223333';
/** When the fake reads happen: a few minutes after the samples' launches (2026-11-20T09:1x). */
const CHECKED_AT = Date.parse('2026-11-20T09:20:00Z');

function settingsWith(overrides: Record<string, unknown> = {}) {
  return untaggedInstance.settings(sampleConfig({ rules: { [RULE]: overrides } }));
}

function factsOf(sample: unknown): LaunchFacts {
  const event = parseEnvelope(toEnvelopeJson(sample));
  return untaggedInstance.parse({ event, record: event.detail });
}

function decideOn(sample: unknown, state?: LaunchState, overrides: Record<string, unknown> = {}) {
  return untaggedInstance.decide(factsOf(sample), state, settingsWith(overrides));
}

const instanceNow = (id: string, tags: Record<string, string>, extra: Partial<InstanceNow> = {}): InstanceNow => ({
  id,
  state: 'running',
  tags,
  volumeIds: [],
  ...extra,
});

function stateOf(instances: InstanceNow[], volumeTags: Record<string, Record<string, string>> = {}): LaunchState {
  return { instances: new Map(instances.map((i) => [i.id, i])), volumeTags: new Map(Object.entries(volumeTags)), checkedAt: CHECKED_AT };
}

const COMMON = { arn: undefined, accountId: ACCOUNT, principalId: 'AIDAEXAMPLE', invokedBy: undefined };
const assumedRole = (role: string, session: string, roleArn = `arn:aws:iam::${ACCOUNT}:role/${role}`): Actor => ({
  ...COMMON,
  type: 'AssumedRole',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session}`,
  roleArn,
  roleName: role,
  sessionName: session,
});

describe('untagged-instance offline decisions over events/untagged-instance', () => {
  it.each(sampleNames(RULE))('%s ends in the outcome its name states', async (name) => {
    const { record } = await runSample(untaggedInstance, name);
    expect(record.outcome).toBe(expectedOutcome(name));
    expect(record.rule).toBe(RULE);
  });
});

describe('untagged-instance owner: the creator, by identity type', () => {
  it('is the IAM user ARN for an IAM user', () => {
    const actor: Actor = { ...COMMON, type: 'IAMUser', arn: `arn:aws:iam::${ACCOUNT}:user/alice`, userName: 'alice' };
    expect(creatorOf(actor)).toEqual({ owner: `arn:aws:iam::${ACCOUNT}:user/alice`, kind: 'person', label: `IAM user arn:aws:iam::${ACCOUNT}:user/alice` });
  });

  it('keeps the user name when a long IAM path would pass 256 characters', () => {
    const arn = `arn:aws:iam::${ACCOUNT}:user/${'division/'.repeat(40)}alice`;
    expect(creatorOf({ ...COMMON, type: 'IAMUser', arn, userName: 'alice' })?.owner).toBe(`arn:aws:iam::${ACCOUNT}:user/alice`);
  });

  it('is the assumed-role ARN (role and session) for an assumed role', () => {
    expect(creatorOf(assumedRole('DevAdministrator', 'erin'))).toMatchObject({
      owner: `arn:aws:sts::${ACCOUNT}:assumed-role/DevAdministrator/erin`,
      kind: 'person',
      label: 'role DevAdministrator session erin',
    });
  });

  it('names the person for an Identity Center (SSO) role, whose session is the user name', () => {
    const role = 'AWSReservedSSO_AdministratorAccess_0123456789abcdef';
    const actor = assumedRole(role, 'frank@example.com', `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/${role}`);
    expect(creatorOf(actor)).toMatchObject({ owner: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/frank@example.com`, kind: 'person' });
  });

  it('is the root ARN for the root user', () => {
    expect(creatorOf({ ...COMMON, type: 'Root', arn: `arn:aws:iam::${ACCOUNT}:root` })).toMatchObject({
      owner: `arn:aws:iam::${ACCOUNT}:root`,
      kind: 'person',
    });
  });

  it.each([
    ['AWSServiceRoleForAutoScaling', 'autoscaling.amazonaws.com'],
    ['AWSServiceRoleForEC2Spot', 'spot.amazonaws.com'],
    ['AWSServiceRoleForAmazonEKSNodegroup', 'eks-nodegroup.amazonaws.com'],
  ])('is the service-linked role %s for a service launch, marked as a service', (role, principal) => {
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/aws-service-role/${principal}/${role}`;
    expect(creatorOf(assumedRole(role, 'AutoScaling', roleArn))).toEqual({
      owner: roleArn,
      kind: 'service',
      label: `AWS service ${principal} on the account's behalf (service-linked role ${role})`,
    });
  });

  it('is the service principal for an AWSService identity, and nothing for an identity the record does not name', () => {
    expect(creatorOf({ ...COMMON, type: 'AWSService', invokedBy: 'ecs.amazonaws.com' })).toMatchObject({ owner: 'ecs.amazonaws.com', kind: 'service' });
    expect(creatorOf({ ...COMMON, type: 'other', rawType: '...', arn: 'XXXXXXXXXXX' })).toBeUndefined();
  });

  it('says in the record that a service launched the instance and that Owner is the service-linked caller', () => {
    const decision = decideOn(loadSample(RULE, 'would-remediate.autoscaling-service-linked'));
    expect(decision).toMatchObject({
      kind: 'violation',
      reason: expect.stringContaining('a service launch: Owner is the service-linked caller'),
      actions: [
        {
          params: {
            Tags: [
              { Key: 'Owner', Value: `arn:aws:iam::${ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling` },
              { Key: TAGGED_AT_KEY },
            ],
          },
        },
      ],
    });
  });
});

describe('untagged-instance tag values', () => {
  it('cuts a session name so the value is exactly 256 characters, keeping the role', () => {
    const session = 's'.repeat(300);
    const creator = creatorOf(assumedRole('DevAdministrator', session));
    const head = `arn:aws:sts::${ACCOUNT}:assumed-role/DevAdministrator/`;
    expect(creator?.owner).toHaveLength(256);
    expect(creator?.owner.startsWith(`${head}sss`)).toBe(true);
    expect(creator?.adjusted).toBe('cut to 256 characters');
  });

  it('leaves a value of exactly 256 characters alone', () => {
    const value = 'a'.repeat(256);
    expect(fitTagValue(value)).toEqual({ value });
  });

  it('replaces characters outside the portable set in a session name instead of failing', () => {
    const creator = creatorOf(assumedRole('DevAdministrator', 'erin,admin#1'));
    expect(creator).toMatchObject({
      owner: `arn:aws:sts::${ACCOUNT}:assumed-role/DevAdministrator/erin_admin_1`,
      adjusted: 'characters outside the portable tag set replaced by _',
    });
  });

  it('keeps letters of any script, spaces and the allowed punctuation', () => {
    expect(sanitiseTagValue('Zoë Ä 名前 a+b=c.d_e:f/g@h-i')).toBe('Zoë Ä 名前 a+b=c.d_e:f/g@h-i');
    expect(sanitiseTagValue('a\u0000b"c')).toBe('a_b_c');
  });

  it('shows an adjusted Owner value in the reason', () => {
    const sample = withDetail(loadSample(RULE, 'would-remediate.assumed-role-session-name'), {
      userIdentity: {
        type: 'AssumedRole',
        arn: `arn:aws:sts::${ACCOUNT}:assumed-role/DevAdministrator/erin,ops`,
        accountId: ACCOUNT,
        sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${ACCOUNT}:role/DevAdministrator`, userName: 'DevAdministrator' } },
      },
    });
    const decision = decideOn(sample);
    expect(decision.reason).toContain('Owner value adjusted (characters outside the portable tag set replaced by _)');
    expect(decision).toMatchObject({
      actions: [{ params: { Tags: [{ Key: 'Owner', Value: `arn:aws:sts::${ACCOUNT}:assumed-role/DevAdministrator/erin_ops` }, { Key: TAGGED_AT_KEY }] } }],
    });
  });
});

describe('untagged-instance keys', () => {
  it('compares keys case-sensitively: owner and costcenter do not satisfy Owner and CostCenter', () => {
    const sample = loadSample(RULE, 'would-remediate.cli-tags-owner-lowercase');
    const decision = decideOn(sample, stateOf([instanceNow('i-0a1b2c3d4e5f60718', { owner: 'bob', costcenter: 'cc-1' })]), {
      requiredTags: ['Owner', 'CostCenter'],
      defaultTagValues: { CostCenter: 'cc-unassigned' },
    });
    expect(decision).toMatchObject({
      kind: 'violation',
      reason: expect.stringContaining('lacks Owner, CostCenter (has owner, costcenter: keys are case-sensitive)'),
      actions: [
        {
          params: {
            Resources: ['i-0a1b2c3d4e5f60718'],
            Tags: [
              { Key: 'Owner', Value: `arn:aws:iam::${ACCOUNT}:user/bob` },
              { Key: 'CostCenter', Value: 'cc-unassigned' },
              { Key: TAGGED_AT_KEY, Value: '2026-11-20T09:17:00.000Z' },
            ],
          },
          previous: { Tags: { owner: 'bob', costcenter: 'cc-1' } },
        },
      ],
    });
  });

  it('adds only the missing keys, never one the instance has, and not tagged-at again', () => {
    const sample = loadSample(RULE, 'would-remediate.console-iam-user-no-tags');
    const present = { Owner: 'someone-else', [TAGGED_AT_KEY]: '2026-01-01T00:00:00.000Z' };
    const decision = decideOn(sample, stateOf([instanceNow('i-0123456789abcdef0', present)]), {
      requiredTags: ['Owner', 'Team'],
      defaultTagValues: { Team: 'unassigned' },
    });
    expect(decision).toMatchObject({ kind: 'violation', actions: [{ params: { Tags: [{ Key: 'Team', Value: 'unassigned' }] } }] });
  });

  it('reports a missing key without a default and still tags what it can', () => {
    const decision = decideOn(loadSample(RULE, 'would-remediate.console-iam-user-no-tags'), undefined, { requiredTags: ['Owner', 'Project'] });
    expect(decision).toMatchObject({
      kind: 'violation',
      reason: expect.stringContaining('lacks Owner, Project; no value known for Project'),
      actions: [{ params: { Tags: [{ Key: 'Owner' }, { Key: TAGGED_AT_KEY }] } }],
    });
  });

  it('alerts instead of guessing when the record does not say who launched the instance', () => {
    const sample = withDetail(loadSample(RULE, 'would-remediate.console-iam-user-no-tags'), { userIdentity: { type: '...', arn: 'XXXXXXXXXXX' } });
    expect(decideOn(sample)).toMatchObject({
      kind: 'alert',
      severity: 'MEDIUM',
      reason: expect.stringMatching(/no value known for Owner \(launched by an identity the record does not name\).*nothing can be tagged automatically/),
    });
  });
});

describe('untagged-instance decisions on the instances as they are now', () => {
  const sample = loadSample(RULE, 'would-remediate.two-instances-one-call');
  const [first, second] = ['i-0c1d2e3f4a5b60718', 'i-0c1d2e3f4a5b60719'];

  it('is compliant when a launch template, ASG or CloudFormation added the required tag after all', () => {
    const decision = decideOn(sample, stateOf([instanceNow(first, { Owner: 'team-a' }), instanceNow(second, { Owner: 'team-b' })]));
    expect(decision).toMatchObject({ kind: 'compliant', resources: [{ id: first }, { id: second }] });
  });

  it('plans a write for the untagged instance only', () => {
    const decision = decideOn(sample, stateOf([instanceNow(first, { Owner: 'team-a' }), instanceNow(second, { Name: 'x' })]));
    expect(decision).toMatchObject({
      kind: 'violation',
      resources: [{ id: second }],
      actions: [{ resource: { id: second }, params: { Resources: [second] } }],
    });
    expect(decision.kind === 'violation' && decision.actions).toHaveLength(1);
    expect(decision.reason).toContain(`already tagged: ${first}`);
  });

  it('skips terminated, shutting-down and purged instances with the reason, and ignores a launch with nothing left', () => {
    const decision = decideOn(sample, stateOf([instanceNow(first, {}, { state: 'terminated' })]));
    expect(decision).toEqual({
      kind: 'not-applicable',
      reason: `no instance of this launch is left to tag (skipped: ${first} is terminated; ${second} not found (terminated and purged))`,
    });
    const partly = decideOn(sample, stateOf([instanceNow(first, {}, { state: 'shutting-down' }), instanceNow(second, {})]));
    expect(partly).toMatchObject({ kind: 'violation', actions: [{ resource: { id: second } }], reason: expect.stringContaining(`${first} is shutting-down`) });
  });

  it('tags the attached volumes with their own missing keys when tagVolumes is on', () => {
    const state = stateOf([instanceNow(first, {}, { volumeIds: ['vol-0aaaaaaaaaaaaaaa1', 'vol-0aaaaaaaaaaaaaaa2'] }), instanceNow(second, { Owner: 'x' })], {
      'vol-0aaaaaaaaaaaaaaa2': { Owner: 'kept', [TAGGED_AT_KEY]: 'earlier' },
    });
    const on = decideOn(sample, state, { tagVolumes: true });
    expect(on).toMatchObject({
      kind: 'violation',
      actions: [
        { resource: { id: first } },
        {
          resource: { type: 'AWS::EC2::Volume', id: 'vol-0aaaaaaaaaaaaaaa1', name: first },
          params: { Resources: ['vol-0aaaaaaaaaaaaaaa1'], Tags: [{ Key: 'Owner' }, { Key: TAGGED_AT_KEY }] },
        },
      ],
    });
    const off = decideOn(sample, state);
    expect(off).toMatchObject({ kind: 'violation', actions: [{ resource: { id: first } }] });
    expect(off.kind === 'violation' && off.actions).toHaveLength(1);
  });
});

describe('untagged-instance writes: one CreateTags per set of identical tags', () => {
  const sample = loadSample(RULE, 'would-remediate.two-instances-one-call');
  const [first, second] = ['i-0c1d2e3f4a5b60718', 'i-0c1d2e3f4a5b60719'];
  const [vol1, vol2] = ['vol-0aaaaaaaaaaaaaaa1', 'vol-0aaaaaaaaaaaaaaa2'];

  it("groups the instances and, apart, their volumes, each group with every member's previous tags", () => {
    const state = stateOf([instanceNow(first, { Name: 'a' }, { volumeIds: [vol1] }), instanceNow(second, { Name: 'b' }, { volumeIds: [vol2] })]);
    const decision = decideOn(sample, state, { tagVolumes: true });
    expect(decision).toMatchObject({
      kind: 'violation',
      actions: [
        {
          api: 'EC2.CreateTags',
          resource: { type: 'AWS::EC2::Instance', id: first },
          params: { Resources: [first, second] },
          previous: { Tags: {}, TagsByResource: { [first]: { Name: 'a' }, [second]: { Name: 'b' } } },
        },
        { api: 'EC2.CreateTags', resource: { type: 'AWS::EC2::Volume', id: vol1, name: first }, params: { Resources: [vol1, vol2] } },
      ],
    });
    expect(decision.kind === 'violation' && decision.actions).toHaveLength(2);
  });

  it(`splits a group into calls of at most ${MAX_RESOURCES_PER_CALL} resources`, () => {
    const ids = Array.from({ length: MAX_RESOURCES_PER_CALL + 1 }, (_, i) => `i-0bbbbbbbbbbbbb${i.toString(16).padStart(3, '0')}`);
    const many = withDetail(sample, { responseElements: { instancesSet: { items: ids.map((instanceId) => ({ instanceId })) } } });
    const decision = decideOn(many, stateOf(ids.map((id) => instanceNow(id, {}))));
    expect(decision.kind === 'violation' && decision.actions.map((a) => (a.params as { Resources: string[] }).Resources)).toEqual([
      ids.slice(0, -1),
      ids.slice(-1),
    ]);
  });

  it('plans the same grouped write offline, from the event, without a previous state', () => {
    const decision = decideOn(sample);
    expect(decision).toMatchObject({
      kind: 'violation',
      actions: [{ params: { Resources: [first, second], Tags: [{ Key: 'Owner' }, { Key: TAGGED_AT_KEY }] } }],
    });
    expect(decision.kind === 'violation' && decision.actions[0]).not.toHaveProperty('previous');
  });
});

describe('untagged-instance parse', () => {
  it('reads every instance id and takes the launch tags from request and response', () => {
    const facts = factsOf(loadSample(RULE, 'would-remediate.cli-tags-owner-lowercase'));
    expect(facts).toMatchObject({ resources: [{ type: 'AWS::EC2::Instance', id: 'i-0a1b2c3d4e5f60718' }], taggedAt: '2026-11-20T09:17:00.000Z' });
    expect(facts.launchTags['i-0a1b2c3d4e5f60718']).toEqual({ Name: 'example-batch-worker', owner: 'bob', team: 'data' });
  });

  it('reads a Panther-format event time', () => {
    const sample = withDetail(loadSample(RULE, 'would-remediate.sso-role'), { eventTime: '2024-12-16 18:41:07.000000000' });
    expect(factsOf(sample).taggedAt).toBe('2024-12-16T18:41:07.000Z');
  });

  it('refuses an instance id that is not one, naming the field', () => {
    const sample = withDetail(loadSample(RULE, 'would-remediate.sso-role'), { responseElements: { instancesSet: { items: [{ instanceId: 'i-*' }] } } });
    expect(() => factsOf(sample)).toThrow(ParseError);
    expect(() => factsOf(sample)).toThrow(/detail\.responseElements\.instancesSet\.items\.0\.instanceId/);
  });

  it('refuses a successful launch without instances in the response', () => {
    const sample = withDetail(loadSample(RULE, 'would-remediate.sso-role'), { responseElements: null });
    expect(() => factsOf(sample)).toThrow(/detail\.responseElements/);
  });
});
