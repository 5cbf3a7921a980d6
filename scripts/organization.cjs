// Serverless plugin: EventBridge rule states, and organisation-wide mode (docs/organization.md).
// Always: an `eventBridge` event may set `state: ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` (osls knows only
// `enabled`, i.e. ENABLED/DISABLED): a rule in state ENABLED never receives read-only (Get/List/Describe)
// management events, so root-activity would miss root's reads. The state is set on the compiled rule here,
// before the organisation copy is made, so the copy has it too.
// Organisation mode only when the stage param `organizationId` is set; without it the template is the
// single-account one (no bus, no AssumeRole statement). With it:
// - a custom event bus whose resource policy accepts events:PutEvents only from the member stacks' forwarding
//   roles (by their path, forwarderRolePathOf) in accounts of the organisation;
// - every rule's EventBridge rule copied onto that bus: the same pattern (compiled from its pattern.json), the
//   same target, retry policy and dead-letter queue, so the member accounts' forwarded events reach the same function;
// - the acting functions' roles (custom.organization.actingFunctions, which scripts/rule-files.cjs derives from the
//   rules' permissions) may sts:AssumeRole the member role, and only in accounts of the organisation;
// - every function learns the organisation from TRAILGUARD_ORG_ID, TRAILGUARD_MEMBER_ROLE_NAME,
//   TRAILGUARD_CENTRAL_ACCOUNT_ID (this stack's account) and TRAILGUARD_EXTERNAL_ID.
const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;

/** The states an `eventBridge` event may ask for (ENABLED is osls's default, DISABLED its `enabled: false`). */
const RULE_STATES = ['ENABLED', 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS'];

/**
 * The IAM path of the member stacks' forwarding roles (scripts/member-stack.ts): one role per account and region,
 * so CloudFormation names them, and the central bus admits them by this path. A path, not a name, since IAM is
 * global and a fixed name would collide between the regions of one account.
 */
const forwarderRolePathOf = (service, stage) => `/${service}-${stage}-forwarder/`;

/**
 * The sources of the global services: EventBridge receives IAM's and Organizations' events, and sign-in's and STS's
 * through their global endpoints, in us-east-1 only.
 */
const GLOBAL_SOURCES = ['aws.iam', 'aws.organizations', 'aws.signin', 'aws.sts'];

/** True when an EventBridge pattern's `source` admits a global service (no `source` admits every one). */
function admitsGlobalService(pattern) {
  const source = pattern?.source;
  if (!Array.isArray(source)) return true;
  return GLOBAL_SOURCES.some((name) => source.some((matcher) => matcher === name || (typeof matcher?.prefix === 'string' && name.startsWith(matcher.prefix))));
}

/** The logical id prefix of a function key: `publicBucket` → `PublicBucket`. */
const logicalPrefixOf = (key) => key.charAt(0).toUpperCase() + key.slice(1);

class Organization {
  constructor(serverless, _options, utils) {
    this.serverless = serverless;
    this.log = utils?.log;
    serverless.configSchemaHandler?.defineFunctionEventProperties?.('aws', 'eventBridge', {
      properties: { state: { enum: RULE_STATES } },
    });
    this.hooks = { 'before:package:finalize': () => this.apply() };
  }

  fail(message) {
    throw new this.serverless.classes.Error(`organization: ${message}`);
  }

  apply() {
    this.applyRuleStates(this.serverless.service.provider.compiledCloudFormationTemplate);
    const settings = this.serverless.service.custom?.organization ?? {};
    const organizationId = String(settings.organizationId ?? '').trim();
    if (!organizationId) {
      this.warnAboutGlobalServices();
      return;
    }
    const memberRoleName = String(settings.memberRoleName ?? '').trim();
    const externalId = String(settings.externalId ?? '').trim();
    if (!ORGANIZATION_ID.test(organizationId)) this.fail(`organizationId "${organizationId}" is not an organization id such as o-a1b2c3d4e5`);
    if (!ROLE_NAME.test(memberRoleName)) this.fail(`memberRoleName "${memberRoleName}" is not an IAM role name`);
    if (externalId && !EXTERNAL_ID.test(externalId)) this.fail('externalId must be 2-1224 characters of [A-Za-z0-9+=,.@:/_-]');
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const { service } = this.serverless.service;
    const { stage } = this.serverless.service.provider;
    this.addBus(template, `${service}-${stage}-organization`, organizationId, forwarderRolePathOf(service, stage));
    this.copyRulesToBus(template);
    this.allowAssumeRole(template, settings.actingFunctions ?? [], memberRoleName, organizationId);
    this.addEnvironment(template, { organizationId, memberRoleName, externalId });
  }

  /** Sets each `eventBridge` event's `state` on the rule osls compiled for it (found by osls's naming). */
  applyRuleStates(template) {
    const { service } = this.serverless;
    const naming = this.serverless.getProvider('aws').naming;
    for (const key of service.getAllFunctions()) {
      const fn = service.getFunction(key);
      for (const [index, event] of (fn.events ?? []).entries()) {
        const state = event.eventBridge?.state;
        if (!state) continue;
        if (event.eventBridge.enabled === false) this.fail(`${key}: an eventBridge event cannot be both enabled: false and state: ${state}`);
        // osls: `<function name>-rule-<1-based position among all the function's events>`, made alphanumeric.
        const id = naming.getEventBridgeRuleLogicalId(`${fn.name}-rule-${index + 1}`);
        const rule = template.Resources[id];
        if (rule?.Type !== 'AWS::Events::Rule') this.fail(`${key}: no compiled EventBridge rule ${id} to set state ${state} on`);
        rule.Properties.State = state;
      }
    }
  }

  /**
   * IAM and Organizations events, and console sign-ins through the global sign-in endpoint, reach EventBridge in
   * us-east-1 only: a single-account stack elsewhere never sees them, so iam-policy-change and organization-left stay
   * silent and root-activity and the sign-in alerts see only sign-ins through that Region's own sign-in endpoint. Said at package time, where the person
   * choosing the region reads it, not discovered after an incident.
   */
  warnAboutGlobalServices() {
    const region = this.serverless.service.provider.region;
    if (region === 'us-east-1') return;
    const rules = this.globalServiceRules();
    const message =
      `trailguard: region ${region}: IAM and Organizations events, and console sign-ins through the global sign-in endpoint, are delivered to EventBridge in us-east-1 only, so `
      + `the rules on them${rules.length > 0 ? ` (${rules.join(', ')})` : ''} will see none of them here. Deploy in us-east-1 too, or use organisation mode `
      + '(its member stack forwards us-east-1 to this region).';
    if (this.log?.warning) this.log.warning(message);
    else process.stderr.write(`${message}\n`);
  }

  /** The rules (TRAILGUARD_RULE) of the functions whose EventBridge patterns admit a global service's events. */
  globalServiceRules() {
    const { service } = this.serverless;
    const rules = new Set();
    for (const key of service.getAllFunctions()) {
      const fn = service.getFunction(key);
      const patterns = (fn.events ?? []).map((event) => event.eventBridge?.pattern).filter(Boolean);
      if (patterns.some(admitsGlobalService)) rules.add(fn.environment?.TRAILGUARD_RULE ?? key);
    }
    return [...rules].sort();
  }

  addBus(template, name, organizationId, forwarderPath) {
    template.Resources.OrganizationEventBus = { Type: 'AWS::Events::EventBus', Properties: { Name: name } };
    template.Resources.OrganizationEventBusPolicy = {
      Type: 'AWS::Events::EventBusPolicy',
      Properties: {
        EventBusName: { Ref: 'OrganizationEventBus' },
        StatementId: 'OrganizationForwardersPutEvents',
        // Principal '*' is narrowed by both conditions: only the member stacks' forwarding roles, in accounts of the
        // organisation. Any other principal of the organisation could otherwise flood the rules (root-activity
        // included) with events of its own making, and hold real alerts behind the functions' concurrency.
        Statement: {
          Effect: 'Allow',
          Principal: '*',
          Action: 'events:PutEvents',
          Resource: { 'Fn::GetAtt': ['OrganizationEventBus', 'Arn'] },
          Condition: {
            StringEquals: { 'aws:PrincipalOrgID': organizationId },
            ArnLike: { 'aws:PrincipalArn': { 'Fn::Sub': `arn:\${AWS::Partition}:iam::*:role${forwarderPath}*` } },
          },
        },
      },
    };
    template.Outputs = { ...template.Outputs, OrganizationEventBusArn: { Value: { 'Fn::GetAtt': ['OrganizationEventBus', 'Arn'] } } };
  }

  copyRulesToBus(template) {
    const patternRules = Object.entries(template.Resources).filter(
      ([, r]) => r.Type === 'AWS::Events::Rule' && r.Properties?.EventPattern && !r.Properties.EventBusName,
    );
    for (const [id, rule] of patternRules) {
      const copyId = `${id}Organization`;
      const properties = structuredClone(rule.Properties);
      template.Resources[copyId] = {
        Type: 'AWS::Events::Rule',
        Properties: { ...properties, Name: this.copyNameOf(template, id, properties), EventBusName: { Ref: 'OrganizationEventBus' } },
      };
      for (const [index, target] of properties.Targets.entries()) {
        const fn = target.Arn?.['Fn::GetAtt']?.[0];
        if (!fn) this.fail(`${id} has a target that is not a function of this stack`);
        template.Resources[`${copyId}LambdaPermission${index + 1}`] = {
          Type: 'AWS::Lambda::Permission',
          Properties: {
            Action: 'lambda:InvokeFunction',
            FunctionName: { 'Fn::GetAtt': [fn, 'Arn'] },
            Principal: 'events.amazonaws.com',
            SourceArn: { 'Fn::GetAtt': [copyId, 'Arn'] },
          },
        };
      }
    }
  }

  /**
   * The copy's name: the rule's name plus `-org`, built from its function's name. osls cuts a rule name over 64
   * characters to 64 with a hash (dropping the stage), so `${Name}-org` would be 68 and say nothing of the stage;
   * the full name lets scripts/name-limits.cjs refuse the stage and say how long it may be.
   */
  copyNameOf(template, id, properties) {
    const fn = properties.Targets?.[0]?.Arn?.['Fn::GetAtt']?.[0];
    const functionName = template.Resources[fn]?.Properties?.FunctionName;
    const suffix = /rule-\d+$/.exec(properties.Name ?? '')?.[0];
    if (typeof functionName !== 'string' || !suffix) this.fail(`${id}: cannot name its organisation copy (target ${fn}, name ${properties.Name})`);
    return `${functionName}-${suffix}-org`;
  }

  allowAssumeRole(template, functionKeys, memberRoleName, organizationId) {
    for (const key of functionKeys) {
      const role = template.Resources[`${logicalPrefixOf(key)}IamRoleLambdaExecution`];
      if (!role) this.fail(`custom.organization.actingFunctions names ${key}, which has no role in this stack`);
      role.Properties.Policies[0].PolicyDocument.Statement.push({
        Effect: 'Allow',
        Action: ['sts:AssumeRole'],
        Resource: { 'Fn::Sub': `arn:\${AWS::Partition}:iam::*:role/${memberRoleName}` },
        // The member role only in accounts of this organisation, whatever account an event names.
        Condition: { StringEquals: { 'aws:ResourceOrgID': organizationId } },
      });
    }
  }

  addEnvironment(template, { organizationId, memberRoleName, externalId }) {
    const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    for (const fn of functions) {
      fn.Properties.Environment ??= { Variables: {} };
      Object.assign(fn.Properties.Environment.Variables, {
        TRAILGUARD_ORG_ID: organizationId,
        TRAILGUARD_MEMBER_ROLE_NAME: memberRoleName,
        TRAILGUARD_CENTRAL_ACCOUNT_ID: { Ref: 'AWS::AccountId' },
        ...(externalId ? { TRAILGUARD_EXTERNAL_ID: externalId } : {}),
      });
    }
  }
}

module.exports = Organization;
module.exports.forwarderRolePathOf = forwarderRolePathOf;
