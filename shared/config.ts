import * as v from 'valibot';
import { ConfigError } from './errors.js';
import { parseCidr } from './net/cidr.js';

/**
 * The live configuration's parameter prefix (`/trailguard/<stage>`). Here, not in shared/live-config/layout.ts
 * (which re-exports it): layout imports this module, and the schema below needs it at load time.
 */
export const PARAMETER_PREFIX = /^\/[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

/** How the runner treats a violation: decide only, read but never write, or act and verify. */
export const MODES = ['offline', 'dry-run', 'live'] as const;
export type Mode = (typeof MODES)[number];

const Port = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535));
const AllowedWorldPort = v.strictObject({ protocol: v.picklist(['tcp', 'udp']), port: Port });
/** The default of open-security-group's `worldOpenPrefix`: /0-/7 is the world for IPv4, /0-/15 for IPv6. */
export const DEFAULT_WORLD_OPEN_PREFIX = { ipv4: 8, ipv6: 16 } as const;
// 1 keeps only /0 as the world; past /16 (IPv4) or /48 (IPv6) a range is one organisation's network, not the world.
const WorldOpenPrefixLength = (max: number) => v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(max));

/** Tag keys: 1–128 characters, not the reserved `aws:` prefix. */
const TagKey = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(128),
  v.check((k) => !k.toLowerCase().startsWith('aws:'), 'aws: is reserved'),
);

/** An audit alert's on/off switch. @default true */
const enabled = v.optional(v.boolean(), true);
/** Leave out routine calls by AWS service-linked roles (`role/aws-service-role/…`) and AWS services. @default true */
const ignoreServiceLinkedRoles = v.optional(v.boolean(), true);
/** A notify-only rule with only the two common settings. */
const plainAlert = () => v.optional(v.strictObject({ enabled, ignoreServiceLinkedRoles }), {});
/** A counting rule (shared/alerts/counting.ts): distinct items per principal within a sliding window raise one alert. */
const countingAlert = (threshold: number, windowMinutes: number) =>
  v.optional(
    v.strictObject({
      enabled,
      ignoreServiceLinkedRoles,
      /** Distinct items one principal reads within the window that raise the alert (once per window). */
      threshold: v.optional(v.pipe(v.number(), v.integer(), v.minValue(2), v.maxValue(10_000)), threshold),
      /** The window the items are counted in, in minutes. */
      windowMinutes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1440)), windowMinutes),
      /**
       * Calls of the rule's pattern left uncounted (CloudTrail `eventName`s, such as `StartSession`): the pattern says
       * what may be counted, this what is not. @default []
       */
      notCounted: v.optional(
        v.pipe(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9]{0,127}$/, 'expected a CloudTrail eventName'))), v.maxLength(50)),
        [],
      ),
    }),
    {},
  );

// The per-rule settings, the one settings registry (docs/rules.md, "Adding a rule"): every Lambda parses the whole of
// TRAILGUARD_RULES, so every bundle holds every rule's schema (a typo in any rule's settings fails at load, in
// every function). The rule ids are these schemas' keys: a rule's id is its folder name, the log's `rule` field
// and the SNS `rule` attribute.

/** The remediation rules' settings. */
const RemediationSettings = v.strictObject({
  'public-bucket': v.optional(
    v.strictObject({
      /** @default true */
      enabled: v.optional(v.boolean(), true),
    }),
    {},
  ),
  'open-security-group': v.optional(
    v.strictObject({
      /** @default true */
      enabled: v.optional(v.boolean(), true),
      /** Ports that may stay open to 0.0.0.0/0 and ::/0. @default tcp/80 and tcp/443 */
      allowedWorldPorts: v.optional(v.array(AllowedWorldPort), [
        { protocol: 'tcp', port: 80 },
        { protocol: 'tcp', port: 443 },
      ]),
      /**
       * A source range wider than this prefix (a shorter one) is world-open, and so is a set of ranges for the
       * same traffic, in one call or one group, whose union holds such a range; wholly private ranges never are.
       * "Wider than /8" means /0-/7: a /8 itself is not. IPv4 1-16, IPv6 1-48.
       * @default { ipv4: 8, ipv6: 16 }
       */
      worldOpenPrefix: v.optional(
        v.strictObject({
          /** @default 8 */
          ipv4: v.optional(WorldOpenPrefixLength(16), DEFAULT_WORLD_OPEN_PREFIX.ipv4),
          /** @default 16 */
          ipv6: v.optional(WorldOpenPrefixLength(48), DEFAULT_WORLD_OPEN_PREFIX.ipv6),
        }),
        {},
      ),
    }),
    {},
  ),
  'trail-logging': v.optional(
    v.strictObject({
      /** @default true */
      enabled: v.optional(v.boolean(), true),
      /** Restore these settings when an UpdateTrail turns them off; the others only alert. */
      restore: v.optional(
        v.strictObject({
          /** @default true */
          logFileValidation: v.optional(v.boolean(), true),
          /** @default true */
          multiRegion: v.optional(v.boolean(), true),
          /** @default false */
          globalServiceEvents: v.optional(v.boolean(), false),
          /**
           * Record every management event again when PutEventSelectors narrows them (a selector of all management
           * events is added; the trail's own selectors are kept). Off by default: some teams narrow on purpose. @default false
           */
          managementEvents: v.optional(v.boolean(), false),
          // No kmsKey: the previous key id is neither in the event nor readable afterwards, so an explicit
          // empty key alerts (LOW) and is never restored; a setting that could never take effect is not offered.
        }),
        {},
      ),
      /** Alert on tamper attempts that failed (AccessDenied and the like). @default true */
      alertOnFailedAttempts: v.optional(v.boolean(), true),
    }),
    {},
  ),
  'shared-image-snapshot': v.optional(
    v.strictObject({
      /** @default true */
      enabled: v.optional(v.boolean(), true),
    }),
    {},
  ),
  'shared-db-snapshot': v.optional(
    v.strictObject({
      /** @default true */
      enabled: v.optional(v.boolean(), true),
    }),
    {},
  ),
  'public-lambda-function': v.optional(
    v.strictObject({
      /** @default true */
      enabled: v.optional(v.boolean(), true),
    }),
    {},
  ),
  'outside-role-trust': v.optional(
    v.strictObject({
      /** @default true */
      enabled: v.optional(v.boolean(), true),
      /** Drop the statements admitting outside accounts from the trust policy; off, the rule alerts with the command. @default false */
      remediate: v.optional(v.boolean(), false),
    }),
    {},
  ),
  'outside-bucket-policy': v.optional(
    v.strictObject({
      /** @default true */
      enabled: v.optional(v.boolean(), true),
      /** Drop the statements granting outside accounts from the bucket policy; off, the rule alerts with the command. @default false */
      remediate: v.optional(v.boolean(), false),
    }),
    {},
  ),
  'trail-bucket-lifecycle': v.optional(
    v.strictObject({
      /** @default true */
      enabled: v.optional(v.boolean(), true),
      /** Drop the lifecycle rules expiring a trail's logs too soon; off, the rule alerts with the command. @default false */
      remediate: v.optional(v.boolean(), false),
      /** A rule expiring a trail's objects (or noncurrent versions) sooner than this many days is short. PCI DSS keeps audit logs a year. @default 365 */
      retentionDays: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3650)), 365),
      /**
       * Buckets known to hold trail logs that DescribeTrails in the event's Region may not show (a log-archive bucket a
       * trail of another Region or account writes to): judged as trail buckets, offline too, whatever the rule's prefix. @default []
       */
      trailBuckets: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/, 'expected an S3 bucket name'))), []),
    }),
    {},
  ),
  'console-access-added': v.optional(
    v.strictObject({
      /** @default true */
      enabled: v.optional(v.boolean(), true),
      /** Delete a console password just given to a user; off, the rule alerts with the command. @default false */
      remediate: v.optional(v.boolean(), false),
      /**
       * Roles (by ARN, the session issuer's) that give users console passwords on purpose (an onboarding pipeline):
       * their calls are compliant. A role name alone is never trusted: anyone may name a role alike. @default []
       */
      trustedRoleArns: v.optional(
        v.array(v.pipe(v.string(), v.regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/, 'expected an IAM role ARN'))),
        [],
      ),
    }),
    {},
  ),
  'serial-console-enabled': v.optional(
    v.strictObject({
      /** @default true */
      enabled: v.optional(v.boolean(), true),
      /** Disable EC2 serial console access again in the account and Region; off, the rule alerts with the command. @default false */
      remediate: v.optional(v.boolean(), false),
    }),
    {},
  ),
  'trust-anchor-created': v.optional(
    v.strictObject({
      /** @default true */
      enabled: v.optional(v.boolean(), true),
      /** Disable an IAM Roles Anywhere trust anchor created, re-enabled or given a new CA; off, the rule alerts with the command. @default false */
      remediate: v.optional(v.boolean(), false),
    }),
    {},
  ),
  'untagged-instance': v.optional(
    v.strictObject({
      /** @default true */
      enabled: v.optional(v.boolean(), true),
      /** Tag keys every instance must carry (case-sensitive, as EC2 compares them). @default ['Owner'] */
      requiredTags: v.optional(v.pipe(v.array(TagKey), v.minLength(1)), ['Owner']),
      /** Values for missing required keys other than `Owner` (which is always the creator). @default {} */
      defaultTagValues: v.optional(v.record(TagKey, v.pipe(v.string(), v.maxLength(256))), {}),
      /** Also tag the instances' attached EBS volumes. @default false */
      tagVolumes: v.optional(v.boolean(), false),
      /** Stop (never terminate) instances still untagged after a grace period. @default off */
      enforcement: v.optional(
        v.strictObject({
          /** @default false */
          enabled: v.optional(v.boolean(), false),
          /** @default 60 */
          graceMinutes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(5), v.maxValue(10080)), 60),
        }),
        {},
      ),
    }),
    {},
  ),
});

/** The audit alerts' settings (issue 10): notify-only rules, they never write to the account. */
const AlertSettings = v.strictObject({
  'root-activity': v.optional(v.strictObject({ enabled }), {}),
  'console-signin-without-mfa': v.optional(v.strictObject({ enabled }), {}),
  'console-signin-failures': v.optional(
    v.strictObject({
      enabled,
      /** Failed sign-ins per user, or per source IP, within one window that raise the alert (once per window). @default 5 */
      threshold: v.optional(v.pipe(v.number(), v.integer(), v.minValue(2), v.maxValue(1000)), 5),
      /** The fixed window failures are counted in. @default 15 */
      windowMinutes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1440)), 15),
    }),
    {},
  ),
  'iam-policy-change': v.optional(
    v.strictObject({
      enabled,
      ignoreServiceLinkedRoles,
      /** Managed policies that grant administrator rights when attached. @default AdministratorAccess and IAMFullAccess */
      adminPolicyArns: v.optional(
        v.array(v.pipe(v.string(), v.regex(/^arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/[\w+=,.@/-]+$/, 'expected an IAM policy ARN'))),
        ['arn:aws:iam::aws:policy/AdministratorAccess', 'arn:aws:iam::aws:policy/IAMFullAccess'],
      ),
    }),
    {},
  ),
  'kms-key-deletion': plainAlert(),
  'config-recorder-stopped': plainAlert(),
  'network-change': plainAlert(),
  's3-bucket-deleted': plainAlert(),
  'config-store-change': plainAlert(),
  'network-logs-deleted': plainAlert(),
  'organization-left': plainAlert(),
  'instance-user-data-changed': plainAlert(),
  'image-deregistered': plainAlert(),
  'federation-token-issued': plainAlert(),
  /** Distinct secrets read by one principal (GetSecretValue). @default threshold 15, windowMinutes 10 */
  'secrets-bulk-read': countingAlert(15, 10),
  /** Distinct SSM parameters decrypted by one principal (withDecryption). @default threshold 20, windowMinutes 10 */
  'parameters-bulk-decrypt': countingAlert(20, 10),
  'iam-enumerated-by-instance': plainAlert(),
  /** Distinct API calls (service and action) denied to one principal. @default threshold 10, windowMinutes 10 */
  'denied-calls-burst': countingAlert(10, 10),
  /** Distinct instances whose user data one principal read (DescribeInstanceAttribute userData). @default threshold 5, windowMinutes 15 */
  'instance-user-data-read': countingAlert(5, 15),
  /** Distinct instances one principal ran commands on or opened sessions to (SSM, EC2 Instance Connect). @default threshold 10, windowMinutes 30 */
  'remote-session-spread': countingAlert(10, 30),
  'lambda-backdoor': v.optional(
    v.strictObject({
      enabled,
      ignoreServiceLinkedRoles,
      /** Accounts whose Lambda layers are not alerted (AWS's and vendors' layer accounts, a shared-layers account). @default [] */
      trustedLayerAccounts: v.optional(v.array(v.pipe(v.string(), v.regex(/^\d{12}$/, 'expected a 12-digit account id'))), []),
      /**
       * The IAM role or user ARNs (`*` matches any run of characters) that deploy function code: CI roles. Empty, every
       * code update alerts LOW; set, an update by anyone else alerts MEDIUM. @default []
       */
      deployers: v.optional(
        v.array(v.pipe(v.string(), v.regex(/^arn:[a-z*-]+:(iam|sts)::(\d{12}|\*):[\w+=,.@/*-]+$/, 'expected an IAM role or user ARN (may hold *)'))),
        [],
      ),
    }),
    {},
  ),
  'notebook-lifecycle-attached': plainAlert(),
  'model-access-enabled': plainAlert(),
  'instance-credentials-outside': v.optional(
    v.strictObject({
      enabled,
      ignoreServiceLinkedRoles,
      /**
       * Where instances' calls leave for AWS besides their own addresses and their VPC's NAT gateways (CIDRs, IPv4 or
       * IPv6): a central egress VPC's NAT or firewall addresses, a corporate proxy. A call from inside one is compliant. @default []
       */
      trustedEgressCidrs: v.optional(
        v.array(
          v.pipe(
            v.string(),
            v.check((text) => parseCidr(text) !== undefined, 'expected a CIDR block such as 198.51.100.0/24'),
          ),
        ),
        [],
      ),
    }),
    {},
  ),
  /** Distinct SES identity/quota reads (a call, or a call and an identity) by one principal. @default threshold 4, windowMinutes 30 */
  'ses-enumeration': countingAlert(4, 30),
  'bedrock-first-use': v.optional(
    v.strictObject({
      enabled,
      ignoreServiceLinkedRoles,
      /** How long a principal's Bedrock use is remembered: a use older than this (at most twice this) is forgotten. @default 90 */
      rememberDays: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(365)), 90),
    }),
    {},
  ),
});

/** Every rule's settings: the `rules` key of the config, and the value of the `<prefix>/rules` parameter (shared/live-config). */
export const RuleSettings = v.strictObject({ ...RemediationSettings.entries, ...AlertSettings.entries });
export type RuleSettingsConfig = v.InferOutput<typeof RuleSettings>;
export type RuleId = keyof typeof RuleSettings.entries;
export type AlertRuleId = keyof typeof AlertSettings.entries;
/** Every rule id: the remediation rules, then the audit alerts. */
export const RULE_IDS = Object.keys(RuleSettings.entries) as readonly RuleId[];
/** The audit alerts' ids: notify-only rules. */
export const ALERT_RULE_IDS = Object.keys(AlertSettings.entries) as readonly AlertRuleId[];

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** Whether a `YYYY-MM-DD` names a real calendar day: `2026-02-30` and `2026-13-01` do not (compared as strings, they would). */
export function isCalendarDay(text: string): boolean {
  const [, y, m, d] = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text) ?? [];
  if (!y || !m || !d) return false;
  const date = new Date(0);
  date.setUTCFullYear(Number(y), Number(m) - 1, Number(d)); // setUTCFullYear, unlike Date.UTC, keeps years 0-99 as given
  return date.toISOString().slice(0, 10) === text;
}

/** An expiry day: `YYYY-MM-DD`, a real calendar day (config `exemptions[].expires` and a stored exemption's). */
export const ExpiryDay = v.pipe(v.string(), v.regex(ISO_DATE, 'expected YYYY-MM-DD'), v.check(isCalendarDay, 'expected a real calendar day YYYY-MM-DD'));

const Exemption = v.strictObject({
  /** Which rule the exemption applies to; `*` for all. @default '*' */
  rule: v.optional(v.picklist([...RULE_IDS, '*']), '*'),
  /** A resource id or name, `*` and `?` globs allowed (bucket name, sg-… id or group name, trail name, i-… id). */
  resource: v.pipe(v.string(), v.minLength(1)),
  /** Why it is exempt: logged with every decision it causes. */
  reason: v.pipe(v.string(), v.minLength(1)),
  /** Last day (UTC, inclusive) the exemption holds; absent means no expiry. */
  expires: v.optional(ExpiryDay),
});
export type Exemption = v.InferOutput<typeof Exemption>;

/** Organisation-wide mode: events from member accounts arrive on the central bus and are acted on through a member role. */
const Organization = v.strictObject({
  /** The AWS Organization (`o-…`) whose accounts are watched: the bus and the role trust accept only its principals. */
  organizationId: v.pipe(v.string(), v.regex(/^o-[a-z0-9]{10,32}$/, 'expected an organization id such as o-a1b2c3d4e5')),
  /** The role the member stack creates in every member account, assumed to act there. @default 'trailguard-remediation' */
  memberRoleName: v.optional(v.pipe(v.string(), v.regex(/^[\w+=,.@-]{1,64}$/, 'expected an IAM role name')), 'trailguard-remediation'),
  /** The account trailguard runs in: its own events are acted on with the functions' own roles, no AssumeRole. */
  centralAccountId: v.pipe(v.string(), v.regex(/^\d{12}$/, 'expected a 12-digit account id')),
  /** Sent as ExternalId with every AssumeRole, when the member roles require one. @default none */
  externalId: v.optional(v.pipe(v.string(), v.regex(/^[\w+=,.@:/-]{2,1224}$/, 'expected 2-1224 characters of [A-Za-z0-9+=,.@:/_-]'))),
});
export type OrganizationConfig = v.InferOutput<typeof Organization>;

const ConfigSchema = v.strictObject({
  /** @default 'live' in Lambda (the deployed default); `replay` defaults to 'offline'. */
  mode: v.optional(v.picklist(MODES), 'live'),
  /**
   * The reconciliation sweeps' mode, when it should differ from `mode`: a first live sweep remediates every
   * legacy finding at once, so operators may keep sweeps report-only (`dry-run`) while events act. @default mode
   */
  sweepMode: v.optional(v.picklist(MODES)),
  /** SNS topic for notifications; absent means notifications are skipped (and the record says so). */
  topicArn: v.optional(v.pipe(v.string(), v.regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$/, 'expected an SNS topic ARN'))),
  /**
   * IAM role names (globs) whose calls are the remediator's own: their events are ignored, so a fix never
   * triggers another. @default [] (serverless.yml sets the stack's role-name prefix)
   */
  selfRoles: v.optional(v.array(v.pipe(v.string(), v.minLength(1))), []),
  /** Resources the rules must not touch, each with a reason and an optional expiry. @default [] */
  exemptions: v.optional(v.array(Exemption), []),
  /** Per-rule settings. */
  rules: v.optional(RuleSettings, {}),
  /** An AWS-compatible endpoint (AWS_ENDPOINT_URL); S3 then uses path-style addressing. */
  endpoint: v.optional(v.pipe(v.string(), v.url('expected a URL such as http://127.0.0.1:5000'))),
  /**
   * Where the live configuration lives in SSM Parameter Store (shared/live-config/layout.ts), `/trailguard/<stage>`
   * in the stack; absent means none: env only (replay, tests).
   */
  parameterPrefix: v.optional(v.pipe(v.string(), v.regex(PARAMETER_PREFIX, 'expected a parameter path such as /trailguard/dev'), v.maxLength(900))),
  /** How long a container reuses the live configuration it read, in seconds (0: read on every invocation). @default 60 */
  configMaxAgeSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(3600)), 60),
  /**
   * Findings in AWS Security Hub (docs/security-hub.md): the stack's exporter imports the logged records; the CLI's
   * `undo --apply` imports its `reverted` record itself, as it is never logged to CloudWatch Logs. @default false
   */
  securityHub: v.optional(v.boolean(), false),
  /** @default 'INFO' */
  logLevel: v.optional(v.picklist(['DEBUG', 'INFO', 'WARN', 'ERROR']), 'INFO'),
  /** The region the functions (and the state table) run in: AWS_REGION in Lambda. */
  region: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9-]+$/, 'expected a region such as eu-west-1'))),
  /** The untagged-instance enforcement Lambda, the target of its one-time schedules; absent means none can be scheduled. */
  enforceFunctionArn: v.optional(
    v.pipe(v.string(), v.regex(/^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}$/, 'expected a Lambda function ARN')),
  ),
  /** The role EventBridge Scheduler assumes to invoke that Lambda (passed with each schedule). */
  schedulerRoleArn: v.optional(v.pipe(v.string(), v.regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, 'expected an IAM role ARN'))),
  /** Organisation-wide mode (docs/organization.md). @default absent: single-account mode */
  organization: v.optional(Organization),
  /**
   * Accounts outside this one (and the organisation) that resources may be shared with: vendors, partners
   * (shared/outside.ts). 12-digit ids. @default []
   */
  trustedAccounts: v.optional(v.array(v.pipe(v.string(), v.regex(/^\d{12}$/, 'expected a 12-digit account id'))), []),
  /** DynamoDB table for idempotency, the circuit breaker and digests; absent (replay) means none of them. */
  stateTable: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{3,255}$/, 'expected a DynamoDB table name'))),
  /** Duplicates, runaway remediation and bursts. */
  reliability: v.optional(
    v.strictObject({
      /** How long an event id is remembered (EventBridge retries for up to 24 h). @default 48 */
      idempotencyHours: v.optional(v.pipe(v.number(), v.minValue(1), v.maxValue(720)), 48),
      /** More writes than this per rule within the window open the breaker: the rule then only reports. */
      breaker: v.optional(
        v.strictObject({
          /** @default 50 */
          maxWrites: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 50),
          /** @default 10 */
          windowMinutes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1440)), 10),
        }),
        {},
      ),
      /** More notifications than this per rule within the window become one burst notice; the rest stay in the log. */
      digest: v.optional(
        v.strictObject({
          /** @default 20 */
          maxPerWindow: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 20),
          /** @default 5 */
          windowMinutes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1440)), 5),
        }),
        {},
      ),
    }),
    {},
  ),
});

/** The whole configuration, parsed once. */
export type Config = v.InferOutput<typeof ConfigSchema>;

/** Parses a configuration object (from env or `--config FILE`); unknown keys are errors. */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const result = v.safeParse(ConfigSchema, raw);
  if (result.success) return result.output;
  const issue = result.issues[0];
  const path = issue ? v.getDotPath(issue) : null;
  const problem = issue?.message ?? 'invalid';
  throw new ConfigError(path ? `${source}.${path}` : source, problem);
}

/** The environment variables read, and the config key each becomes. */
export const ENV_VARS = {
  TRAILGUARD_MODE: 'mode',
  TRAILGUARD_SWEEP_MODE: 'sweepMode',
  TRAILGUARD_TOPIC_ARN: 'topicArn',
  TRAILGUARD_SELF_ROLES: 'selfRoles',
  TRAILGUARD_EXEMPTIONS: 'exemptions',
  TRAILGUARD_RULES: 'rules',
  TRAILGUARD_LOG_LEVEL: 'logLevel',
  TRAILGUARD_STATE_TABLE: 'stateTable',
  TRAILGUARD_ENFORCE_FUNCTION_ARN: 'enforceFunctionArn',
  TRAILGUARD_SCHEDULER_ROLE_ARN: 'schedulerRoleArn',
  AWS_REGION: 'region',
  TRAILGUARD_RELIABILITY: 'reliability',
  TRAILGUARD_PARAMETER_PREFIX: 'parameterPrefix',
  TRAILGUARD_CONFIG_MAX_AGE_SECONDS: 'configMaxAgeSeconds',
  AWS_ENDPOINT_URL: 'endpoint',
  TRAILGUARD_ORG_ID: 'organization.organizationId',
  TRAILGUARD_MEMBER_ROLE_NAME: 'organization.memberRoleName',
  TRAILGUARD_CENTRAL_ACCOUNT_ID: 'organization.centralAccountId',
  TRAILGUARD_EXTERNAL_ID: 'organization.externalId',
  TRAILGUARD_TRUSTED_ACCOUNTS: 'trustedAccounts',
} as const;

const JSON_VARS = new Set(['TRAILGUARD_EXEMPTIONS', 'TRAILGUARD_RULES', 'TRAILGUARD_RELIABILITY']);
const LIST_VARS = new Set(['TRAILGUARD_SELF_ROLES', 'TRAILGUARD_TRUSTED_ACCOUNTS']);
// A number in a variable: kept as text when it is not one, so the schema names the variable and the problem.
const NUMBER_VARS = new Set(['TRAILGUARD_CONFIG_MAX_AGE_SECONDS']);

/** Maps `TRAILGUARD_*` variables (and AWS_ENDPOINT_URL) onto the config and parses it. Empty means unset. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const raw: Record<string, unknown> = {};
  for (const [variable, key] of Object.entries(ENV_VARS)) {
    const value = env[variable]?.trim();
    if (!value) continue;
    // A dotted key (`organization.organizationId`) fills one field of a section.
    const [section, field] = key.split('.');
    if (section && field) {
      raw[section] = { ...(raw[section] as object | undefined), [field]: value };
    } else if (JSON_VARS.has(variable)) {
      try {
        raw[key] = JSON.parse(value);
      } catch (error) {
        throw new ConfigError(variable, `not valid JSON: ${(error as Error).message}`, { cause: error });
      }
    } else if (NUMBER_VARS.has(variable)) {
      raw[key] = /^\d+$/.test(value) ? Number(value) : value;
    } else if (LIST_VARS.has(variable)) {
      raw[key] = value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
    } else {
      raw[key] = value;
    }
  }
  try {
    return parseConfig(raw, 'env');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Name the variable the operator sets, not our internal key (the most specific one: a section's field).
    const path = error.variable.replace(/^env\./, '');
    const [variable, key] = Object.entries(ENV_VARS)
      .filter(([, k]) => path === k || path.startsWith(`${k}.`))
      .sort(([, a], [, b]) => b.length - a.length)[0] ?? [error.variable, path];
    throw new ConfigError(variable, `${error.problem}${path !== key && error.variable.includes('.', 4) ? ` (at ${path})` : ''}`, { cause: error });
  }
}

/**
 * The rule ids TRAILGUARD_RULES names (the env override path of the live configuration: each replaces that rule's
 * stored settings wholesale). `{}`, the stack's default, names none. Call after loadConfig has accepted the value.
 */
export function ruleOverridesOf(env: Readonly<Record<string, string | undefined>>): readonly RuleId[] {
  const value = env.TRAILGUARD_RULES?.trim();
  if (!value) return [];
  const parsed: unknown = JSON.parse(value);
  return parsed && typeof parsed === 'object' ? RULE_IDS.filter((id) => Object.hasOwn(parsed, id)) : [];
}

/** The rule ids the process's TRAILGUARD_RULES overrides (see ruleOverridesOf). */
export function processRuleOverrides(): readonly RuleId[] {
  processConfig();
  return ruleOverridesOf(process.env);
}

let cached: Config | undefined;

/** The process's config: loaded from the environment on first use, then reused (one container, one parse). */
export function processConfig(): Config {
  cached ??= loadConfig(process.env);
  return cached;
}

/** Forgets the cached config (tests only). */
export function resetProcessConfig(): void {
  cached = undefined;
}

/** The Security Hub exporter's settings: it reads no rule configuration (each record carries what it needs). */
export interface ExporterConfig {
  /** An AWS-compatible endpoint (AWS_ENDPOINT_URL), as `endpoint` above. */
  readonly endpoint?: string;
}

/** Parses the exporter's settings from an environment; a bad value names its variable. */
export function exporterConfigOf(env: Readonly<Record<string, string | undefined>>): ExporterConfig {
  const endpoint = env.AWS_ENDPOINT_URL?.trim();
  if (!endpoint) return {};
  const parsed = v.safeParse(ConfigSchema.entries.endpoint, endpoint);
  if (!parsed.success) throw new ConfigError('AWS_ENDPOINT_URL', parsed.issues[0]?.message ?? 'invalid');
  return { endpoint };
}

/** The exporter's settings from the process's environment. */
export function processExporterConfig(): ExporterConfig {
  return exporterConfigOf(process.env);
}
