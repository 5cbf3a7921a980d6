// Serverless plugin: the live configuration's least privilege (shared/live-config/layout.ts). Every function of a
// rule (event, sweep, check: TRAILGUARD_RULE set) may read exactly `<prefix>/rules` and its own rule's two exemption
// folders, `<prefix>/exemptions/<rule>` and `<prefix>/exemptions/all` (GetParametersByPath, non-recursive, and
// GetParameters of the parameters in them, for a rejected value's previous versions): a
// function of one rule can read no other rule's exemptions, and nothing can write. The rule is the function's
// TRAILGUARD_RULE; the prefix is TRAILGUARD_PARAMETER_PREFIX (serverless.yml), `/<service>/<stage>`.
// Runs after serverless-iam-roles-per-function (listed after it), which builds the roles in the same hook.
class LiveConfig {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:finalize': () => this.addReadStatements() };
  }

  addReadStatements() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const functions = Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    for (const [id, fn] of functions) {
      const variables = fn.Properties?.Environment?.Variables ?? {};
      // A stack job (jobs/<job>/function.yml, TRAILGUARD_JOB) is no rule's: its own role holds exactly its reads.
      if (variables.TRAILGUARD_JOB !== undefined && variables.TRAILGUARD_RULE === undefined) continue;
      const prefix = variables.TRAILGUARD_PARAMETER_PREFIX;
      const rule = variables.TRAILGUARD_RULE;
      // A function of no rule (a stack job, the Security Hub exporter) runs no rule: it reads no rule's configuration.
      if (rule === undefined) continue;
      if (typeof prefix !== 'string' || !/^\/[\w.-]+(\/[\w.-]+)*$/.test(prefix))
        throw this.fail(`${id}: TRAILGUARD_PARAMETER_PREFIX "${prefix}" is no parameter path`);
      if (typeof rule !== 'string' || !/^[a-z0-9-]+$/.test(rule)) throw this.fail(`${id}: TRAILGUARD_RULE "${rule}" is no rule id`);
      const roleId = fn.Properties?.Role?.['Fn::GetAtt']?.[0];
      const role = template.Resources[roleId];
      if (!role?.Properties?.Policies?.[0])
        throw this.fail(`${id}: no role of its own (serverless-iam-roles-per-function) to add the live configuration's reads to`);
      role.Properties.Policies[0].PolicyDocument.Statement.push(...liveConfigStatements(prefix, rule));
    }
  }

  fail(message) {
    return new this.serverless.classes.Error(`live-config: ${message}`);
  }
}

/** A parameter's (or a path's) ARN: `parameter` followed by the name, whose leading slash is the separator. */
const parameterArn = (name) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${name}` });

/** The two statements of one rule's functions. */
function liveConfigStatements(prefix, rule) {
  return [
    // GetParameters of an exemption: a rejected version's previous versions (`name:N`), read back for the last good one.
    {
      Effect: 'Allow',
      Action: ['ssm:GetParameters'],
      Resource: [parameterArn(`${prefix}/rules`), parameterArn(`${prefix}/exemptions/${rule}/*`), parameterArn(`${prefix}/exemptions/all/*`)],
    },
    {
      Effect: 'Allow',
      Action: ['ssm:GetParametersByPath'],
      Resource: [parameterArn(`${prefix}/exemptions/${rule}`), parameterArn(`${prefix}/exemptions/all`)],
    },
  ];
}

module.exports = LiveConfig;
module.exports.liveConfigStatements = liveConfigStatements;
