// Serverless plugin: every trailguard function has its own role (serverless-iam-roles-per-function), yet the
// framework still emits its shared default role. An unused role with log and queue permissions is noise
// in a least-privilege review, so it is dropped from the template when nothing references it.
// Before that, its trust is cut back to Lambda: osls adds scheduler.amazonaws.com to it for every `method:
// scheduler` schedule (even one with its own roleArn, as the sweeps have), and serverless-iam-roles-per-function
// copies the default role into each function's role, so every function role would trust Scheduler.
class DropUnusedDefaultRole {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = {
      // After osls compiled the schedules, before the per-function roles are cloned (before:package:finalize).
      'after:package:compileEvents': () => this.trustLambdaOnly(),
      'before:package:finalize': () => this.drop(),
    };
  }

  trustLambdaOnly() {
    const role = this.serverless.service.provider.compiledCloudFormationTemplate.Resources.IamRoleLambdaExecution;
    if (!role) return;
    // The schedules assume SweepSchedulerRole (their roleArn): no function role needs any principal but Lambda.
    role.Properties.AssumeRolePolicyDocument.Statement = [{ Effect: 'Allow', Principal: { Service: ['lambda.amazonaws.com'] }, Action: ['sts:AssumeRole'] }];
  }

  drop() {
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const name = 'IamRoleLambdaExecution';
    if (!template.Resources[name]) return;
    const { [name]: _role, ...others } = template.Resources;
    const rest = JSON.stringify({ ...template, Resources: others });
    if (rest.includes(`"${name}"`)) return; // still used by something: keep it
    delete template.Resources[name];
  }
}

module.exports = DropUnusedDefaultRole;
