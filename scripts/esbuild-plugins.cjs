// esbuild plugins for the Lambda bundles (loaded by serverless-esbuild through `custom.esbuild.plugins`).
const crypto = require('node:crypto');
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

// Marks a map as trimmed (source maps allow `x_` fields; Node ignores them): a map seen twice is trimmed once.
const TRIMMED_MARK = 'x_trailguard_trimmed';

/** A map's JSON, or an error naming the file: a JSON position alone does not say which map was cut short. */
function parseMap(text, file) {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not a whole source map (${text.length} characters): ${error.message}`);
  }
}

/** The map's text trimmed, or the text itself when it is trimmed already. */
function trimmedMapText(text, file) {
  const map = parseMap(text, file);
  return map[TRIMMED_MARK] ? text : JSON.stringify({ ...trimSourceMap(map), [TRIMMED_MARK]: true });
}

let tempFiles = 0;

/** Writes through a name no other build or process uses, then renames: a reader sees the old file or the whole new one. */
function writeAtomically(file, contents) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}-${++tempFiles}.tmp`;
  try {
    fs.writeFileSync(temp, contents);
    fs.renameSync(temp, file);
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/**
 * Trims each map in memory, before anything is on disk: the build writes its own outputs (write: false for esbuild)
 * once trimmed, each through a temp name and a rename. So a map is never read from disk, where another build or a
 * second `serverless package` sharing the work folder could be writing it (a map read half-written failed the
 * packaging with "Unterminated string in JSON at position 524288"), and each build's output is trimmed exactly once.
 */
const projectOnlySourceMaps = {
  name: 'project-only-source-maps',
  setup(build) {
    // The caller's choice: with write: false the trimmed maps go back in the result, as esbuild would return them.
    const callerWrites = build.initialOptions.write !== false;
    build.initialOptions.write = false;
    build.onEnd((result) => {
      if (result.errors.length > 0 || !result.outputFiles) return;
      const outputs = result.outputFiles.map((output) => {
        if (!output.path.endsWith('.map')) return output;
        const text = trimmedMapText(output.text, output.path);
        const contents = Buffer.from(text);
        return { path: output.path, contents, hash: crypto.createHash('sha256').update(contents).digest('base64url'), text };
      });
      if (!callerWrites) {
        result.outputFiles = outputs;
        return;
      }
      for (const output of outputs) writeAtomically(output.path, output.contents);
      delete result.outputFiles;
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
module.exports.TRIMMED_MARK = TRIMMED_MARK;
module.exports.trimmedMapText = trimmedMapText;
module.exports.inlineSchemaKeys = inlineSchemaKeys;
module.exports.treeShakeableSdkSchemas = treeShakeableSdkSchemas;
module.exports.noSdkEventStreams = noSdkEventStreams;
module.exports.projectOnlySourceMaps = projectOnlySourceMaps;
