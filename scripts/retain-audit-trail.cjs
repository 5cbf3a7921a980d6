// Serverless plugin: the functions' log groups hold the remediation log (one record per event: what trailguard
// saw, decided and changed), so `serverless remove` must not delete them, nor a replacement drop the old one.
// osls creates them (`<Function>LogGroup`) without a policy; this sets Retain on every AWS::Logs::LogGroup of the
// template. The key, the dead-letter queue and the state table get the same in serverless.yml.
class RetainAuditTrail {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:finalize': () => this.retain() };
  }

  retain() {
    const { Resources } = this.serverless.service.provider.compiledCloudFormationTemplate;
    for (const resource of Object.values(Resources)) {
      if (resource.Type !== 'AWS::Logs::LogGroup') continue;
      resource.DeletionPolicy = 'Retain';
      resource.UpdateReplacePolicy = 'Retain';
    }
  }
}

module.exports = RetainAuditTrail;
