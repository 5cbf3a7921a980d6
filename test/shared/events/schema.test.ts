import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ParseError } from '../../../shared/errors.js';
import { eventTimeMs, ec2Items, asList, firstString, bucketNameFrom } from '../../../shared/events/normalize.js';
import { actorLabel, parseEnvelope, parseEnvelopeBySchema, toEnvelopeJson, wrapRecord } from '../../../shared/events/schema.js';
import { publicBucket } from '../../../functions/public-bucket/rule.js';
import { run } from '../../../shared/runner/run.js';
import { capturingDeps, EVENTS_DIR, loadSample, withDetail } from '../../helpers/samples.js';

const bare = {
  eventVersion: '1.08',
  userIdentity: {
    type: 'AssumedRole',
    arn: 'arn:aws:sts::111122223333:assumed-role/DevAdministrator/alice@example.com',
    accountId: '444455556666',
    sessionContext: { sessionIssuer: { type: 'Role', arn: 'arn:aws:iam::111122223333:role/DevAdministrator', userName: 'DevAdministrator' } },
  },
  eventTime: '2026-11-20T09:15:00Z',
  eventSource: 's3.amazonaws.com',
  eventName: 'PutBucketAcl',
  awsRegion: 'eu-west-1',
  eventID: 'e-1',
  eventType: 'AwsApiCall',
  recipientAccountId: '111122223333',
  requestParameters: { bucketName: 'example' },
  responseElements: null,
};

describe('bare records are wrapped the way EventBridge wraps them', () => {
  it('derives source, detail-type, account, region and time from the record', () => {
    expect(wrapRecord(bare)).toMatchObject({
      source: 'aws.s3',
      'detail-type': 'AWS API Call via CloudTrail',
      account: '111122223333',
      region: 'eu-west-1',
      time: '2026-11-20T09:15:00Z',
      detail: bare,
    });
  });

  it('maps console sign-ins to their own detail-type', () => {
    expect(wrapRecord({ ...bare, eventType: 'AwsConsoleSignIn', eventSource: 'signin.amazonaws.com' })).toMatchObject({
      source: 'aws.signin',
      'detail-type': 'AWS Console Sign In via CloudTrail',
    });
  });

  it('leaves envelopes as they are', () => {
    const envelope = wrapRecord(bare);
    expect(toEnvelopeJson(envelope)).toBe(envelope);
  });
});

describe('parseEnvelope', () => {
  it('takes the account from recipientAccountId, never from userIdentity.accountId', () => {
    const event = parseEnvelope(toEnvelopeJson({ ...bare }));
    expect(event.account).toBe('111122223333');
  });

  it('accepts a numeric envelope account', () => {
    const event = parseEnvelope({ ...wrapRecord(bare), account: 111122223333 });
    expect(event.account).toBe('111122223333');
  });

  it('narrows an assumed role to role and session', () => {
    const { actor } = parseEnvelope(toEnvelopeJson(bare)).detail;
    expect(actor).toMatchObject({ type: 'AssumedRole', roleName: 'DevAdministrator', sessionName: 'alice@example.com' });
    expect(actorLabel(actor)).toBe(bare.userIdentity.arn);
  });

  it('keeps an unknown identity type instead of rejecting the record', () => {
    const { actor } = parseEnvelope(toEnvelopeJson({ ...bare, userIdentity: { type: '...', arn: 'XXXXXXXXXXX' } })).detail;
    expect(actor).toMatchObject({ type: 'other', rawType: '...' });
  });

  it('labels an AWS service caller by the service', () => {
    const { actor } = parseEnvelope(toEnvelopeJson({ ...bare, userIdentity: { type: 'AWSService', invokedBy: 'autoscaling.amazonaws.com' } })).detail;
    expect(actorLabel(actor)).toBe('autoscaling.amazonaws.com');
  });

  it('names the missing field in a ParseError', () => {
    const { eventName: _dropped, ...noName } = bare;
    const envelope = { ...wrapRecord(bare), detail: noName };
    expect(() => parseEnvelope(envelope)).toThrow(ParseError);
    expect(() => parseEnvelope(envelope)).toThrow(/^\$\.detail\.eventName: is missing \(event e-1\)$/);
  });

  it('says what was expected for a field of the wrong type', () => {
    expect(() => parseEnvelope(toEnvelopeJson({ ...bare, eventName: 42 }))).toThrow(/^\$\.detail\.eventName: expected string, got 42/);
  });

  it('rejects a value that is not an object', () => {
    expect(() => parseEnvelope([bare])).toThrow(/expected an EventBridge envelope or a CloudTrail record/);
  });
});

describe('normalizers', () => {
  it('asList turns one object, a list or nothing into a list', () => {
    expect(asList({ a: 1 })).toEqual([{ a: 1 }]);
    expect(asList([1, 2])).toEqual([1, 2]);
    expect(asList(undefined)).toEqual([]);
  });

  it('ec2Items reads {items}, {} and a missing key', () => {
    expect(ec2Items({ items: [{ cidrIp: '0.0.0.0/0' }] })).toEqual([{ cidrIp: '0.0.0.0/0' }]);
    expect(ec2Items({})).toEqual([]);
    expect(ec2Items(undefined)).toEqual([]);
  });

  it('firstString reads header lists and plain strings', () => {
    expect(firstString(['public-read'])).toBe('public-read');
    expect(firstString('private')).toBe('private');
    expect(firstString(42)).toBeUndefined();
  });

  it('bucketNameFrom reads names and ARNs', () => {
    expect(bucketNameFrom('arn:aws-us-gov:s3:::example-gov')).toBe('example-gov');
    expect(bucketNameFrom('example')).toBe('example');
  });

  it('eventTimeMs reads ISO and Panther times', () => {
    expect(eventTimeMs('2024-12-16T18:41:07Z')).toBe(Date.UTC(2024, 11, 16, 18, 41, 7));
    expect(eventTimeMs('2024-12-16 18:41:07.000000000')).toBe(Date.UTC(2024, 11, 16, 18, 41, 7));
    expect(eventTimeMs('yesterday')).toBeUndefined();
  });
});

describe("parseEnvelope fast path (events that pass as they are skip valibot's copies)", () => {
  const outcome = (parse: (json: unknown) => unknown, json: unknown) => {
    try {
      return { ok: parse(json) };
    } catch (error) {
      return { error: String(error), type: (error as Error).constructor.name };
    }
  };
  const samples = readdirSync(EVENTS_DIR).flatMap((rule) =>
    readdirSync(join(EVENTS_DIR, rule)).map((file) => {
      const value = JSON.parse(readFileSync(join(EVENTS_DIR, rule, file), 'utf8')) as { Records?: unknown[] };
      return toEnvelopeJson(value.Records?.[0] ?? value);
    }),
  );

  it('gives the same event as valibot for every bundled sample', () => {
    expect(samples.length).toBeGreaterThan(50);
    for (const json of samples) expect(parseEnvelope(json)).toEqual(parseEnvelopeBySchema(json));
  });

  it('gives the same event or the same error as valibot when any checked field is replaced by any JSON value', () => {
    const paths = [
      ['id'],
      ['detail-type'],
      ['source'],
      ['account'],
      ['time'],
      ['region'],
      ['detail'],
      ...[
        'eventVersion',
        'eventTime',
        'eventSource',
        'eventName',
        'awsRegion',
        'eventID',
        'eventType',
        'sourceIPAddress',
        'userAgent',
        'userIdentity',
        'requestParameters',
        'errorCode',
        'errorMessage',
        'recipientAccountId',
        'readOnly',
      ].map((key) => ['detail', key]),
      ...['type', 'arn', 'accountId', 'principalId', 'userName', 'invokedBy', 'sessionContext'].map((key) => ['detail', 'userIdentity', key]),
      ['detail', 'userIdentity', 'sessionContext', 'sessionIssuer'],
      ['detail', 'userIdentity', 'sessionContext', 'sessionIssuer', 'userName'],
    ];
    const replacement = fc.oneof(fc.constant(undefined), fc.constant(null), fc.constant(Number.NaN), fc.jsonValue({ maxDepth: 2 }));
    fc.assert(
      fc.property(fc.nat(samples.length - 1), fc.constantFrom(...paths), replacement, (index, path, value) => {
        const json = structuredClone(samples[index]) as Record<string, unknown>;
        let at: Record<string, unknown> = json;
        for (const key of path.slice(0, -1)) {
          if (at[key] === null || typeof at[key] !== 'object') at[key] = {};
          at = at[key] as Record<string, unknown>;
        }
        at[path.at(-1) as string] = value;
        expect(outcome(parseEnvelope, json)).toEqual(outcome(parseEnvelopeBySchema, json));
      }),
      { numRuns: 400 },
    );
  });
});

describe('the assumed-role ARN is read into role and session names', () => {
  const actorFor = (arn: string) => parseEnvelope(toEnvelopeJson({ ...bare, userIdentity: { type: 'AssumedRole', arn } })).detail.actor;
  it.each([
    ['arn:aws:sts::111122223333:assumed-role/Admin/alice@example.com', 'Admin', 'alice@example.com'],
    ['arn:aws:sts::111122223333:assumed-role/Admin/a/b', 'Admin', 'a/b'],
    ['arn:aws:sts::111122223333:assumed-role/Admin/', 'Admin', ''],
    ['arn:aws:sts::111122223333:assumed-role/Admin', 'Admin', undefined],
    ['arn:aws:sts::111122223333:assumed-role//s', undefined, 's'],
    ['arn:aws:sts::111122223333:assumed-role', undefined, undefined],
    ['not-an-arn/Admin/s', undefined, undefined],
  ])('%s', (arn, roleName, sessionName) => {
    expect(actorFor(arn)).toMatchObject({ type: 'AssumedRole', roleName, sessionName });
  });
});

describe('lenient on the fields no decision or action uses, strict on the rest (real exports are looser than EventBridge)', () => {
  it('reads a record whose readOnly, managementEvent and eventCategory are strings, as console copies and SIEM exports give them', () => {
    const event = parseEnvelope(toEnvelopeJson({ ...bare, readOnly: 'false', managementEvent: 'true', eventCategory: 42 }));
    expect(event.detail).toMatchObject({ eventName: 'PutBucketAcl', requestParameters: { bucketName: 'example' } });
    expect(parseEnvelopeBySchema(toEnvelopeJson({ ...bare, readOnly: 'false' }))).toEqual(event);
  });

  it('judges such a record like any other: a bucket made public with readOnly "false" is a violation, not failed', async () => {
    const sample = withDetail(loadSample('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read'), { readOnly: 'false', managementEvent: 'true' });
    const record = await run(publicBucket, sample, capturingDeps());
    expect(record).toMatchObject({ outcome: 'would-remediate', error: null, actions: [{ api: 'S3.PutPublicAccessBlock' }] });
  });

  it('shows display-only fields as text when they are text or numbers, and drops them otherwise', () => {
    const event = parseEnvelope(
      toEnvelopeJson({
        ...bare,
        eventVersion: 1.08,
        userAgent: { agent: 'x' },
        errorMessage: ['denied'],
        eventType: 7,
        userIdentity: { ...bare.userIdentity, principalId: 123456 },
      }),
    );
    expect(event.detail).toMatchObject({ eventVersion: '1.08', userAgent: undefined, errorMessage: undefined, eventType: '7' });
    expect(event.detail.actor).toMatchObject({ principalId: '123456', roleName: 'DevAdministrator' });
  });

  it('reads null, as Athena and CloudTrail Lake exports write an absent field, as absent', async () => {
    const nulls = {
      ...bare,
      errorCode: null,
      sourceIPAddress: null,
      recipientAccountId: null,
      eventID: null,
      userIdentity: {
        ...bare.userIdentity,
        invokedBy: null,
        userName: null,
        accountId: null,
        sessionContext: { sessionIssuer: { ...bare.userIdentity.sessionContext.sessionIssuer, type: null } },
      },
    };
    const event = parseEnvelope(toEnvelopeJson(nulls));
    expect(event.detail).toMatchObject({ eventName: 'PutBucketAcl', errorCode: undefined, sourceIp: undefined, eventId: undefined });
    expect(event.detail.actor).toMatchObject({ type: 'AssumedRole', roleName: 'DevAdministrator', invokedBy: undefined, accountId: undefined });
    expect(parseEnvelope(toEnvelopeJson({ ...bare, userIdentity: { ...bare.userIdentity, sessionContext: null } })).detail.actor.type).toBe('AssumedRole');
    expect(parseEnvelope(toEnvelopeJson({ ...bare, userIdentity: null })).detail.actor).toMatchObject({ type: 'other', rawType: 'missing' });
    // And judged like any other: a public canned ACL with a null errorCode is a violation, not failed.
    const sample = withDetail(loadSample('public-bucket', 'would-remediate.put-bucket-acl-canned-public-read'), { errorCode: null, sourceIPAddress: null });
    expect(await run(publicBucket, sample, capturingDeps())).toMatchObject({ outcome: 'would-remediate', error: null });
  });

  it('still rejects a wrong type in a field decisions use, naming it', () => {
    expect(() => parseEnvelope(toEnvelopeJson({ ...bare, readOnly: 'false', errorCode: true }))).toThrow(/^\$\.detail\.errorCode: expected string, got true/);
    expect(() => parseEnvelope(toEnvelopeJson({ ...bare, readOnly: 'false', sourceIPAddress: 42 }))).toThrow(/^\$\.detail\.sourceIPAddress: expected string/);
    expect(() => parseEnvelope({ ...wrapRecord(bare), detail: { ...bare, awsRegion: ['eu-west-1'] } })).toThrow(/^\$\.detail\.awsRegion: expected string/);
  });

  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])(
    'wraps a record of eventType %s as an API call (own keys only)',
    (eventType) => {
      const wrapped = wrapRecord({ ...bare, eventType });
      expect(wrapped['detail-type']).toBe('AWS API Call via CloudTrail');
      expect(parseEnvelope(wrapped)).toMatchObject({ detailType: 'AWS API Call via CloudTrail', detail: { eventType } });
    },
  );

  it('still maps the eventTypes CloudTrail has to their detail-types', () => {
    expect(wrapRecord({ ...bare, eventType: 'AwsServiceEvent' })['detail-type']).toBe('AWS Service Event via CloudTrail');
    expect(wrapRecord({ ...bare, eventType: 'AwsConsoleAction' })['detail-type']).toBe('AWS Console Action via CloudTrail');
  });
});
