#!/usr/bin/env node
// Runs the CLI's bundle (dist/cli/builds/<id>/, built by scripts/build-cli.mjs), not the TypeScript: tsx took 16× `node -e 0`
// to start. Every start checks the bundle against its sources (file stats, a few milliseconds) and rebuilds it when
// any changed, so the CLI never runs older rules than the checkout's.
import module from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { distOf, ensureBuilt, NoEsbuild } from '../scripts/build-cli.mjs';

const argv = process.argv.slice(2);
if (argv[0] === 'member-template') {
  // The member stack's generator reads serverless files beside its own source, so this one command runs from sources.
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../cli/main.ts');
  process.exitCode = await main(argv);
} else {
  const dist = distOf();
  let build;
  try {
    // The current build's folder (dist/cli/builds/<id>/): this process loads its chunks and worker from there only.
    build = await ensureBuilt(dist);
  } catch (error) {
    // esbuild has printed what in the sources does not build.
    process.stderr.write(`trailguard: ${error instanceof NoEsbuild ? error.message : `could not build the CLI from its sources: ${error.message}`}\n`);
    process.exit(2);
  }
  // V8's compiled code for the bundle, kept beside it (Node 22.1+; checked against the source, so never stale).
  module.enableCompileCache?.(join(dist, '.compile-cache'));
  const { main } = await import(pathToFileURL(join(build, 'trailguard.mjs')).href);
  process.exitCode = await main(argv);
}
