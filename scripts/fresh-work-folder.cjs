// Serverless plugin: removes serverless-esbuild's work folder before it bundles (it is listed first). Its pack step
// zips every file under the folder into each function's artifact, and it removes the folder only after a packaging
// succeeds: what a failed or killed run left there (a bundle no function has any more, a half-written temp file)
// would otherwise ship in the next artifacts. Two packagings of one checkout at once still clash (serverless-esbuild
// moves every artifact through the service's `.serverless`): they take turns (test/helpers/template.ts's lock).
const fs = require('node:fs');
const path = require('node:path');

class FreshWorkFolder {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:package:createDeploymentArtifacts': () => this.remove() };
  }

  remove() {
    const root = this.serverless.serviceDir ?? this.serverless.config.servicePath;
    // serverless-esbuild's default, unless custom.esbuild names another.
    const folder = this.serverless.service.custom?.esbuild?.outputWorkFolder ?? '.esbuild';
    fs.rmSync(path.resolve(root, folder), { recursive: true, force: true });
  }
}

module.exports = FreshWorkFolder;
