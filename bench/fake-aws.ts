// An in-process fake of the AWS APIs the rules and the runner call: each client class's `send` is replaced
// by a function that answers at once from a small stateful world (a write changes what the next read sees,
// so verification reads see the fix) and logs the call. No middleware, signing or HTTP runs: what is timed
// is the project's own code. (aws-sdk-client-mock would do the same through sinon, at a few µs per call.)
import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { OrganizationsClient } from '@aws-sdk/client-organizations';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SNSClient } from '@aws-sdk/client-sns';
import type { HttpRequest } from '@smithy/core/protocols';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { HttpHandlerOptions } from '@smithy/types';
import { isReadCommand } from '../shared/aws/client-options.js';

/** One logged call: service, operation (command name without `Command`), and the phase the bench was in. */
export interface Call {
  readonly service: string;
  readonly operation: string;
  readonly read: boolean;
  readonly phase: string;
}

/** The bucket the account's trail delivers to: the one s3-bucket-deleted's sample deletes. */
const TRAIL_BUCKET = 'aws-cloudtrail-logs-111122223333-0a1b2c3d';

const ALL_BLOCKED = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };
const awsError = (name: string, message = name) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });

interface SgRule {
  SecurityGroupRuleId: string;
  GroupId: string;
  IsEgress: boolean;
  IpProtocol: string;
  FromPort?: number;
  ToPort?: number;
  CidrIpv4?: string;
  CidrIpv6?: string;
}

/**
 * The state one event sees: a public bucket, an open group, a stopped trail, an untagged instance; the trail
 * delivers to the bucket of s3-bucket-deleted's sample, so that deletion alerts as the CloudTrail bucket.
 */
export class World {
  readonly blocks = new Map<string, typeof ALL_BLOCKED>();
  readonly groupRules = new Map<string, SgRule[]>();
  readonly tags = new Map<string, Record<string, string>>();
  /** The state table's counters (`ADD #total :n`) by item key: the breaker's, the digest's, a rule's windows. */
  readonly counters = new Map<string, number>();
  /** A snapshot's or image's permissions, by id: what the event shared (`userId`s, `group` all), as EC2 would hold them. */
  readonly shares = new Map<string, Record<string, string>[]>();
  /** A Lambda function's policy statements, by function name: the statement the event added (public-lambda-function). */
  readonly functionPolicies = new Map<string, Record<string, unknown>[]>();
  /** A role's trust policy (JSON text), by role name: the one the event gave it (outside-role-trust). */
  readonly trustPolicies = new Map<string, string>();
  /** A bucket's policy (JSON text), by bucket name: the one the event put (outside-bucket-policy). */
  readonly bucketPolicies = new Map<string, string>();
  /** A bucket's lifecycle rules, by bucket name: the ones PutBucketLifecycle put (trail-bucket-lifecycle). */
  readonly lifecycles = new Map<string, unknown[]>();
  /** A user's console password, by user name: the one CreateLoginProfile made, stamped with the event's time (console-access-added). */
  readonly loginProfiles = new Map<string, Date>();
  /** EC2 serial console access in the world's Region: on after EnableSerialConsoleAccess (serial-console-enabled). */
  serialConsole = false;
  /** IAM Roles Anywhere trust anchors (id → enabled): the one CreateTrustAnchor or EnableTrustAnchor named (trust-anchor-created). */
  readonly trustAnchors = new Map<string, boolean>();
  logging = false;
  readonly trail: Record<string, unknown> = { LogFileValidationEnabled: false, IsMultiRegionTrail: false, IncludeGlobalServiceEvents: true };

  constructor(
    readonly account: string,
    readonly region: string,
    event: unknown,
  ) {
    // The security group holds the rules the event created (with their ids), as EC2 would.
    const detail = recordOf(event) as { responseElements?: { securityGroupRuleSet?: { items?: unknown[] } } };
    for (const raw of detail?.responseElements?.securityGroupRuleSet?.items ?? []) {
      const item = raw as Record<string, unknown>;
      const rule: SgRule = {
        SecurityGroupRuleId: String(item.securityGroupRuleId),
        GroupId: String(item.groupId),
        IsEgress: item.isEgress === true,
        IpProtocol: String(item.ipProtocol),
        FromPort: item.fromPort as number,
        ToPort: item.toPort as number,
        ...(item.cidrIpv4 ? { CidrIpv4: String(item.cidrIpv4) } : {}),
        ...(item.cidrIpv6 ? { CidrIpv6: String(item.cidrIpv6) } : {}),
      };
      this.groupRules.set(rule.GroupId, [...(this.groupRules.get(rule.GroupId) ?? []), rule]);
    }
    const request = (detail as { requestParameters?: Record<string, any> }).requestParameters;
    const shared = request?.createVolumePermission?.add?.items ?? request?.launchPermission?.add?.items;
    const id = request?.snapshotId ?? request?.imageId;
    // An RDS snapshot's `restore` values (shared-db-snapshot), by name, as RDS would hold them after the event.
    const dbSnapshot = request?.dBSnapshotIdentifier ?? request?.dBClusterSnapshotIdentifier;
    if (dbSnapshot && Array.isArray(request?.valuesToAdd))
      this.shares.set(
        String(dbSnapshot).split(':').pop() ?? '',
        request.valuesToAdd.map((value: string) => ({ Value: value })),
      );
    // The trust policy CreateRole or UpdateAssumeRolePolicy gave (logged as JSON or URL-encoded JSON), as IAM would hold it.
    const trust = request?.assumeRolePolicyDocument ?? (request?.roleName && request?.policyName === undefined ? request?.policyDocument : undefined);
    if (typeof request?.roleName === 'string' && typeof trust === 'string')
      this.trustPolicies.set(request.roleName, trust.trim().startsWith('{') ? trust : decodeURIComponent(trust));
    // The policy PutBucketPolicy put (logged as an object), as S3 would hold it.
    if (typeof request?.bucketName === 'string' && request?.bucketPolicy && typeof request.bucketPolicy === 'object')
      this.bucketPolicies.set(request.bucketName, JSON.stringify(request.bucketPolicy));
    // The rules PutBucketLifecycle put (`Rule`: one object or a list), as S3 would hold them.
    const lifecycle = request?.LifecycleConfiguration?.Rule;
    if (typeof request?.bucketName === 'string' && lifecycle) this.lifecycles.set(request.bucketName, Array.isArray(lifecycle) ? lifecycle : [lifecycle]);
    // The statement AddPermission added, as its response logged it, in the function's policy as Lambda would hold it.
    const added = (detail as { responseElements?: { statement?: unknown } }).responseElements?.statement;
    if (typeof request?.functionName === 'string' && typeof request?.statementId === 'string' && typeof added === 'string')
      this.functionPolicies.set(String(request.functionName).split(':function:').pop()?.split(':')[0] ?? '', [JSON.parse(added)]);
    const call = detail as { eventName?: string; eventTime?: string; userIdentity?: { userName?: string } };
    if (call.eventName === 'CreateLoginProfile') {
      const user = request?.userName ?? call.userIdentity?.userName;
      if (typeof user === 'string') this.loginProfiles.set(user, new Date(call.eventTime ?? 0));
    }
    if (call.eventName === 'EnableSerialConsoleAccess') this.serialConsole = true;
    const anchor = (detail as { responseElements?: { trustAnchor?: { trustAnchorId?: unknown } } }).responseElements?.trustAnchor?.trustAnchorId;
    if (typeof anchor === 'string') this.trustAnchors.set(anchor, true);
    if (id && shared) {
      const items: Record<string, string>[] = Array.isArray(shared) ? shared : [shared];
      this.shares.set(
        String(id),
        items.map((item): Record<string, string> => (item.group ? { Group: item.group } : { UserId: String(item.userId) })),
      );
    }
  }

  answer(service: string, operation: string, input: Record<string, any>): unknown {
    switch (`${service}.${operation}`) {
      case 'S3.GetPublicAccessBlock': {
        const block = this.blocks.get(input.Bucket);
        if (!block) throw awsError('NoSuchPublicAccessBlockConfiguration');
        return { PublicAccessBlockConfiguration: block };
      }
      case 'S3.GetBucketPolicyStatus':
        return { PolicyStatus: { IsPublic: true } };
      case 'S3.GetBucketAcl':
        return { Grants: [{ Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' }] };
      case 'S3.PutPublicAccessBlock':
        this.blocks.set(input.Bucket, input.PublicAccessBlockConfiguration);
        return {};
      case 'EC2.DescribeSecurityGroups': {
        const id = input.GroupIds?.[0] ?? 'sg-0fa4e5c6d7b8a9012';
        return { SecurityGroups: [{ GroupId: id, GroupName: input.GroupNames?.[0] ?? 'example-web', OwnerId: this.account }] };
      }
      case 'EC2.DescribeSecurityGroupRules': {
        const id = input.Filters?.[0]?.Values?.[0];
        return { SecurityGroupRules: this.groupRules.get(id) ?? [] };
      }
      case 'EC2.RevokeSecurityGroupIngress': {
        const gone = new Set(input.SecurityGroupRuleIds ?? []);
        this.groupRules.set(
          input.GroupId,
          (this.groupRules.get(input.GroupId) ?? []).filter((r) => !gone.has(r.SecurityGroupRuleId)),
        );
        return { Return: true };
      }
      case 'EC2.DescribeInstances': {
        const ids: string[] = input.Filters?.[0]?.Values ?? input.InstanceIds ?? [];
        return {
          Reservations: [
            {
              Instances: ids.map((id, index) => ({
                InstanceId: id,
                State: { Name: 'running' },
                Tags: tagList(this.tags.get(id)),
                BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeId: `vol-0${String(index).padStart(16, '0')}` } }],
              })),
            },
          ],
        };
      }
      case 'EC2.DescribeTags': {
        const ids: string[] = input.Filters?.[0]?.Values ?? [];
        return { Tags: ids.flatMap((id) => tagList(this.tags.get(id)).map((t) => ({ ...t, ResourceId: id }))) };
      }
      case 'EC2.CreateTags': {
        for (const id of input.Resources as string[]) {
          this.tags.set(id, { ...this.tags.get(id), ...Object.fromEntries((input.Tags as { Key: string; Value: string }[]).map((t) => [t.Key, t.Value])) });
        }
        return {};
      }
      // The organisation's accounts (shared-image-snapshot, organisation mode only): the event's own account alone.
      case 'Organizations.ListAccounts':
        return { Accounts: [{ Id: this.account, Status: 'ACTIVE' }] };
      case 'EC2.DescribeSnapshotAttribute':
        return { SnapshotId: input.SnapshotId, CreateVolumePermissions: this.shares.get(input.SnapshotId) ?? [] };
      case 'EC2.DescribeImageAttribute':
        return { ImageId: input.ImageId, LaunchPermissions: this.shares.get(input.ImageId) ?? [] };
      case 'EC2.ModifySnapshotAttribute': {
        const gone = new Set([...(input.UserIds ?? []), ...(input.GroupNames ?? [])]);
        this.shares.set(
          input.SnapshotId,
          (this.shares.get(input.SnapshotId) ?? []).filter((p) => !gone.has(p.UserId ?? p.Group ?? '')),
        );
        return {};
      }
      case 'RDS.DescribeDBSnapshotAttributes':
      case 'RDS.DescribeDBClusterSnapshotAttributes': {
        const values = (this.shares.get(input.DBSnapshotIdentifier ?? input.DBClusterSnapshotIdentifier) ?? []).map((p) => p.Value ?? '');
        const attributes = [{ AttributeName: 'restore', AttributeValues: values }];
        return operation === 'DescribeDBSnapshotAttributes'
          ? { DBSnapshotAttributesResult: { DBSnapshotAttributes: attributes } }
          : { DBClusterSnapshotAttributesResult: { DBClusterSnapshotAttributes: attributes } };
      }
      case 'RDS.ModifyDBSnapshotAttribute':
      case 'RDS.ModifyDBClusterSnapshotAttribute': {
        const id = input.DBSnapshotIdentifier ?? input.DBClusterSnapshotIdentifier;
        const gone = new Set(input.ValuesToRemove ?? []);
        this.shares.set(
          id,
          (this.shares.get(id) ?? []).filter((p) => !gone.has(p.Value ?? '')),
        );
        return {};
      }
      case 'Lambda.GetPolicy': {
        const statements = this.functionPolicies.get(input.FunctionName) ?? [];
        if (statements.length === 0) throw awsError('ResourceNotFoundException');
        return { Policy: JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: statements }), RevisionId: 'bench' };
      }
      case 'Lambda.RemovePermission': {
        const statements = this.functionPolicies.get(input.FunctionName) ?? [];
        this.functionPolicies.set(
          input.FunctionName,
          statements.filter((s) => s.Sid !== input.StatementId),
        );
        return {};
      }
      case 'IAM.GetRole': {
        const policy = this.trustPolicies.get(input.RoleName);
        if (policy === undefined) throw awsError('NoSuchEntity');
        return { Role: { RoleName: input.RoleName, AssumeRolePolicyDocument: encodeURIComponent(policy) } };
      }
      case 'IAM.ListAttachedRolePolicies':
        return { AttachedPolicies: [] };
      case 'IAM.UpdateAssumeRolePolicy':
        this.trustPolicies.set(input.RoleName, input.PolicyDocument);
        return {};
      case 'IAM.GetLoginProfile': {
        const created = this.loginProfiles.get(input.UserName);
        if (!created) throw Object.assign(awsError('NoSuchEntityException'), { Code: 'NoSuchEntity' });
        return { LoginProfile: { UserName: input.UserName, CreateDate: created, PasswordResetRequired: false } };
      }
      case 'IAM.DeleteLoginProfile':
        this.loginProfiles.delete(input.UserName);
        return {};
      case 'EC2.GetSerialConsoleAccessStatus':
        return { SerialConsoleAccessEnabled: this.serialConsole, ManagedBy: 'account' };
      case 'EC2.DisableSerialConsoleAccess':
        this.serialConsole = false;
        return { SerialConsoleAccessEnabled: false };
      case 'RolesAnywhere.GetTrustAnchor':
      case 'RolesAnywhere.DisableTrustAnchor': {
        if (!this.trustAnchors.has(input.trustAnchorId)) throw Object.assign(awsError('ResourceNotFoundException'), { $metadata: { httpStatusCode: 404 } });
        if (operation === 'DisableTrustAnchor') this.trustAnchors.set(input.trustAnchorId, false);
        return { trustAnchor: { trustAnchorId: input.trustAnchorId, enabled: this.trustAnchors.get(input.trustAnchorId) } };
      }
      case 'S3.GetBucketPolicy': {
        const policy = this.bucketPolicies.get(input.Bucket);
        if (policy === undefined) throw awsError('NoSuchBucketPolicy');
        return { Policy: policy };
      }
      case 'S3.PutBucketPolicy':
        this.bucketPolicies.set(input.Bucket, input.Policy);
        return {};
      case 'S3.GetBucketLifecycleConfiguration': {
        const rules = this.lifecycles.get(input.Bucket);
        if (rules === undefined) throw awsError('NoSuchLifecycleConfiguration');
        return { Rules: rules };
      }
      case 'S3.PutBucketLifecycleConfiguration':
        this.lifecycles.set(input.Bucket, input.LifecycleConfiguration.Rules);
        return {};
      case 'S3.DeleteBucketLifecycle':
        this.lifecycles.delete(input.Bucket);
        return {};
      case 'S3.DeleteBucketPolicy':
        this.bucketPolicies.delete(input.Bucket);
        return {};
      case 'EC2.ModifyImageAttribute': {
        const gone = new Set((input.LaunchPermission?.Remove ?? []).map((p: Record<string, string>) => Object.values(p)[0]));
        this.shares.set(
          input.ImageId,
          (this.shares.get(input.ImageId) ?? []).filter((p) => !gone.has(Object.values(p)[0])),
        );
        return {};
      }
      case 'CloudTrail.GetTrail': {
        const name = String(input.Name);
        const arn = name.startsWith('arn:') ? name : `arn:aws:cloudtrail:${this.region}:${this.account}:trail/${name}`;
        const home = arn.split(':')[3];
        return { Trail: { Name: arn.split('/').pop(), TrailARN: arn, HomeRegion: home, IsOrganizationTrail: false, ...this.trail } };
      }
      case 'CloudTrail.DescribeTrails': {
        const arn = `arn:aws:cloudtrail:${this.region}:${this.account}:trail/example-management-events`;
        return {
          trailList: [
            {
              Name: 'example-management-events',
              TrailARN: arn,
              HomeRegion: this.region,
              IsOrganizationTrail: false,
              S3BucketName: TRAIL_BUCKET,
              ...this.trail,
            },
          ],
        };
      }
      case 'CloudTrail.GetTrailStatus':
        return { IsLogging: this.logging };
      case 'CloudTrail.StartLogging':
        this.logging = true;
        return {};
      case 'CloudTrail.UpdateTrail': {
        if (input.EnableLogFileValidation) this.trail.LogFileValidationEnabled = true;
        if (input.IsMultiRegionTrail) this.trail.IsMultiRegionTrail = true;
        if (input.IncludeGlobalServiceEvents) this.trail.IncludeGlobalServiceEvents = true;
        return {};
      }
      case 'SNS.Publish':
        return { MessageId: '00000000-0000-4000-8000-000000000000' };
      // The state store: every claim is fresh, no breaker open (10,000 repeats of one event), and the counters
      // count, from 0 in each world: so the runner's stand at 1, and a rule's window counter at the number of
      // events handled in this world (console-signin-failures: bench/minimums.ts PRIOR_EVENTS).
      case 'DynamoDB.PutItem':
        return {};
      case 'DynamoDB.GetItem':
        return {};
      case 'DynamoDB.DeleteItem':
        return {};
      case 'DynamoDB.UpdateItem': {
        const key = String(input.Key?.pk?.S);
        const total = (this.counters.get(key) ?? 0) + Number(input.ExpressionAttributeValues?.[':n']?.N ?? 0);
        this.counters.set(key, total);
        return { Attributes: { total: { N: String(total) } } };
      }
      // config-store-change's read of the exemption its sample writes (in `all`: HIGH whatever the value).
      case 'SSM.GetParameter':
        return { Parameter: { Name: input.Name, Value: JSON.stringify({ resource: 'build-host-01', reason: 'bench' }), Version: 1, Type: 'String' } };
      default:
        throw awsError('BenchUnmockedCall', `the bench has no answer for ${service}.${operation}`);
    }
  }
}

interface Envelope {
  readonly account?: string;
  readonly region?: string;
  readonly detail?: unknown;
}
interface BareRecord {
  readonly recipientAccountId?: string;
  readonly awsRegion?: string;
  readonly userIdentity?: { readonly accountId?: string };
}

/** The CloudTrail record of a sample: an envelope's `detail`, or the sample itself when it is a bare record. */
const recordOf = (event: unknown): BareRecord => ((event as Envelope).detail ?? event) as BareRecord;

/** The world of one event, in its account and Region, whether the sample is an envelope or a bare record. */
export function worldFor(event: unknown): World {
  const envelope = event as Envelope;
  const record = recordOf(event);
  const account = envelope.account ?? record.recipientAccountId ?? record.userIdentity?.accountId;
  const region = envelope.region ?? record.awsRegion;
  if (!account || !region) throw new Error('the bench sample names no account or Region');
  return new World(account, region, event);
}

function tagList(tags: Record<string, string> | undefined) {
  return Object.entries(tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
}

const CLIENTS = [
  ['S3', S3Client],
  ['EC2', EC2Client],
  ['CloudTrail', CloudTrailClient],
  ['SNS', SNSClient],
  ['DynamoDB', DynamoDBClient],
  ['Scheduler', SchedulerClient],
  ['Organizations', OrganizationsClient],
  ['RDS', RDSClient],
  ['Lambda', LambdaClient],
  ['IAM', IAMClient],
] as const;

/** Installs the fake on every client class; `world()` gives the state of the event being handled. */
export function installFakeAws(world: () => World) {
  const calls: Call[] = [];
  const fake = { calls, phase: 'run', counting: true };
  for (const [service, Client] of CLIENTS) {
    (Client.prototype as unknown as { send: unknown }).send = async function send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
      const name = command.constructor.name;
      const operation = name.replace(/Command$/, '');
      if (fake.counting) calls.push({ service, operation, read: isReadCommand(name), phase: fake.phase });
      return world().answer(service, operation, command.input);
    };
  }
  // Parameter Store is read over HTTP by shared/live-config/ssm-reader.ts (no SDK client): answered at its handler,
  // after signing (the bench's credentials are fake), so no request leaves the process.
  // A local endpoint (the exemption bench's fake Parameter Store server) is passed through.
  const passThrough = NodeHttpHandler.prototype.handle;
  NodeHttpHandler.prototype.handle = async function handle(this: NodeHttpHandler, request: HttpRequest, options?: HttpHandlerOptions) {
    if (!request.hostname.endsWith('.amazonaws.com') && !request.hostname.endsWith('.amazonaws.com.cn')) return passThrough.call(this, request, options);
    // IAM Roles Anywhere is also hand-signed (shared/aws/rolesanywhere.ts): REST JSON, the operation in method and path.
    if (request.hostname.startsWith('rolesanywhere.')) {
      const [, trustAnchorId = '', verb] = /\/trustanchor\/([^/]+)(?:\/(disable|enable))?$/.exec(request.path) ?? [];
      const operation = verb === 'disable' ? 'DisableTrustAnchor' : verb === 'enable' ? 'EnableTrustAnchor' : 'GetTrustAnchor';
      if (fake.counting) calls.push({ service: 'RolesAnywhere', operation, read: verb === undefined, phase: fake.phase });
      try {
        return { response: { statusCode: 200, headers: {}, body: JSON.stringify(world().answer('RolesAnywhere', operation, { trustAnchorId })) } as never };
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 400;
        return { response: { statusCode: status, headers: { 'x-amzn-errortype': (error as Error).name }, body: '{}' } as never };
      }
    }
    const target = String(request.headers['x-amz-target'] ?? '');
    if (!target.startsWith('AmazonSSM.')) throw awsError('BenchUnmockedCall', `the bench has no answer for HTTP ${target || request.hostname}`);
    const operation = target.slice('AmazonSSM.'.length);
    if (fake.counting) calls.push({ service: 'SSM', operation, read: /^(Get|Describe|List)/.test(operation), phase: fake.phase });
    let answer: { statusCode: number; body: string };
    try {
      answer = { statusCode: 200, body: JSON.stringify(world().answer('SSM', operation, JSON.parse(String(request.body)))) };
    } catch (error) {
      answer = { statusCode: 400, body: JSON.stringify({ __type: (error as Error).name, message: (error as Error).message }) };
    }
    return { response: { ...answer, headers: {} } as never };
  };
  return fake;
}
