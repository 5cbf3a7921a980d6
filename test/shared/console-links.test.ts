import { describe, expect, it } from 'vitest';
import { consoleLinks, eventLink, resourceLink } from '../../shared/console-links.js';

const EVENT_ID = 'a11e7000-0000-0000-0000-00000000000d';
const event = { trigger: 'event' as const, eventId: EVENT_ID, region: 'us-east-1' };

describe('console links', () => {
  it('links the event to its CloudTrail Event history entry in the region it was recorded in', () => {
    expect(eventLink(event)).toEqual({
      label: 'CloudTrail event',
      url: `https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/${EVENT_ID}`,
    });
  });

  it("gives no event link for an id or region that is not of AWS's shape, nor for a sweep's finding", () => {
    expect(eventLink({ ...event, eventId: 'x#/../../evil.example/' })).toBeUndefined();
    expect(eventLink({ ...event, eventId: `${EVENT_ID}\u202e` })).toBeUndefined();
    expect(eventLink({ ...event, region: 'us-east-1.evil.example/#' })).toBeUndefined();
    expect(eventLink({ ...event, trigger: 'sweep' })).toBeUndefined();
    // The positive case with the same values but for the changed one: the checks, not something else, refused them.
    expect(eventLink(event)).toBeDefined();
  });

  it('gives no link in another partition: its console is on another host', () => {
    expect(eventLink({ ...event, region: 'cn-north-1' })).toBeUndefined();
    expect(eventLink({ ...event, region: 'us-gov-west-1' })).toBeUndefined();
    expect(resourceLink({ type: 'AWS::EC2::SecurityGroup', id: 'sg-0123456789abcdef0' }, 'cn-northwest-1')).toBeUndefined();
    expect(resourceLink({ type: 'AWS::EC2::SecurityGroup', id: 'sg-0123456789abcdef0' }, 'eu-west-1')).toBeDefined();
  });

  it('links each resource type to its console page, with the resource region first', () => {
    const links = [
      resourceLink({ type: 'AWS::S3::Bucket', id: 'example-reports' }, 'eu-west-1'),
      resourceLink({ type: 'AWS::EC2::SecurityGroup', id: 'sg-0123456789abcdef0' }, 'eu-west-1'),
      resourceLink({ type: 'AWS::EC2::Instance', id: 'i-0123456789abcdef0', region: 'ap-southeast-2' }, 'eu-west-1'),
      resourceLink({ type: 'AWS::IAM::User', id: 'contractor-01' }, 'us-east-1'),
      resourceLink({ type: 'AWS::IAM::ManagedPolicy', id: 'arn:aws:iam::aws:policy/AdministratorAccess' }, 'us-east-1'),
      resourceLink({ type: 'AWS::KMS::Key', id: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab' }, 'eu-west-1'),
    ].map((link) => link?.url);

    expect(links).toEqual([
      'https://s3.console.aws.amazon.com/s3/buckets/example-reports?region=eu-west-1',
      'https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#SecurityGroup:groupId=sg-0123456789abcdef0',
      'https://ap-southeast-2.console.aws.amazon.com/ec2/home?region=ap-southeast-2#InstanceDetails:instanceId=i-0123456789abcdef0',
      'https://console.aws.amazon.com/iam/home#/users/details/contractor-01',
      'https://console.aws.amazon.com/iam/home#/policies/details/arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAdministratorAccess',
      'https://eu-west-1.console.aws.amazon.com/kms/home?region=eu-west-1#/kms/keys/1234abcd-12ab-34cd-56ef-1234567890ab',
    ]);
  });

  it('builds no link from a value that is not a well-formed id of its type', () => {
    const hostile = [
      { type: 'AWS::S3::Bucket', id: 'x?next=https://evil.example' },
      { type: 'AWS::EC2::SecurityGroup', id: 'sg-0123#javascript:alert(1)' },
      { type: 'AWS::IAM::User', id: 'alice/../../admin' },
      { type: 'AWS::IAM::ManagedPolicy', id: 'https://evil.example/policy' },
      { type: 'AWS::KMS::Key', id: 'alias/../../evil' },
    ];

    expect(hostile.map((resource) => resourceLink(resource, 'eu-west-1'))).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it('lists the event first, then each distinct resource page, at most five', () => {
    const resources = Array.from({ length: 8 }, (_, i) => ({ type: 'AWS::EC2::Instance', id: `i-0123456789abcdef${i}` }));
    const links = consoleLinks({ ...event, region: 'eu-west-1', resources: [...resources, resources[0]!, { type: 'AWS::IAM::RootUser', id: '111122223333' }] });

    expect(links.map((link) => link.label)).toEqual([
      'CloudTrail event',
      'EC2 instance i-0123456789abcdef0',
      'EC2 instance i-0123456789abcdef1',
      'EC2 instance i-0123456789abcdef2',
      'EC2 instance i-0123456789abcdef3',
      'EC2 instance i-0123456789abcdef4',
    ]);
  });
});
