import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from '@jridgewell/sourcemap-codec';
import * as esbuild from 'esbuild';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const plugins = require('../../scripts/esbuild-plugins.cjs') as {
  trimSourceMap: (map: RawMap) => RawMap;
  treeShakeableSdkSchemas: esbuild.Plugin;
  projectOnlySourceMaps: esbuild.Plugin;
};
const ROOT = join(import.meta.dirname, '..', '..');
// The bundles are built as serverless.yml says: the map must be linked (a sourceMappingURL comment), or Node never loads it.
const SERVERLESS_SOURCEMAP = (parse(readFileSync(join(ROOT, 'serverless.yml'), 'utf8')) as { custom: { esbuild: { sourcemap: 'linked' | 'external' } } }).custom
  .esbuild.sourcemap;

interface RawMap {
  readonly version: number;
  readonly sources: readonly string[];
  readonly names: readonly string[];
  readonly mappings: string;
}

/** Every segment of a map as absolute positions: generated line/column → source file and line. */
function segmentsOf(map: RawMap): { genLine: number; genCol: number; source: string; line: number }[] {
  return decode(map.mappings).flatMap((segments, genLine) =>
    segments.flatMap(([genCol, src, line]) => (src === undefined || line === undefined ? [] : [{ genLine, genCol, source: map.sources[src] ?? '?', line }])),
  );
}

/** What a debugger finds at a generated position: the last segment at or before it on its line. */
function lookup(segments: ReturnType<typeof segmentsOf>, genLine: number, genCol: number) {
  let found: (typeof segments)[number] | undefined;
  for (const segment of segments) {
    if (segment.genLine === genLine && segment.genCol <= genCol) found = segment;
  }
  return found;
}

const dir = mkdtempSync(join(tmpdir(), 'trailguard-map-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the artifacts' source maps", () => {
  it('map every position of our code to the same file and line as the full map, in a fraction of its size', async () => {
    const result = await esbuild.build({
      entryPoints: [join(ROOT, 'functions/public-bucket/handler.ts')],
      absWorkingDir: ROOT,
      bundle: true,
      minify: true,
      sourcemap: 'external',
      sourcesContent: false,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      mainFields: ['module', 'main'],
      write: false,
      outfile: join(dir, 'handler.mjs'),
      plugins: [plugins.treeShakeableSdkSchemas],
      alias: { '@aws-sdk/credential-provider-node': './shared/aws/lambda-credentials.ts' },
    });
    const full = JSON.parse(result.outputFiles.find((f) => f.path.endsWith('.map'))?.text ?? '{}') as RawMap;
    const trimmed = plugins.trimSourceMap(full);
    const ours = segmentsOf(full).filter((s) => !s.source.includes('node_modules'));
    const kept = segmentsOf(trimmed);
    expect(ours.length).toBeGreaterThan(1000);
    expect(kept.length).toBeLessThan(ours.length / 3);
    for (const segment of ours) {
      const found = lookup(kept, segment.genLine, segment.genCol);
      expect({ source: found?.source, line: found?.line }).toEqual({ source: segment.source, line: segment.line });
    }
    expect(trimmed.sources.some((source) => source.includes('node_modules'))).toBe(false);
    expect(JSON.stringify(trimmed).length).toBeLessThan(JSON.stringify(full).length / 20);
  });

  it('still turns a stack frame of a bundle into our file and line under --enable-source-maps', async () => {
    const entry = join(dir, 'thrower.ts');
    writeFileSync(
      entry,
      [
        'export function deep(n: number): number {',
        '  if (n > 2) {',
        "    throw new Error('from line 3');",
        '  }',
        '  return deep(n + 1);',
        '}',
        'deep(0);',
        '',
      ].join('\n'),
    );
    await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      minify: true,
      sourcemap: SERVERLESS_SOURCEMAP,
      sourcesContent: false,
      platform: 'node',
      format: 'esm',
      outfile: join(dir, 'thrower.mjs'),
      plugins: [plugins.treeShakeableSdkSchemas],
    });
    const mapFile = join(dir, 'thrower.mjs.map');
    writeFileSync(mapFile, JSON.stringify(plugins.trimSourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as RawMap)));
    const stderr = (() => {
      try {
        execFileSync(process.execPath, ['--enable-source-maps', join(dir, 'thrower.mjs')], { stdio: 'pipe' });
        return '';
      } catch (error) {
        return String((error as { stderr: Buffer }).stderr);
      }
    })();
    expect(stderr).toContain('from line 3');
    expect(stderr).toMatch(/thrower\.ts:3:\d+/);
  });

  it("trims, in each build, the map it wrote, as serverless-esbuild builds a folder's entries at once into one outdir", async () => {
    const outdir = join(dir, 'shared-outdir');
    const entries = ['functions/open-security-group/handler.ts', 'functions/open-security-group/sweep-handler.ts'];
    await Promise.all(
      entries.map((entry) =>
        esbuild.build({
          entryPoints: [join(ROOT, entry)],
          absWorkingDir: ROOT,
          bundle: true,
          minify: true,
          sourcemap: SERVERLESS_SOURCEMAP,
          sourcesContent: false,
          platform: 'node',
          format: 'esm',
          target: 'node22',
          mainFields: ['module', 'main'],
          outdir,
          outExtension: { '.js': '.mjs' },
          plugins: [plugins.treeShakeableSdkSchemas, plugins.projectOnlySourceMaps],
          alias: { '@aws-sdk/credential-provider-node': './shared/aws/lambda-credentials.ts' },
        }),
      ),
    );
    for (const name of ['handler', 'sweep-handler']) {
      const map = JSON.parse(readFileSync(join(outdir, `${name}.mjs.map`), 'utf8')) as RawMap;
      expect(map.names).toEqual([]);
      expect(map.sources.length).toBeGreaterThan(5);
      expect(map.sources.some((source) => source.includes('node_modules'))).toBe(false);
      expect(readFileSync(join(outdir, `${name}.mjs`), 'utf8')).toContain(`//# sourceMappingURL=${name}.mjs.map`);
    }
  });
});
