import { describe, expect, it } from 'vitest';
import { trailLogging, type TrailFacts, type TrailState } from '../../../functions/trail-logging/rule.js';
import { trailRefFrom, updateShapeOf } from '../../../shared/cloudtrail/trail.js';
import { ParseError } from '../../../shared/errors.js';
import { parseEnvelope, toEnvelopeJson } from '../../../shared/events/schema.js';
import { reversalLines } from '../../../shared/actions/reversal.js';
import type { RemediationRecord } from '../../../shared/remediation-log.js';
import { expectedOutcome, loadSample, runSample, sampleConfig, sampleNames, withDetail } from '../../helpers/samples.js';

const ACCOUNT = '111122223333';
const ARN = `arn:aws:cloudtrail:us-east-1:${ACCOUNT}:trail/example-audit-trail`;
const settings = trailLogging.settings(sampleConfig());

function contextOf(sample: unknown) {
  const event = parseEnvelope(toEnvelopeJson(sample));
  return { event, record: event.detail };
}
const factsOf = (sample: unknown): TrailFacts => trailLogging.parse(contextOf(sample));
const decideOn = (name: string, state: TrailState | undefined, config = settings) => {
  const sample = loadSample('trail-logging', name);
  return trailLogging.decide(factsOf(sample), state, config);
};
/** A sample whose requestParameters are replaced. */
const withRequest = (name: string, requestParameters: unknown, extra: Record<string, unknown> = {}) =>
  withDetail(loadSample('trail-logging', name), { requestParameters, ...extra });

/** A trail as GetTrail answers it: healthy unless overridden. */
const trail = (overrides: Record<string, unknown> = {}) => ({
  kind: 'found' as const,
  settings: {
    Name: 'example-audit-trail',
    TrailARN: ARN,
    HomeRegion: 'us-east-1',
    S3BucketName: 'example-cloudtrail-logs',
    IsOrganizationTrail: false,
    IsMultiRegionTrail: true,
    IncludeGlobalServiceEvents: true,
    LogFileValidationEnabled: true,
    KmsKeyId: `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
    ...overrides,
  },
});

describe('trail-logging offline decisions over events/trail-logging', () => {
  it.each(sampleNames('trail-logging'))('%s ends in the outcome its name states', async (name) => {
    const { record } = await runSample(trailLogging, name);
    expect(record.outcome).toBe(expectedOutcome(name));
    expect(record.rule).toBe('trail-logging');
  });

  it('restarts a stopped trail with CRITICAL severity and says the account is blind until then', async () => {
    const { record, deps } = await runSample(trailLogging, 'would-remediate.stop-logging-by-name');
    expect(record).toMatchObject({
      severity: 'CRITICAL',
      reason: expect.stringContaining('until it logs again, no other trailguard rule can see this account'),
      actions: [{ api: 'CloudTrail.StartLogging', status: 'planned', params: { Name: 'example-audit-trail' } }],
    });
    expect(deps.published[0]?.text).toContain('Until the trail logs again, no other trailguard rule can see this account');
  });

  it('plans the restart in the home Region of the ARN, not the Region of the event', async () => {
    const { record } = await runSample(trailLogging, 'would-remediate.stop-logging-arn-home-region-differs');
    expect(record.region).toBe('eu-west-1');
    expect(record.resources).toEqual([{ type: 'AWS::CloudTrail::Trail', id: ARN, name: 'example-audit-trail', region: 'us-east-1' }]);
    expect(record.actions[0]?.params).toEqual({ Name: ARN });
    expect(record.reason).toContain('(home Region us-east-1)');
  });

  it('alerts, naming the management account, when the stopped trail belongs to another account', async () => {
    const { record, deps } = await runSample(trailLogging, 'alerted.stop-logging-organization-trail-of-management-account');
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'CRITICAL', actions: [] });
    expect(record.reason).toContain('organisation trail of account 444455556666: only that management account can change it');
    // StartLogging's own command (its action type's), Region first as every write command.
    expect(deps.published[0]?.text).toContain(
      "aws cloudtrail start-logging --region 'us-east-1' --name 'arn:aws:cloudtrail:us-east-1:444455556666:trail/example-org-trail'",
    );
  });

  it('alerts on DeleteTrail with what an operator needs to recreate the trail', async () => {
    const { record, deps } = await runSample(trailLogging, 'alerted.delete-trail');
    expect(record).toMatchObject({ severity: 'CRITICAL', actions: [], resources: [{ id: 'example-audit-trail', region: 'us-east-1' }] });
    expect(deps.published[0]?.text).toContain(
      "aws cloudtrail create-trail --name 'example-audit-trail' --s3-bucket-name <bucket> --is-multi-region-trail --enable-log-file-validation --region 'us-east-1'",
    );
  });

  it('alerts on narrowed event selectors with the selectors that were set and a restore command', async () => {
    const { record, deps } = await runSample(trailLogging, 'alerted.put-event-selectors-management-events-off');
    expect(record).toMatchObject({ severity: 'CRITICAL', resources: [{ id: ARN, name: 'example-audit-trail' }] });
    expect(record.reason).toContain('management events are no longer recorded. Set: event selectors: management off, ReadOnly, data AWS::S3::Object');
    expect(deps.published[0]?.text).toContain(`put-event-selectors --trail-name '${ARN}' --region 'us-east-1'`);
  });
});

describe('trail-logging parse', () => {
  it.each([
    ['a plain name', 'example-audit-trail', { name: 'example-audit-trail' }],
    ['an ARN', ARN, { name: 'example-audit-trail', arn: ARN, region: 'us-east-1', account: ACCOUNT }],
    ['a GovCloud ARN', `arn:aws-us-gov:cloudtrail:us-gov-west-1:${ACCOUNT}:trail/Gov.Trail_1`, { name: 'Gov.Trail_1', region: 'us-gov-west-1' }],
    ['the shortest name', 'abc', { name: 'abc' }],
    ['the longest name', 'a'.repeat(128), { name: 'a'.repeat(128) }],
    ['dots that are not an IP address', '1.2.3.4.5', { name: '1.2.3.4.5' }],
  ])('accepts %s', (_, value, expected) => {
    expect(trailRefFrom(value)).toMatchObject(expected);
  });

  it.each([
    ['too short', 'ab'],
    ['too long', 'a'.repeat(129)],
    ['starting with a separator', '-example'],
    ['ending with a separator', 'example.'],
    ['adjacent separators', 'my-_trail'],
    ['doubled dashes', 'my--trail'],
    ['doubled dots', 'my..trail'],
    ['an IP address', '192.168.5.4'],
    ['a space', 'my trail'],
    ['another service', `arn:aws:s3:::example-audit-trail`],
    ['an event data store ARN', `arn:aws:cloudtrail:us-east-1:${ACCOUNT}:eventdatastore/example-store`],
    ['an ARN with a made-up Region', `arn:aws:cloudtrail:apiso-centralnorth-2r:${ACCOUNT}:trail/example`],
    ['an ARN with a short account id', 'arn:aws:cloudtrail:us-east-1:12345:trail/example'],
    ['an ARN with an invalid trail name', `arn:aws:cloudtrail:us-east-1:${ACCOUNT}:trail/my--trail`],
  ])('refuses a name that is %s, naming the field', (_, name) => {
    expect(trailRefFrom(name)).toBeUndefined();
    const sample = withRequest('would-remediate.stop-logging-by-name', { name });
    expect(() => factsOf(sample)).toThrow(ParseError);
    expect(() => factsOf(sample)).toThrow(/detail\.requestParameters\.name: expected a trail name/);
  });

  it('reads trailName for PutEventSelectors and refuses a request without it', () => {
    const sample = loadSample('trail-logging', 'alerted.put-event-selectors-management-events-off');
    expect(factsOf(sample)).toMatchObject({ kind: 'selectors', trail: { name: 'example-audit-trail', arn: ARN } });
    const without = withRequest('alerted.put-event-selectors-management-events-off', { name: 'example-audit-trail', eventSelectors: [] });
    expect(() => factsOf(without)).toThrow(/detail\.requestParameters\.trailName/);
  });

  it('takes the ARN from the response when the request gave only the name', () => {
    const facts = factsOf(loadSample('trail-logging', 'would-remediate.update-trail-log-file-validation-off'));
    expect(facts).toMatchObject({ kind: 'updated', trail: { name: 'example-audit-trail', arn: ARN, region: 'us-east-1' }, weakened: ['logFileValidation'] });
  });

  it('does not count kmsKeyId "" as a key removal when the response still names a key', () => {
    const sample = withRequest('compliant.update-trail-console-no-weakening', { name: 'example-audit-trail', kmsKeyId: '' });
    expect(factsOf(sample)).toMatchObject({ kind: 'updated', shape: 'targeted', weakened: [] });
  });

  it('does not count a console edit\'s kmsKeyId "" as a weakening: the console sends it for every trail without a key', () => {
    const facts = factsOf(loadSample('trail-logging', 'compliant.update-trail-console-never-encrypted'));
    expect(facts).toMatchObject({ kind: 'updated', shape: 'full-form', weakened: [] });
  });

  it('counts kmsKeyId "" only in a targeted request, as an explicit "no key"', () => {
    expect(factsOf(loadSample('trail-logging', 'alerted.update-trail-kms-key-id-blank-cli'))).toMatchObject({
      kind: 'updated',
      shape: 'targeted',
      weakened: ['kmsKey'],
    });
  });

  it.each([
    ['a CLI flag turning one setting off', { name: 'x', isMultiRegionTrail: false }, 'targeted'],
    ['CLI flags turning two settings off', { name: 'x', isMultiRegionTrail: false, includeGlobalServiceEvents: false }, 'targeted'],
    ['an explicit empty KMS key', { name: 'x', kmsKeyId: '' }, 'targeted'],
    ['a setting left on next to one turned off', { name: 'x', isMultiRegionTrail: false, enableLogFileValidation: true }, 'full-form'],
    ['a bucket next to a setting turned off', { name: 'x', s3BucketName: 'example-logs', enableLogFileValidation: false }, 'full-form'],
    [
      'the console form',
      {
        name: 'x',
        s3BucketName: 'b',
        s3KeyPrefix: '',
        snsTopicName: '',
        includeGlobalServiceEvents: true,
        isMultiRegionTrail: false,
        enableLogFileValidation: true,
        kmsKeyId: '',
      },
      'full-form',
    ],
  ])('reads %s as %s', (_, request, shape) => {
    expect(updateShapeOf(request)).toBe(shape);
  });

  it('ignores Insights changes on an event data store, which is not a trail', () => {
    const sample = withRequest(
      'alerted.put-insight-selectors-turned-off',
      { eventDataStore: 'example-store', insightSelectors: [] },
      { responseElements: null },
    );
    expect(trailLogging.decide(factsOf(sample), undefined, settings)).toEqual({
      kind: 'not-applicable',
      reason: 'Insights selectors changed on an event data store, not a trail',
    });
    expect(factsOf(loadSample('trail-logging', 'alerted.put-insight-selectors-turned-off'))).toMatchObject({
      kind: 'selectors',
      trail: { name: 'example-audit-trail' },
    });
  });

  it("ignores the remediator's own UpdateTrail (self-role guard), which from anyone else would be decided", async () => {
    const { record } = await runSample(trailLogging, 'ignored.update-trail-restore-by-remediator');
    expect(record).toMatchObject({
      outcome: 'ignored',
      reason: expect.stringContaining('caused by trailguard itself (role trailguard-prod-trailLogging-role)'),
    });
    const fromSomeoneElse = await runSample(trailLogging, 'would-remediate.update-trail-log-file-validation-off');
    expect(fromSomeoneElse.record.outcome).toBe('would-remediate');
  });

  it('never sees StartLogging, the call its own remediation makes: the pattern leaves it out', async () => {
    const { record } = await runSample(trailLogging, 'ignored.start-logging-by-remediator');
    expect(record).toMatchObject({ outcome: 'ignored', reason: 'cloudtrail.amazonaws.com StartLogging does not match the trail-logging pattern' });
    expect((trailLogging.pattern as { detail: { eventName: string[] } }).detail.eventName).toContain('StopLogging');
  });
});

describe('trail-logging decisions on the trail as it is now', () => {
  it('is compliant when the stopped trail is logging again (stale event)', () => {
    expect(decideOn('would-remediate.stop-logging-by-name', { ...trail(), isLogging: true })).toMatchObject({
      kind: 'compliant',
      reason: expect.stringContaining('logging again'),
    });
  });

  it('restarts by ARN in the home Region GetTrail reports, recording that it was not logging', () => {
    const state = { ...trail({ HomeRegion: 'eu-central-1', TrailARN: ARN.replace('us-east-1', 'eu-central-1') }), isLogging: false };
    expect(decideOn('would-remediate.stop-logging-by-name', state)).toMatchObject({
      kind: 'violation',
      actions: [
        {
          api: 'CloudTrail.StartLogging',
          params: { Name: ARN.replace('us-east-1', 'eu-central-1') },
          resource: { region: 'eu-central-1' },
          previous: { IsLogging: false },
        },
      ],
    });
  });

  it('restarts an organisation trail from its management account, and says so', () => {
    const decision = decideOn('would-remediate.stop-logging-by-name', { ...trail({ IsOrganizationTrail: true }), isLogging: false });
    expect(decision).toMatchObject({ kind: 'violation', reason: expect.stringContaining('the organisation trail; this is its management account') });
  });

  it('alerts instead of acting when GetTrail shows the trail belongs to another account', () => {
    const decision = decideOn(
      'would-remediate.stop-logging-by-name',
      trail({ IsOrganizationTrail: true, TrailARN: 'arn:aws:cloudtrail:us-east-1:444455556666:trail/example-audit-trail' }),
    );
    expect(decision).toMatchObject({ kind: 'alert', severity: 'CRITICAL', reason: expect.stringContaining('only that management account can change it') });
  });

  it('is compliant when the weakened setting is already back on', () => {
    expect(decideOn('would-remediate.update-trail-log-file-validation-off', trail())).toMatchObject({
      kind: 'compliant',
      reason: expect.stringContaining('already restored'),
    });
  });

  it('restores only the weakened setting, recording the value it replaces', () => {
    const decision = decideOn('would-remediate.update-trail-log-file-validation-off', trail({ LogFileValidationEnabled: false, IsMultiRegionTrail: false }));
    expect(decision).toMatchObject({ kind: 'violation', severity: 'HIGH' });
    expect(decision.kind === 'violation' && decision.actions).toEqual([
      {
        api: 'CloudTrail.UpdateTrail',
        resource: { type: 'AWS::CloudTrail::Trail', id: ARN, name: 'example-audit-trail', region: 'us-east-1' },
        params: { Name: ARN, EnableLogFileValidation: true },
        previous: { EnableLogFileValidation: false },
      },
    ]);
  });

  it('turns global service events back on with multi-Region, which CloudTrail requires, and says so although restore.globalServiceEvents is off', () => {
    const sample = withRequest('would-remediate.update-trail-multi-region-off-cli', {
      name: 'example-audit-trail',
      isMultiRegionTrail: false,
      includeGlobalServiceEvents: false,
    });
    const decision = trailLogging.decide(factsOf(sample), trail({ IsMultiRegionTrail: false, IncludeGlobalServiceEvents: false }), settings);
    expect(decision).toMatchObject({
      kind: 'violation',
      reason: expect.stringContaining(
        'restoring multiRegion with globalServiceEvents: CloudTrail refuses a multi-Region trail without global service events (InvalidParameterCombinationException), so they are turned on although restore.globalServiceEvents is off',
      ),
      actions: [
        {
          params: { Name: ARN, IsMultiRegionTrail: true, IncludeGlobalServiceEvents: true },
          previous: { IsMultiRegionTrail: false, IncludeGlobalServiceEvents: false },
        },
      ],
    });
    expect(decision.reason).not.toContain('not restored');
  });

  it('restores multi-Region alone from a targeted CLI update when global service events are still on', () => {
    const decision = decideOn('would-remediate.update-trail-multi-region-off-cli', trail({ IsMultiRegionTrail: false }));
    expect(decision).toMatchObject({
      kind: 'violation',
      severity: 'HIGH',
      actions: [{ params: { Name: ARN, IsMultiRegionTrail: true }, previous: { IsMultiRegionTrail: false } }],
    });
    expect(decision.reason).not.toContain('globalServiceEvents');
  });

  it('alerts (HIGH) instead of restoring when a console edit sends isMultiRegionTrail false: it does not show the call changed it', () => {
    const decision = decideOn('alerted.update-trail-multi-region-off-console', trail({ IsMultiRegionTrail: false }));
    expect(decision).toEqual({
      kind: 'alert',
      severity: 'HIGH',
      resources: [expect.objectContaining({ id: ARN })],
      finding: 'trail-weakened',
      reason:
        'trail example-audit-trail: the trail is not multi-Region (other Regions are not recorded) after this UpdateTrail; not restored automatically: multiRegion (the request sends every setting, as the console does, so it does not show that this call turned it off: turn it back on if it was on)',
    });
  });

  it('alerts CRITICAL when the stopped trail is gone: deleted, maybe unseen', () => {
    const decision = decideOn('would-remediate.stop-logging-by-name', { kind: 'gone', api: 'CloudTrail.GetTrail', code: 'TrailNotFoundException' });
    expect(decision).toEqual({
      kind: 'alert',
      severity: 'CRITICAL',
      resources: [{ type: 'AWS::CloudTrail::Trail', id: 'example-audit-trail', name: 'example-audit-trail', region: 'us-east-1' }],
      reason:
        "trail example-audit-trail was stopped and no longer exists: deleted? if it was this account's only trail, the account may be unrecorded, and its DeleteTrail may never reach EventBridge (TrailNotFoundException from CloudTrail.GetTrail)",
      finding: 'trail-gone-after-change',
    });
  });

  it('alerts CRITICAL when the weakened trail is gone, naming what the update turned off', () => {
    const decision = decideOn('would-remediate.update-trail-log-file-validation-off', {
      kind: 'gone',
      api: 'CloudTrail.GetTrail',
      code: 'TrailNotFoundException',
    });
    expect(decision).toMatchObject({
      kind: 'alert',
      severity: 'CRITICAL',
      finding: 'trail-gone-after-change',
      reason: expect.stringMatching(/^trail example-audit-trail was weakened \(logFileValidation off\) and no longer exists: deleted\?/),
    });
  });

  it('only alerts when configuration turns the restore off', () => {
    const config = trailLogging.settings(sampleConfig({ rules: { 'trail-logging': { restore: { logFileValidation: false } } } }));
    const decision = decideOn('would-remediate.update-trail-log-file-validation-off', trail({ LogFileValidationEnabled: false }), config);
    expect(decision).toMatchObject({
      kind: 'alert',
      severity: 'HIGH',
      reason: expect.stringContaining('logFileValidation (restore.logFileValidation is off)'),
    });
  });

  it('alerts (LOW) on a targeted "no KMS key", never claiming a key was removed, and never restores it', () => {
    const config = trailLogging.settings(
      sampleConfig({ rules: { 'trail-logging': { restore: { logFileValidation: true, multiRegion: true, globalServiceEvents: true } } } }),
    );
    const decision = decideOn('alerted.update-trail-kms-key-id-blank-cli', trail({ KmsKeyId: undefined }), config);
    expect(decision).toMatchObject({ kind: 'alert', severity: 'LOW', reason: expect.stringContaining('kmsKey (the previous key id is unknown)') });
    expect(decision.reason).toContain('the trail is not encrypted with a KMS key (the update may have removed one, or it never had one)');
    expect(decision.reason).not.toMatch(/key (was )?removed/i);
  });

  it('is compliant with a targeted "no KMS key" when the trail has a key again', () => {
    expect(decideOn('alerted.update-trail-kms-key-id-blank-cli', trail())).toMatchObject({
      kind: 'compliant',
      reason: expect.stringContaining('already restored'),
    });
  });

  it("never plans an UpdateTrail on another account's trail", () => {
    const sample = withRequest(
      'would-remediate.update-trail-log-file-validation-off',
      { name: 'arn:aws:cloudtrail:us-east-1:444455556666:trail/example-org-trail', enableLogFileValidation: false },
      { responseElements: null },
    );
    const decision = trailLogging.decide(factsOf(sample), undefined, settings);
    expect(decision).toMatchObject({ kind: 'alert', reason: expect.stringContaining('organisation trail of account 444455556666') });
  });
});

describe('trail-logging event selector narrowing', () => {
  const selectors = (request: Record<string, unknown>) =>
    trailLogging.decide(
      factsOf(withRequest('alerted.put-event-selectors-management-events-off', { trailName: 'example-audit-trail', ...request }, { responseElements: null })),
      undefined,
      settings,
    );

  it.each([
    [
      'write-only basic selectors',
      { eventSelectors: [{ readWriteType: 'WriteOnly', includeManagementEvents: true }] },
      'CRITICAL',
      'read management events are no longer recorded',
    ],
    ['read-only basic selectors', { eventSelectors: [{ readWriteType: 'ReadOnly' }] }, 'CRITICAL', 'write management events are no longer recorded'],
    [
      'a source excluded by every management selector',
      { eventSelectors: [{ readWriteType: 'All', excludeManagementEventSources: ['kms.amazonaws.com'] }] },
      'CRITICAL',
      'from kms.amazonaws.com are excluded (none of their calls, reads or writes, are recorded)',
    ],
    [
      'advanced selectors without management events',
      {
        advancedEventSelectors: [
          {
            name: 'data',
            fieldSelectors: [
              { field: 'eventCategory', equals: ['Data'] },
              { field: 'resources.type', equals: ['AWS::S3::Object'] },
            ],
          },
        ],
      },
      'CRITICAL',
      'management events are no longer recorded',
    ],
    [
      'advanced read-only management selectors',
      {
        advancedEventSelectors: [
          {
            name: 'mgmt',
            fieldSelectors: [
              { field: 'eventCategory', equals: ['Management'] },
              { field: 'readOnly', equals: ['true'] },
            ],
          },
        ],
      },
      'CRITICAL',
      'write management events are no longer recorded',
    ],
    [
      'advanced selectors excluding a source',
      {
        advancedEventSelectors: [
          {
            name: 'mgmt',
            fieldSelectors: [
              { field: 'eventCategory', equals: ['Management'] },
              { field: 'eventSource', notEquals: ['kms.amazonaws.com'] },
            ],
          },
        ],
      },
      'CRITICAL',
      'from kms.amazonaws.com are excluded',
    ],
    [
      'advanced write-only management selectors',
      {
        advancedEventSelectors: [
          {
            name: 'mgmt',
            fieldSelectors: [
              { field: 'eventCategory', equals: ['Management'] },
              { field: 'readOnly', equals: ['false'] },
            ],
          },
        ],
      },
      'CRITICAL',
      'read management events are no longer recorded',
    ],
  ])('alerts on %s', (_, request, severity, text) => {
    expect(selectors(request)).toMatchObject({ kind: 'alert', severity, reason: expect.stringContaining(text) });
  });

  it.each([
    [
      'a source excluded by one selector but kept by another',
      { eventSelectors: [{ readWriteType: 'All', excludeManagementEventSources: ['kms.amazonaws.com'] }, { readWriteType: 'All' }] },
    ],
    ['read-only and write-only selectors together', { eventSelectors: [{ readWriteType: 'ReadOnly' }, { readWriteType: 'WriteOnly' }] }],
    [
      'advanced management selectors for all events',
      { advancedEventSelectors: [{ name: 'mgmt', fieldSelectors: [{ field: 'eventCategory', equals: ['Management'] }] }] },
    ],
  ])('is compliant with %s', (_, request) => {
    expect(selectors(request)).toMatchObject({ kind: 'compliant', reason: expect.stringContaining('keep management events recorded') });
  });

  it('alerts HIGH, not CRITICAL, when Insights is turned off, saying events are still recorded', () => {
    const decision = decideOn('alerted.put-insight-selectors-turned-off', undefined);
    expect(decision).toMatchObject({ kind: 'alert', severity: 'HIGH' });
    expect(decision.reason).toContain('management events are still recorded; Insights is anomaly detection, not recording');
  });
});

describe('trail-logging failed attempts', () => {
  it('alerts (HIGH) on a StopLogging blocked by policy, and never plans an action', async () => {
    const { record } = await runSample(trailLogging, 'alerted.stop-logging-access-denied');
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'HIGH', actions: [], resources: [{ id: 'example-audit-trail' }] });
    expect(record.reason).toContain('an attempt to stop trail example-audit-trail failed (AccessDenied: blocked by policy)');
  });

  it('alerts (MEDIUM) on a StopLogging with a name CloudTrail refused, showing the name without validating it', async () => {
    const { record } = await runSample(trailLogging, 'alerted.stop-logging-invalid-trail-name');
    expect(record).toMatchObject({ outcome: 'alerted', severity: 'MEDIUM', resources: [{ type: 'AWS::CloudTrail::Trail', id: 'example_-trail' }] });
  });

  it('is ignored when alertOnFailedAttempts is off', async () => {
    const config = sampleConfig({ rules: { 'trail-logging': { alertOnFailedAttempts: false } } });
    const { record } = await runSample(trailLogging, 'alerted.stop-logging-access-denied', { config });
    expect(record).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('the call failed (AccessDenied)') });
  });

  it('alerts on a failed weakening UpdateTrail but ignores a failed harmless one', () => {
    const failed = (request: unknown) => {
      const { record } = contextOf(
        withRequest('would-remediate.update-trail-log-file-validation-off', request, { errorCode: 'AccessDenied', responseElements: null }),
      );
      return trailLogging.failedCall(record, settings);
    };
    expect(failed({ name: 'example-audit-trail', isMultiRegionTrail: false })).toMatchObject({
      kind: 'alert',
      reason: expect.stringContaining('an attempt to weaken trail example-audit-trail'),
    });
    expect(failed({ name: 'example-audit-trail', snsTopicName: 'example-topic' })).toBeUndefined();
  });
});

describe('trail-logging message', () => {
  const base = {
    rule: 'trail-logging',
    severity: 'HIGH',
    mode: 'live',
    eventName: 'UpdateTrail',
    eventTime: '2026-11-20T09:15:00Z',
    region: 'us-east-1',
    reason: 'restored',
  } as const;
  const resource = { type: 'AWS::CloudTrail::Trail', id: ARN, name: 'example-audit-trail', region: 'us-east-1' };

  it('says what a restore replaced, and its action type gives the command that reverses it', () => {
    const params = { Name: ARN, EnableLogFileValidation: true, IsMultiRegionTrail: true };
    const record = {
      ...base,
      outcome: 'remediated',
      resources: [resource],
      actions: [
        { api: 'CloudTrail.UpdateTrail', status: 'done', resource: ARN, params, previous: { EnableLogFileValidation: false, IsMultiRegionTrail: false } },
      ],
    } as unknown as RemediationRecord;
    const message = trailLogging.message(record);
    expect(message.title).toBe('Weakened trail example-audit-trail restored');
    expect(message.lines).toContain('Before: {"EnableLogFileValidation":false,"IsMultiRegionTrail":false}');
    // The notifier appends the reversal from the action type (as report and undo print it); the message has none of its own.
    expect(message.lines.filter((line) => line.includes('update-trail'))).toEqual([]);
    expect(reversalLines(trailLogging.actions, record)).toEqual([
      `To reverse: aws cloudtrail update-trail --region 'us-east-1' --name '${ARN}' --no-enable-log-file-validation --no-is-multi-region-trail`,
      // Pasting it weakens the trail again, which this rule restores within seconds: the notification says so.
      `Pasted as is, the reverse command is itself a call this rule remediates within seconds: exempt the resource first with trailguard exempt add --rule 'trail-logging' --resource '${ARN}' --reason '<ticket that approves the change>' (it takes effect within the configuration cache time, configMaxAgeSeconds), or use trailguard undo, which refuses until it is in place.`,
    ]);
  });

  it('gives recovery steps, not a restart, when a stopped trail is gone', () => {
    const reason = "trail example-audit-trail was stopped and no longer exists: deleted? if it was this account's only trail, …";
    const record = {
      ...base,
      eventName: 'StopLogging',
      outcome: 'alerted',
      severity: 'CRITICAL',
      reason,
      finding: 'trail-gone-after-change',
      resources: [resource],
      actions: [],
    } as unknown as RemediationRecord;
    const message = trailLogging.message(record);
    expect(message.title).toBe('Trail example-audit-trail stopped, then gone (deleted?)');
    expect(message.lines).toEqual(
      expect.arrayContaining([
        "Find who deleted it (Event history keeps 90 days of management events, trail or not): aws cloudtrail lookup-events --lookup-attributes 'AttributeKey=EventName,AttributeValue=DeleteTrail' --region 'us-east-1'",
        expect.stringContaining(
          "aws cloudtrail create-trail --name 'example-audit-trail' --s3-bucket-name <bucket> --is-multi-region-trail --enable-log-file-validation --region 'us-east-1', then aws cloudtrail start-logging --region 'us-east-1' --name 'example-audit-trail'",
        ),
      ]),
    );
    expect(message.lines.join('\n')).not.toContain("get-trail-status --name 'arn:");
  });

  it('keeps the restart command for a stopped organisation trail of another account', () => {
    const record = {
      ...base,
      eventName: 'StopLogging',
      outcome: 'alerted',
      reason: 'trail x was stopped; it is an organisation trail of account 444455556666',
      resources: [resource],
      actions: [],
    } as unknown as RemediationRecord;
    expect(trailLogging.message(record).lines).toContain(`Restart: aws cloudtrail start-logging --region 'us-east-1' --name '${ARN}'`);
  });

  it('tells of the unrecorded window after a restart instead of the restart command', () => {
    const record = { ...base, eventName: 'StopLogging', outcome: 'remediated', resources: [resource], actions: [] } as unknown as RemediationRecord;
    const message = trailLogging.message(record);
    expect(message.title).toBe('Stopped trail example-audit-trail restarted');
    expect(message.lines.join('\n')).toContain('between the StopLogging (2026-11-20T09:15:00Z) and the restart were not recorded');
    expect(message.lines.join('\n')).not.toContain('start-logging');
  });
});
