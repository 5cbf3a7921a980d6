// Serverless plugin: every trailguard function has its own role (serverless-iam-roles-per-function), yet the
// framework still emits its shared default role. An unused role with log and queue permissions is noise
// in a least-privilege review, so it is dropped from the template when nothing references it.
class DropUnusedDefaultRole {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:finalize': () => this.drop() };
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
