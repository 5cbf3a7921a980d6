// Serverless plugin: refuses to package a stage whose names would break AWS's length limits. The stage is in
// almost every name (`trailguard-<stage>-untaggedInstanceEnforce-role`, `…-rule-1-org`), and CloudFormation
// only finds out at CreateStack, half-way through a deployment. Listed last in serverless.yml, so it reads the
// finished template, organisation copies included, and it computes the longest stage allowed from those names
// (not from a constant), so a new function or a longer suffix moves the limit by itself.
// `node scripts/name-limits.cjs max-stage TEMPLATE STAGE` prints that length for a packaged template.

/** The named properties of the stack and their limits (the services' API references). */
const LIMITS = [
  { type: 'AWS::IAM::Role', property: 'RoleName', limit: 64, what: 'IAM role name' },
  { type: 'AWS::IAM::Role', property: 'Policies.PolicyName', limit: 128, what: 'IAM inline policy name' },
  { type: 'AWS::Lambda::Function', property: 'FunctionName', limit: 64, what: 'Lambda function name' },
  { type: 'AWS::Events::Rule', property: 'Name', limit: 64, what: 'EventBridge rule name' },
  { type: 'AWS::Scheduler::Schedule', property: 'Name', limit: 64, what: 'EventBridge Scheduler schedule name' },
  { type: 'AWS::Events::EventBus', property: 'Name', limit: 256, what: 'EventBridge bus name' },
  { type: 'AWS::SQS::Queue', property: 'QueueName', limit: 80, what: 'SQS queue name' },
  { type: 'AWS::SNS::Topic', property: 'TopicName', limit: 256, what: 'SNS topic name' },
  { type: 'AWS::DynamoDB::Table', property: 'TableName', limit: 255, what: 'DynamoDB table name' },
  { type: 'AWS::CloudWatch::Alarm', property: 'AlarmName', limit: 255, what: 'CloudWatch alarm name' },
  { type: 'AWS::Logs::LogGroup', property: 'LogGroupName', limit: 512, what: 'log group name' },
  { type: 'AWS::Logs::QueryDefinition', property: 'Name', limit: 255, what: 'Logs Insights query name' },
];

/** What `Ref` returns for the named resources that other names refer to (an alarm's name joins its function's). */
const REF_NAME = { 'AWS::Lambda::Function': 'FunctionName', 'AWS::IAM::Role': 'RoleName', 'AWS::SQS::Queue': 'QueueName', 'AWS::DynamoDB::Table': 'TableName' };

/** A name's text: a string, or a Ref to / Fn::Join of names. Undefined when it cannot be known before deployment. */
function textOf(value, resources) {
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return undefined;
  if (typeof value.Ref === 'string') {
    const target = resources[value.Ref];
    const property = target && REF_NAME[target.Type];
    return property ? textOf(target.Properties?.[property], resources) : undefined;
  }
  const join = value['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    const parts = join[1].map((part) => textOf(part, resources));
    return parts.every((part) => part !== undefined) ? parts.join(join[0]) : undefined;
  }
  return undefined;
}

/** Every name the template sets, with its limit. Throws on a name whose length cannot be known: it is unchecked. */
function namesOf(template) {
  const resources = template.Resources ?? {};
  const names = [];
  for (const [id, resource] of Object.entries(resources)) {
    for (const { type, property, limit, what } of LIMITS.filter((l) => l.type === resource.Type)) {
      const [outer, inner] = property.split('.');
      const values = inner ? (resource.Properties?.[outer] ?? []).map((item) => item[inner]) : [resource.Properties?.[outer]];
      for (const value of values.filter((v) => v !== undefined)) {
        const name = textOf(value, resources);
        if (name === undefined)
          throw new Error(
            `name-limits: cannot tell the length of ${id}'s ${property} (${JSON.stringify(value)}); give it a name built from strings, Ref and Fn::Join`,
          );
        names.push({ id, type, property, limit, what, name });
      }
    }
  }
  return names;
}

/** How many times the stage's own token (`<service>-<stage>`) occurs in a name: the characters the stage adds. */
const occurrences = (name, token) => name.split(token).length - 1;

/**
 * The names over their limit, the worst first, and the longest stage every stage-dependent name allows
 * (`maxStageLength`, from each name's length less its stage: `floor((limit - fixed) / occurrences)`).
 */
function checkNames(template, { service, stage }) {
  const token = `${service}-${stage}`;
  const names = namesOf(template);
  const tooLong = names.filter((n) => n.name.length > n.limit).sort((a, b) => b.name.length - b.limit - (a.name.length - a.limit));
  const allowed = names
    .map((n) => ({ n, k: occurrences(n.name, token) }))
    .filter(({ k }) => k > 0)
    .map(({ n, k }) => Math.floor((n.limit - (n.name.length - k * stage.length)) / k));
  return { names, tooLong, maxStageLength: allowed.length > 0 ? Math.min(...allowed) : Infinity };
}

/** The refusal, naming the stage, the worst name, its limit and the longest stage that fits. */
function refusalOf({ tooLong, maxStageLength }, stage) {
  const [worst] = tooLong;
  const others = tooLong.length > 1 ? ` (and ${tooLong.length - 1} other name${tooLong.length > 2 ? 's' : ''})` : '';
  const head =
    `stage "${stage}" (${stage.length} characters) makes names longer than AWS allows: the ${worst.what} "${worst.name}" (${worst.id}) `
    + `would be ${worst.name.length} characters, over the limit of ${worst.limit}${others}.`;
  const advice =
    maxStageLength < stage.length
      ? ` With these settings the stage can be at most ${maxStageLength} characters: choose a shorter stage.`
      : ' That name does not depend on the stage: shorten the parameter it comes from.';
  return `${head}${advice}`;
}

class NameLimits {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:finalize': () => this.check() };
  }

  check() {
    const { service, provider } = this.serverless.service;
    const result = checkNames(provider.compiledCloudFormationTemplate, { service, stage: provider.stage });
    if (result.tooLong.length > 0) throw new this.serverless.classes.Error(`name-limits: ${refusalOf(result, provider.stage)}`);
  }
}

module.exports = NameLimits;
module.exports.LIMITS = LIMITS;
module.exports.namesOf = namesOf;
module.exports.checkNames = checkNames;
module.exports.refusalOf = refusalOf;

if (require.main === module) {
  const [command, file, stage] = process.argv.slice(2);
  if (command !== 'max-stage' || !file || !stage) {
    process.stderr.write('usage: node scripts/name-limits.cjs max-stage TEMPLATE.json STAGE\n');
    process.exit(2);
  }
  const template = JSON.parse(require('node:fs').readFileSync(file, 'utf8'));
  process.stdout.write(`${checkNames(template, { service: 'trailguard', stage }).maxStageLength}\n`);
}
