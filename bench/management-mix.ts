// Invocations per 1,000 management events (issue 20): read-only delivery multiplies invocations, so the bench counts
// what every rule's EventBridge rule would receive from a realistic mix of one busy workload account's management
// events, as EventBridge decides it: a read (`readOnly: true`) reaches only a rule in state
// ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, anything else every rule whose pattern matches.
//
// The mix is ours, written down here so that it can be argued with: reads are about four fifths of management
// events (credential exchange, KMS, Describe/List/Get by scanners, agents and Terraform refreshes), writes the rest
// (agent heartbeats, log streams, network interfaces, deployments), a few per cent denied. Weights are per mille;
// each names who makes the call, because some rules decide by principal (a role session of an instance, root).
import type { EventPattern } from '../shared/events/pattern.js';
import { matchesPattern } from '../shared/events/pattern.js';

const ACCOUNT = '111122223333';

type Caller = 'service' | 'lambda' | 'instanceNat' | 'instanceEndpoint' | 'ci' | 'person' | 'webIdentity';

function identity(caller: Caller): { userIdentity: Record<string, unknown>; sourceIPAddress: string; vpcEndpointId?: string } {
  const role = (name: string, session: string, extra: Record<string, unknown> = {}) => ({
    type: 'AssumedRole',
    principalId: `AROAEXAMPLEROLE${name.length}:${session}`,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${name}/${session}`,
    accountId: ACCOUNT,
    sessionContext: {
      sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${ACCOUNT}:role/${name}`, accountId: ACCOUNT, userName: name },
      attributes: { creationDate: '2026-12-01T08:00:00Z', mfaAuthenticated: 'false' },
      ...extra,
    },
  });
  switch (caller) {
    case 'service':
      return { userIdentity: { type: 'AWSService', invokedBy: 'lambda.amazonaws.com' }, sourceIPAddress: 'lambda.amazonaws.com' };
    case 'lambda':
      return { userIdentity: role('orders-api', 'orders-api-handler'), sourceIPAddress: '3.248.1.10' };
    case 'instanceNat':
      return { userIdentity: role('web-node', 'i-0a1b2c3d4e5f60718', { ec2RoleDelivery: '2.0' }), sourceIPAddress: '52.16.20.30' };
    case 'instanceEndpoint':
      return {
        userIdentity: role('web-node', 'i-0a1b2c3d4e5f60718', { ec2RoleDelivery: '2.0' }),
        sourceIPAddress: '10.0.1.20',
        vpcEndpointId: 'vpce-0a1b2c3d4e5f60718',
      };
    case 'ci':
      return { userIdentity: role('ci-deploy', 'github-actions-run-4711'), sourceIPAddress: '20.42.0.7' };
    case 'person':
      return { userIdentity: role('AWSReservedSSO_Admin_0123456789abcdef', 'jane.doe@example.com'), sourceIPAddress: '198.51.100.24' };
    case 'webIdentity':
      return {
        userIdentity: { type: 'WebIdentityUser', principalId: 'oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE:sub', userName: 'system:serviceaccount:app:api' },
        sourceIPAddress: '52.16.20.31',
      };
  }
}

interface Call {
  readonly source: string;
  readonly name: string;
  readonly readOnly: boolean;
  /** Per mille of the mix, by caller. */
  readonly by: Partial<Record<Caller, number>>;
  readonly request?: Record<string, unknown>;
  readonly errorCode?: string;
}

const read = (source: string, name: string, by: Call['by'], request?: Record<string, unknown>): Call => ({
  source,
  name,
  readOnly: true,
  by,
  ...(request ? { request } : {}),
});
const write = (source: string, name: string, by: Call['by'], request?: Record<string, unknown>): Call => ({
  source,
  name,
  readOnly: false,
  by,
  ...(request ? { request } : {}),
});
const denied = (call: Call, errorCode: string): Call => ({ ...call, errorCode });

/** The mix: per mille weights, by service and caller. */
export const MIX: readonly Call[] = [
  // Credentials: the largest share in any account with Lambda, ECS, EKS and CI.
  read('sts', 'AssumeRole', { service: 110, ci: 30, person: 5 }, { roleArn: `arn:aws:iam::${ACCOUNT}:role/orders-api`, roleSessionName: 'orders-api-handler' }),
  read('sts', 'AssumeRoleWithWebIdentity', { webIdentity: 30 }),
  read('sts', 'GetCallerIdentity', { lambda: 8, instanceNat: 8, ci: 4 }),
  // KMS on behalf of S3, Secrets Manager, EBS and the apps themselves.
  read('kms', 'Decrypt', { lambda: 40, instanceNat: 20, instanceEndpoint: 20, service: 10 }),
  read('kms', 'GenerateDataKey', { lambda: 20, instanceNat: 10 }),
  // Describe/List/Get: scanners, Terraform refreshes, the Kubernetes cloud controller, consoles.
  read('ec2', 'DescribeInstances', { instanceNat: 10, ci: 10, person: 8 }),
  read('ec2', 'DescribeSecurityGroups', { ci: 10, person: 4 }),
  read('ec2', 'DescribeVolumes', { instanceNat: 6, ci: 4 }),
  read('ec2', 'DescribeSubnets', { ci: 6, instanceNat: 4 }),
  read('ec2', 'DescribeNetworkInterfaces', { lambda: 8, instanceNat: 6 }),
  read('ec2', 'DescribeTags', { instanceNat: 8 }),
  read('ec2', 'DescribeInstanceAttribute', { ci: 4 }, { instanceId: 'i-0a1b2c3d4e5f60718', attribute: 'disableApiTermination' }),
  read('ec2', 'DescribeInstanceAttribute', { ci: 1 }, { instanceId: 'i-0a1b2c3d4e5f60718', attribute: 'userData' }),
  read('ssm', 'GetParameter', { lambda: 10, instanceNat: 10 }, { name: '/app/feature-flags', withDecryption: false }),
  read('ssm', 'GetParameter', { lambda: 8, instanceNat: 7 }, { name: '/app/db-password', withDecryption: true }),
  read('ssm', 'GetParameters', { lambda: 5 }, { names: ['/app/a', '/app/b'], withDecryption: true }),
  read('ssm', 'GetParametersByPath', { ci: 3 }, { path: '/app/', recursive: false, withDecryption: true }),
  read('ssm', 'DescribeInstanceInformation', { ci: 3 }),
  read('secretsmanager', 'GetSecretValue', { lambda: 12, instanceNat: 8 }, { secretId: 'prod/orders/db' }),
  read('secretsmanager', 'DescribeSecret', { ci: 5 }, { secretId: 'prod/orders/db' }),
  read('s3', 'ListBuckets', { person: 4, instanceNat: 4 }),
  read('s3', 'GetBucketLocation', { ci: 6, instanceNat: 4 }, { bucketName: 'orders-data' }),
  read('s3', 'GetBucketAcl', { ci: 8 }, { bucketName: 'orders-data' }),
  read('s3', 'GetBucketPolicy', { ci: 8 }, { bucketName: 'orders-data' }),
  read('s3', 'GetBucketEncryption', { ci: 6 }, { bucketName: 'orders-data' }),
  read('s3', 'GetBucketVersioning', { ci: 6 }, { bucketName: 'orders-data' }),
  read('iam', 'GetRole', { ci: 10, person: 2 }, { roleName: 'orders-api' }),
  read('iam', 'GetPolicy', { ci: 6 }),
  read('iam', 'GetPolicyVersion', { ci: 6 }),
  read('iam', 'ListAttachedRolePolicies', { ci: 8 }),
  read('iam', 'ListRoles', { ci: 2, person: 1 }),
  read('iam', 'ListUsers', { person: 1 }),
  read('logs', 'DescribeLogGroups', { ci: 6, person: 4 }),
  read('logs', 'DescribeLogStreams', { person: 5 }),
  read('ecr', 'GetAuthorizationToken', { instanceNat: 12, instanceEndpoint: 8 }),
  read('ecr', 'BatchGetImage', { instanceNat: 10, instanceEndpoint: 5 }),
  read('lambda', 'GetFunction20150331v2', { ci: 8 }),
  read('lambda', 'ListFunctions20150331', { ci: 3, person: 2 }),
  read('cloudformation', 'DescribeStacks', { ci: 10, person: 2 }),
  read('cloudformation', 'DescribeStackEvents', { ci: 6 }),
  read('dynamodb', 'DescribeTable', { lambda: 6, ci: 6 }),
  read('monitoring', 'GetMetricData', { person: 6, ci: 6 }),
  read('monitoring', 'DescribeAlarms', { ci: 6 }),
  read('elasticloadbalancing', 'DescribeTargetHealth', { instanceNat: 8, ci: 4 }),
  read('elasticloadbalancing', 'DescribeTargetGroups', { ci: 6 }),
  read('rds', 'DescribeDBInstances', { ci: 6, person: 2 }),
  read('autoscaling', 'DescribeAutoScalingGroups', { instanceNat: 6, ci: 4 }),
  read('route53', 'ListHostedZones', { ci: 5 }),
  read('tagging', 'GetResources', { ci: 5 }),
  read('cloudtrail', 'DescribeTrails', { ci: 3 }),
  read('cloudtrail', 'LookupEvents', { person: 3 }),
  read('ses', 'GetSendQuota', { lambda: 2 }),
  read('ses', 'ListIdentities', { person: 1 }),
  read('bedrock', 'InvokeModel', { lambda: 4 }, { modelId: 'anthropic.claude-3-haiku-20240307-v1:0' }),
  // Denied: a role missing a permission it retries, a person poking around.
  denied(read('ec2', 'DescribeInstances', { instanceNat: 4 }), 'Client.UnauthorizedOperation'),
  denied(read('s3', 'GetBucketPolicy', { ci: 2 }, { bucketName: 'other-team-data' }), 'AccessDenied'),
  denied(read('iam', 'ListRoles', { person: 2 }), 'AccessDenied'),
  // Writes: agents and platforms first, then deployments, then the few changes the remediation rules watch.
  write('ssm', 'UpdateInstanceInformation', { instanceNat: 20, instanceEndpoint: 20 }),
  write('logs', 'CreateLogStream', { service: 10, instanceNat: 5 }),
  write('logs', 'CreateLogGroup', { ci: 2 }),
  write('ec2', 'CreateNetworkInterface', { service: 8 }),
  write('ec2', 'DeleteNetworkInterface', { service: 8 }),
  write('ec2', 'CreateTags', { ci: 4, service: 2 }),
  write('ec2', 'RunInstances', { service: 2, ci: 1 }),
  write('ec2', 'TerminateInstances', { service: 3 }),
  write('ec2', 'AuthorizeSecurityGroupIngress', { ci: 2 }),
  write('ec2', 'ModifyInstanceAttribute', { ci: 1 }, { instanceId: 'i-0a1b2c3d4e5f60718', disableApiTermination: { value: true } }),
  write('ec2', 'CreateSnapshot', { service: 2 }),
  write('ec2', 'DeleteSnapshot', { service: 2 }),
  write('kms', 'CreateGrant', { service: 6 }),
  write('kms', 'RetireGrant', { service: 3 }),
  write('lambda', 'UpdateFunctionCode20150331v2', { ci: 1 }),
  write('lambda', 'UpdateFunctionConfiguration20150331v2', { ci: 1 }),
  write('lambda', 'AddPermission20150331v2', { ci: 1 }),
  write('iam', 'CreateRole', { ci: 1 }),
  write('iam', 'AttachRolePolicy', { ci: 1 }),
  write('iam', 'PutRolePolicy', { ci: 1 }),
  write('s3', 'PutBucketPolicy', { ci: 1 }, { bucketName: 'orders-data' }),
  write('s3', 'PutBucketTagging', { ci: 1 }, { bucketName: 'orders-data' }),
  write('s3', 'CreateBucket', { ci: 1 }, { bucketName: 'orders-data-2' }),
  write('ssm', 'PutParameter', { ci: 2 }, { name: '/app/feature-flags' }),
  write('ssm', 'SendCommand', { ci: 2 }, { instanceIds: ['i-0a1b2c3d4e5f60718'], documentName: 'AWS-RunPatchBaseline' }),
  write('ssm', 'StartSession', { person: 1 }, { target: 'i-0a1b2c3d4e5f60718' }),
  write('ec2-instance-connect', 'SendSSHPublicKey', { person: 1 }, { instanceId: 'i-0a1b2c3d4e5f60718', instanceOSUser: 'ec2-user' }),
  write('cloudformation', 'CreateChangeSet', { ci: 2 }),
  write('cloudformation', 'ExecuteChangeSet', { ci: 2 }),
  write('autoscaling', 'UpdateAutoScalingGroup', { ci: 2 }),
  write('elasticloadbalancing', 'RegisterTargets', { service: 4 }),
  write('elasticloadbalancing', 'DeregisterTargets', { service: 4 }),
  write('ecs', 'UpdateService', { ci: 2 }),
  write('ecs', 'RegisterTaskDefinition', { ci: 1 }),
  write('events', 'PutRule', { ci: 1 }),
  write('sns', 'Subscribe', { ci: 1 }),
  write('dynamodb', 'UpdateTable', { ci: 1 }),
  write('signin', 'ConsoleLogin', { person: 2 }),
  denied(write('iam', 'CreateRole', { ci: 2 }), 'AccessDenied'),
  denied(write('ec2', 'RunInstances', { person: 1 }), 'Client.UnauthorizedOperation'),
];

/** One mix entry as EventBridge delivers it, with its weight and whether it is a read. */
export interface WeightedEvent {
  readonly weight: number;
  readonly readOnly: boolean;
  readonly label: string;
  readonly event: Record<string, unknown>;
}

/** Every (call, caller) pair of the mix as an EventBridge event. */
export function weightedEvents(mix: readonly Call[] = MIX): WeightedEvent[] {
  return mix.flatMap((call) =>
    Object.entries(call.by).map(([caller, weight]) => {
      const who = identity(caller as Caller);
      const signin = call.source === 'signin';
      const detail = {
        eventVersion: '1.10',
        ...who,
        eventTime: '2026-12-08T10:00:00Z',
        eventSource: `${call.source}.amazonaws.com`,
        eventName: call.name,
        awsRegion: 'eu-west-1',
        userAgent: 'aws-sdk-go-v2/1.30.0',
        requestParameters: call.request ?? null,
        responseElements: signin ? { ConsoleLogin: 'Success' } : null,
        ...(call.errorCode ? { errorCode: call.errorCode, errorMessage: 'not authorized' } : {}),
        readOnly: call.readOnly,
        eventType: signin ? 'AwsConsoleSignIn' : 'AwsApiCall',
        managementEvent: true,
        recipientAccountId: ACCOUNT,
      };
      return {
        weight: weight as number,
        readOnly: call.readOnly,
        label: `${call.source}:${call.name}${call.errorCode ? ` (${call.errorCode})` : ''} by ${caller}`,
        event: {
          version: '0',
          id: `mix-${call.source}-${call.name}-${caller}`,
          'detail-type': signin ? 'AWS Console Sign In via CloudTrail' : 'AWS API Call via CloudTrail',
          source: `aws.${call.source === 'monitoring' ? 'cloudwatch' : call.source}`,
          account: ACCOUNT,
          time: '2026-12-08T10:00:00Z',
          region: 'eu-west-1',
          resources: [],
          detail,
        },
      };
    }),
  );
}

/** A rule as EventBridge sees it: its pattern, and whether its rule is in the state that receives read-only calls. */
export interface DeliveredRule {
  readonly id: string;
  readonly pattern: EventPattern;
  readonly receivesReads: boolean;
}

export interface Invocations {
  readonly rule: string;
  readonly receivesReads: boolean;
  /** Invocations per 1,000 management events of the mix. */
  readonly perThousand: number;
  /** Of those, read-only events (zero for a rule in state ENABLED). */
  readonly readsPerThousand: number;
  /** The mix entries it receives, heaviest first. */
  readonly receives: readonly string[];
}

/** What each rule receives from 1,000 management events of the mix, as EventBridge would deliver them. */
export function invocationsPerThousand(rules: readonly DeliveredRule[], events: readonly WeightedEvent[] = weightedEvents()): Invocations[] {
  const total = events.reduce((sum, e) => sum + e.weight, 0);
  const perThousand = (weight: number) => Math.round((weight / total) * 1000 * 10) / 10;
  return rules.map((rule) => {
    const received = events.filter((e) => (!e.readOnly || rule.receivesReads) && matchesPattern(rule.pattern, e.event));
    return {
      rule: rule.id,
      receivesReads: rule.receivesReads,
      perThousand: perThousand(received.reduce((sum, e) => sum + e.weight, 0)),
      readsPerThousand: perThousand(received.filter((e) => e.readOnly).reduce((sum, e) => sum + e.weight, 0)),
      receives: [...received].sort((a, b) => b.weight - a.weight).map((e) => e.label),
    };
  });
}

/** Share of reads in the mix, per mille. */
export function readsPerThousand(events: readonly WeightedEvent[] = weightedEvents()): number {
  const total = events.reduce((sum, e) => sum + e.weight, 0);
  return Math.round((events.filter((e) => e.readOnly).reduce((sum, e) => sum + e.weight, 0) / total) * 1000);
}

/** Every rule of RULES as deployed: its pattern, and its function file's EventBridge state. */
export async function deployedRules(): Promise<DeliveredRule[]> {
  const [{ RULES }, { centralFunctions, forwardingStateOf }] = await Promise.all([import('../functions/rules.js'), import('../scripts/member-stack.js')]);
  const functions = centralFunctions();
  return RULES.map((rule) => ({
    id: rule.id,
    pattern: rule.pattern,
    receivesReads: forwardingStateOf(rule, functions) === 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS',
  }));
}

/** The bench's section: per rule, and in all, against the same rules with no read-only delivery at all. */
export async function measureInvocations() {
  const rules = await deployedRules();
  const rows = invocationsPerThousand(rules).filter((row) => row.perThousand > 0);
  const withoutReads = invocationsPerThousand(rules.map((rule) => ({ ...rule, receivesReads: false })));
  const sum = (list: readonly Invocations[]) => Math.round(list.reduce((total, row) => total + row.perThousand, 0) * 10) / 10;
  return {
    readsPerThousand: readsPerThousand(),
    rulesReceivingReads: rules.filter((rule) => rule.receivesReads).map((rule) => rule.id),
    perThousand: sum(rows),
    perThousandWithoutReads: sum(withoutReads),
    rows: [...rows].sort((a, b) => b.perThousand - a.perThousand),
  };
}

export function invocationsReport(r: Awaited<ReturnType<typeof measureInvocations>>): string {
  const lines = [
    `\n\nInvocations per 1,000 management events (bench/management-mix.ts: a busy workload account, ${r.readsPerThousand} of 1,000 read-only), as EventBridge delivers them: ${r.perThousand} in all; ${r.perThousandWithoutReads} if no rule received read-only calls. Rules receiving reads: ${r.rulesReceivingReads.join(', ')}\n`,
  ];
  for (const row of r.rows)
    lines.push(
      `  ${row.rule}: ${row.perThousand}${row.readsPerThousand > 0 ? ` (${row.readsPerThousand} reads)` : ''}: ${row.receives.slice(0, 4).join('; ')}${row.receives.length > 4 ? '; …' : ''}\n`,
    );
  return lines.join('');
}
