/**
 * Links from a notification to the AWS console: the CloudTrail Event history entry of the event, and each resource
 * the record names. Every value in a link comes from the event (attacker-controlled), so each is checked against the
 * shape AWS gives it (a region code, a UUID event id, an `sg-` id, a bucket name…) and URL-encoded; a value that
 * fails its check gets no link. Console hosts are the `aws` partition's: an `aws-cn` or `aws-us-gov` region (or any
 * other partition's) gets none, as its consoles live on other hosts.
 */
import { isBucketName, isIamName, isIamPolicyArn, isInstanceId, isKmsKeyRef, isRegionName } from './aws/names.js';
import type { RemediationRecord } from './remediation-log.js';
import type { ResourceRef } from './rule.js';

/** One console link: what it opens, and the URL. */
export interface ConsoleLink {
  readonly label: string;
  readonly url: string;
}

// CloudTrail event ids are UUIDs: anything else (an attacker's id, a sweep's finding id) gets no Event history link.
const EVENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const GROUP_ID = /^sg-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const VPC_ID = /^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
// Regions of other partitions: China (cn-), GovCloud (us-gov-), the isolated and sovereign clouds.
const OTHER_PARTITION = /^(?:cn|us-gov|us-iso[a-z]*|eu-isoe|eusc)-/;

const enc = encodeURIComponent;
const isAwsRegion = (region: string | null | undefined): region is string =>
  typeof region === 'string' && isRegionName(region) && !OTHER_PARTITION.test(region);
const regional = (region: string, path: string, fragment: string) => `https://${region}.console.aws.amazon.com/${path}?region=${region}#${fragment}`;
// IAM is global: its console takes no region.
const iam = (fragment: string) => `https://console.aws.amazon.com/iam/home#/${fragment}`;

/** The CloudTrail Event history entry of a record's event (in the region CloudTrail recorded it), when it has one. */
export function eventLink(record: Pick<RemediationRecord, 'trigger' | 'eventId' | 'region'>): ConsoleLink | undefined {
  if (record.trigger !== 'event' || !EVENT_ID.test(record.eventId) || !isAwsRegion(record.region)) return undefined;
  return { label: 'CloudTrail event', url: regional(record.region, 'cloudtrailv2/home', `/events/${enc(record.eventId)}`) };
}

/** The console page of one resource (its own region, else the record's), when its type has one and its id is well formed. */
export function resourceLink(resource: ResourceRef, recordRegion: string | null): ConsoleLink | undefined {
  const region = resource.region ?? recordRegion;
  const id = resource.id;
  const url = ((): string | undefined => {
    switch (resource.type) {
      case 'AWS::S3::Bucket':
        return isBucketName(id) ? `https://s3.console.aws.amazon.com/s3/buckets/${enc(id)}${isAwsRegion(region) ? `?region=${region}` : ''}` : undefined;
      case 'AWS::IAM::User':
        return isIamName(id) ? iam(`users/details/${enc(id)}`) : undefined;
      case 'AWS::IAM::Role':
        return isIamName(id) ? iam(`roles/details/${enc(id)}`) : undefined;
      case 'AWS::IAM::Group':
        return isIamName(id) ? iam(`groups/details/${enc(id)}`) : undefined;
      case 'AWS::IAM::ManagedPolicy':
        return isIamPolicyArn(id) && id.startsWith('arn:aws:') ? iam(`policies/details/${enc(id)}`) : undefined;
      default:
        break;
    }
    if (!isAwsRegion(region)) return undefined;
    switch (resource.type) {
      case 'AWS::EC2::SecurityGroup':
        return GROUP_ID.test(id) ? regional(region, 'ec2/home', `SecurityGroup:groupId=${enc(id)}`) : undefined;
      case 'AWS::EC2::Instance':
        return isInstanceId(id) ? regional(region, 'ec2/home', `InstanceDetails:instanceId=${enc(id)}`) : undefined;
      case 'AWS::EC2::VPC':
        return VPC_ID.test(id) ? regional(region, 'vpcconsole/home', `VpcDetails:VpcId=${enc(id)}`) : undefined;
      case 'AWS::KMS::Key':
        // The console's key page takes the key id, not the ARN.
        return isKmsKeyRef(id) ? regional(region, 'kms/home', `/kms/keys/${enc(id.split('/').pop() ?? id)}`) : undefined;
      case 'AWS::CloudTrail::Trail':
        // The trail's own page is addressed by ARN in a form the console does not document: the Region's trail list.
        return regional(region, 'cloudtrailv2/home', '/trails');
      case 'AWS::Config::ConfigurationRecorder':
      case 'AWS::Config::DeliveryChannel':
        return regional(region, 'config/home', '/dashboard');
      default:
        return undefined;
    }
  })();
  return url ? { label: labelOf(resource.type, id), url } : undefined;
}

const LABELS: Readonly<Record<string, string>> = {
  'AWS::S3::Bucket': 'S3 bucket',
  'AWS::IAM::User': 'IAM user',
  'AWS::IAM::Role': 'IAM role',
  'AWS::IAM::Group': 'IAM group',
  'AWS::IAM::ManagedPolicy': 'IAM policy',
  'AWS::EC2::SecurityGroup': 'security group',
  'AWS::EC2::Instance': 'EC2 instance',
  'AWS::EC2::VPC': 'VPC',
  'AWS::KMS::Key': 'KMS key',
};
/** What the link opens, for a person: the list pages say which resource to pick in them. */
function labelOf(type: string, id: string): string {
  switch (type) {
    case 'AWS::CloudTrail::Trail':
      return `CloudTrail trails (${id} among them)`;
    case 'AWS::Config::ConfigurationRecorder':
    case 'AWS::Config::DeliveryChannel':
      return `AWS Config (${id})`;
    default:
      return `${LABELS[type] ?? type} ${id}`;
  }
}

/** At most this many resource links: a launch of hundreds of instances links the first few, the log has them all. */
const RESOURCE_LINKS_LIMIT = 5;

/** The record's console links: its event first, then its resources (distinct pages only). */
export function consoleLinks(record: Pick<RemediationRecord, 'trigger' | 'eventId' | 'region' | 'resources'>): readonly ConsoleLink[] {
  const event = eventLink(record);
  const resources = record.resources.map((resource) => resourceLink(resource, record.region)).filter((link) => link !== undefined);
  const distinct = [...new Map(resources.map((link) => [link.url, link])).values()].slice(0, RESOURCE_LINKS_LIMIT);
  return [...(event ? [event] : []), ...distinct];
}
