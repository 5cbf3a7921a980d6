// esbuild plugins for the Lambda bundles (loaded by serverless-esbuild through `custom.esbuild.plugins`).
const fs = require('node:fs');
const path = require('node:path');

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

function decodeSegment(text) {
  const values = [];
  let value = 0;
  let shift = 0;
  for (const char of text) {
    const digit = B64_INDEX.get(char);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}

function encodeValue(value) {
  let vlq = value < 0 ? (-value << 1) | 1 : value << 1;
  let out = '';
  do {
    let digit = vlq & 31;
    vlq >>>= 5;
    if (vlq > 0) digit |= 32;
    out += B64[digit];
  } while (vlq > 0);
  return out;
}

/**
 * Keeps, of the mappings, only where each run of the project's own code starts: one segment per original
 * source line (the SDK's frames stay minified, which is fine). A stack frame inside our code still maps to its
 * file and line, the column to that line's first token; the original names are dropped. The map shrinks from
 * ~660 KB to ~13 KB (4 KB zipped, against 24 KB with every token mapped): the artifact budget is for code.
 */
function trimSourceMap(map) {
  const keepSource = map.sources.map((source) => !source.includes('node_modules'));
  const sourceIndex = new Map();
  const sources = [];
  const state = { src: 0, line: 0, col: 0 };
  const out = { src: 0, line: 0, col: 0 };
  const lines = map.mappings.split(';').map((line) => {
    let genCol = 0;
    let outGenCol = 0;
    let run = '';
    const kept = [];
    for (const segment of line ? line.split(',') : []) {
      const [dCol, dSrc, dLine, dSrcCol] = decodeSegment(segment);
      genCol += dCol;
      if (dSrc === undefined) {
        run = '';
        continue;
      }
      state.src += dSrc;
      state.line += dLine;
      state.col += dSrcCol;
      const runKey = `${state.src}:${state.line}`;
      if (!keepSource[state.src]) {
        run = '';
        continue;
      }
      if (runKey === run) continue;
      run = runKey;
      if (!sourceIndex.has(state.src)) {
        sourceIndex.set(state.src, sources.length);
        sources.push(map.sources[state.src]);
      }
      const src = sourceIndex.get(state.src);
      kept.push(encodeValue(genCol - outGenCol) + encodeValue(src - out.src) + encodeValue(state.line - out.line) + encodeValue(state.col - out.col));
      outGenCol = genCol;
      out.src = src;
      out.line = state.line;
      out.col = state.col;
    }
    return kept.join(',');
  });
  return { version: 3, sources, names: [], mappings: lines.join(';') };
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

module.exports = [treeShakeableSdkSchemas, projectOnlySourceMaps];
module.exports.trimSourceMap = trimSourceMap;
module.exports.inlineSchemaKeys = inlineSchemaKeys;
module.exports.treeShakeableSdkSchemas = treeShakeableSdkSchemas;
module.exports.projectOnlySourceMaps = projectOnlySourceMaps;
