// esbuild plugins for the Lambda bundles (loaded by serverless-esbuild through `custom.esbuild.plugins`).
const fs = require('node:fs');
const path = require('node:path');
const { decode, encode } = require('@jridgewell/sourcemap-codec');

/**
 * Keeps, of the mappings, only where each run of the project's own code starts: one segment per original
 * source line (the SDK's frames stay minified, which is fine). A stack frame inside our code still maps to its
 * file and line, the column to that line's first token; the original names are dropped. The map shrinks from
 * ~660 KB to 19–22 KB (6–7 KB zipped, against 24 KB with every token mapped): the artifact budget is for code.
 */
function trimSourceMap(map) {
  const keepSource = map.sources.map((source) => !source.includes('node_modules'));
  const sourceIndex = new Map();
  const sources = [];
  // decode gives absolute positions ([generated column, source, line, column, name?] per segment), encode
  // writes the deltas back, so filtering is all that is left here.
  const lines = decode(map.mappings).map((segments) => {
    let run;
    const kept = [];
    for (const [generatedColumn, source, line, column] of segments) {
      if (source === undefined || !keepSource[source]) {
        run = undefined;
        continue;
      }
      const runKey = `${source}:${line}`;
      if (runKey === run) continue;
      run = runKey;
      if (!sourceIndex.has(source)) {
        sourceIndex.set(source, sources.length);
        sources.push(map.sources[source]);
      }
      kept.push([generatedColumn, sourceIndex.get(source), line, column]);
    }
    return kept;
  });
  return { version: 3, sources, names: [], mappings: encode(lines) };
}

// Each build trims only the maps it wrote (from its metafile): serverless-esbuild builds the entries of one folder
// (a rule's handler and sweep-handler) concurrently into the same outdir, and a build that rewrote every map of
// the folder read another build's map while it was being written, and could hang the packaging.
const projectOnlySourceMaps = {
  name: 'project-only-source-maps',
  setup(build) {
    build.initialOptions.metafile = true;
    const cwd = build.initialOptions.absWorkingDir ?? process.cwd();
    build.onEnd((result) => {
      if (result.errors.length > 0 || !result.metafile) return;
      for (const output of Object.keys(result.metafile.outputs).filter((file) => file.endsWith('.map'))) {
        const file = path.resolve(cwd, output);
        const trimmed = trimSourceMap(JSON.parse(fs.readFileSync(file, 'utf8')));
        fs.writeFileSync(`${file}.tmp`, JSON.stringify(trimmed));
        fs.renameSync(`${file}.tmp`, file);
      }
    });
  },
};

const SCHEMA_FILE = /client-[a-z0-9-]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/;

/**
 * The SDK's generated schema modules write trait objects with computed keys (`{ [_xN]: _Fil }`, where
 * `const _xN = "xmlName"`). esbuild cannot prove a computed key free of side effects, so it keeps every
 * shape of the service: all of EC2's (550 KB minified) for the three commands a rule sends. Inlining the
 * string constants as literal keys (`{ "xmlName": _Fil }`) changes no value, and lets esbuild drop the
 * shapes nothing uses. test/build/schema-inlining.test.ts proves the requests and parsed responses stay
 * byte-identical.
 */
function inlineSchemaKeys(source) {
  const constants = new Map([...source.matchAll(/^const (_\w+) = ("(?:[^"\\]|\\.)*");$/gm)].map((m) => [m[1], m[2]]));
  return source.replace(/\[(_\w+)\]:/g, (all, name) => (constants.has(name) ? `${constants.get(name)}:` : all));
}

const treeShakeableSdkSchemas = {
  name: 'tree-shakeable-sdk-schemas',
  setup(build) {
    build.onLoad({ filter: SCHEMA_FILE }, async (args) => ({
      contents: inlineSchemaKeys(await fs.promises.readFile(args.path, 'utf8')),
      loader: 'js',
    }));
  },
};

const EVENT_STREAMS_STUB = path.join(__dirname, 'sdk-event-streams-stub.mjs');

/**
 * The S3 client imports the SDK's event-stream codec when it is built, for operations no rule sends (~15 KB
 * minified, ~4 KB zipped, in every bundle with S3): it resolves to a stub whose marshaller fails any such call
 * (scripts/sdk-event-streams-stub.mjs). An import the stub lacks fails the build, never a Lambda at run time;
 * test/build/schema-inlining.test.ts proves the requests and responses unchanged.
 */
const noSdkEventStreams = {
  name: 'no-sdk-event-streams',
  setup(build) {
    build.onResolve({ filter: /^@smithy\/core\/event-streams$/ }, () => ({ path: EVENT_STREAMS_STUB }));
  },
};

module.exports = [treeShakeableSdkSchemas, noSdkEventStreams, projectOnlySourceMaps];
module.exports.trimSourceMap = trimSourceMap;
module.exports.inlineSchemaKeys = inlineSchemaKeys;
module.exports.treeShakeableSdkSchemas = treeShakeableSdkSchemas;
module.exports.noSdkEventStreams = noSdkEventStreams;
module.exports.projectOnlySourceMaps = projectOnlySourceMaps;
