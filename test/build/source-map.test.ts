import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from '@jridgewell/sourcemap-codec';
import * as esbuild from 'esbuild';
import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const plugins = require('../../scripts/esbuild-plugins.cjs') as {
  trimSourceMap: (map: RawMap) => RawMap;
  trimmedMapText: (text: string, file: string) => string;
  TRIMMED_MARK: string;
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
        execFileSync(process.execPath, ['--enable-source-maps', join(dir, 'thrower.mjs')], { stdio: 'pipe', timeout: 30_000 });
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

  // The plugin's options for a build of the handler in `outdir`, as serverless-esbuild passes them.
  const handlerBuild = (outdir: string, extra: esbuild.BuildOptions = {}): esbuild.BuildOptions => ({
    entryPoints: [join(ROOT, 'functions/public-bucket/handler.ts')],
    absWorkingDir: ROOT,
    bundle: true,
    minify: true,
    sourcemap: SERVERLESS_SOURCEMAP,
    sourcesContent: false,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outdir,
    outExtension: { '.js': '.mjs' },
    plugins: [plugins.projectOnlySourceMaps],
    logLevel: 'silent',
    ...extra,
  });

  it('trims each map once, in memory, over a half-written one left on disk, and on every rebuild of a context', async () => {
    const outdir = join(dir, 'rebuilt');
    const context = await esbuild.context(handlerBuild(outdir));
    try {
      await context.rebuild();
      const first = readFileSync(join(outdir, 'handler.mjs.map'), 'utf8');
      // What a killed packaging leaves: a map cut short, which a trimming that read the disk failed on.
      writeFileSync(join(outdir, 'handler.mjs.map'), first.slice(0, first.length >> 1));
      await context.rebuild();
      const second = readFileSync(join(outdir, 'handler.mjs.map'), 'utf8');
      expect(second).toBe(first);
      expect(JSON.parse(second)).toMatchObject({ names: [], [plugins.TRIMMED_MARK]: true });
      expect(readdirSync(outdir).sort()).toEqual(['handler.mjs', 'handler.mjs.map']);
    } finally {
      await context.dispose();
    }
  });

  it('gives a caller that asked for write: false the trimmed map, and writes nothing', async () => {
    const outdir = join(dir, 'in-memory');
    const result = await esbuild.build(handlerBuild(outdir, { write: false }));
    const map = (result.outputFiles ?? []).find((file) => file.path.endsWith('handler.mjs.map'));
    expect(JSON.parse(map?.text ?? '{}')).toMatchObject({ names: [], [plugins.TRIMMED_MARK]: true });
    expect(Buffer.from(map?.contents ?? []).toString('utf8')).toBe(map?.text);
    expect(readdirSync(dir)).not.toContain('in-memory');
  });

  it('leaves a trimmed map as it is, and names the file of a map cut short', () => {
    const trimmed = plugins.trimmedMapText(
      JSON.stringify({ version: 3, sources: ['a.ts', 'node_modules/b.js'], names: ['x'], mappings: 'AAAA,CCAAA' }),
      'a.map',
    );
    expect(JSON.parse(trimmed)).toEqual({ version: 3, sources: ['a.ts'], names: [], mappings: 'AAAA', [plugins.TRIMMED_MARK]: true });
    expect(plugins.trimmedMapText(trimmed, 'a.map')).toBe(trimmed);
    expect(() => plugins.trimmedMapText('{"version":3,"sources":["functions/x', '/build/handler.mjs.map')).toThrow(
      /^\/build\/handler\.mjs\.map is not a whole source map \(36 characters\): Unterminated string in JSON/,
    );
  });
});
