// The SDK floor of a function: a bundle of exactly the AWS SDK clients and commands its own bundle holds, built
// with the same esbuild options and plugins as its deployed bundle. Node plus that SDK code is the least any
// function making those calls can load, so cold init and init + first event are measured against it.
//
// Which clients and commands: read from the function's esbuild metafile (the inputs that put bytes into the
// output), never from a hand list, so the floor follows the code. The metafile comes from rebuilding the
// function's entry with serverless.yml's custom.esbuild settings; the rebuilt bundle must have the packaged
// handler's exact size, or the floor would describe another bundle.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type BuildOptions, build, type Metafile, type Plugin } from 'esbuild';
import { parse } from 'yaml';
import { type Artifact, ROOT } from './artifacts.js';

/** One SDK client in a bundle: its package, its client class, the command classes the bundle holds. */
export interface SdkClientUse {
  /** `@aws-sdk/client-s3` */
  readonly package: string;
  /** `S3Client` */
  readonly client: string;
  /** `GetPublicAccessBlockCommand`, … sorted. */
  readonly commands: readonly string[];
}

/** A built SDK floor. */
export interface SdkFloor {
  /** The floor bundle, exporting `handler` (see FloorEvent). */
  readonly path: string;
  /** What it holds, sorted by package. */
  readonly clients: readonly SdkClientUse[];
  /** The functions sharing this floor (same clients and commands). */
  readonly functions: readonly string[];
}

/**
 * What the floor's `handler` does with its event: every step in order, the calls of one step in parallel, each
 * call on a client built once per client class with baseClientConfig (shared/aws/client-options.ts), in
 * `region` (else AWS_REGION) and against `endpoint` when given. No event or no steps: the handler returns at once.
 */
export interface FloorEvent {
  readonly region?: string;
  readonly endpoint?: string;
  readonly steps?: readonly (readonly FloorCall[])[];
}
export interface FloorCall {
  /** `S3Client` */
  readonly client: string;
  /** `GetPublicAccessBlockCommand` */
  readonly command: string;
  readonly input: unknown;
}

interface CustomEsbuild {
  readonly plugins?: string;
  readonly outputFileExtension?: string;
  readonly exclude?: readonly string[];
  readonly external?: readonly string[];
  readonly [option: string]: unknown;
}

// serverless-esbuild's own settings, which it removes before calling esbuild (node_modules/serverless-esbuild/dist/bundle.js).
const PLUGIN_ONLY = [
  'concurrency',
  'zipConcurrency',
  'exclude',
  'nativeZip',
  'packager',
  'packagePath',
  'watch',
  'keepOutputDirectory',
  'packagerOptions',
  'installExtraArgs',
  'outputFileExtension',
  'outputBuildFolder',
  'outputWorkFolder',
  'nodeExternals',
  'skipBuild',
  'skipRebuild',
  'skipBuildExcludeFns',
  'stripEntryResolveExtensions',
  'disposeContext',
  'plugins',
];

/** The esbuild options serverless-esbuild builds each function with, from serverless.yml (read, not copied). */
export function lambdaBuildOptions(serverlessYml = join(ROOT, 'serverless.yml')): BuildOptions {
  const custom = (parse(readFileSync(serverlessYml, 'utf8'), { logLevel: 'silent' }) as { custom: { esbuild: CustomEsbuild } }).custom.esbuild;
  const options: Record<string, unknown> = Object.fromEntries(Object.entries(custom).filter(([key]) => !PLUGIN_ONLY.includes(key)));
  const plugins = custom.plugins ? (createRequire(import.meta.url)(join(ROOT, custom.plugins)) as Plugin[]) : [];
  const exclude = custom.exclude ?? [];
  return {
    ...options,
    external: [...(custom.external ?? []), ...(exclude.includes('*') ? [] : exclude)],
    ...(custom.outputFileExtension && custom.outputFileExtension !== '.js' ? { outExtension: { '.js': custom.outputFileExtension } } : {}),
    plugins,
    absWorkingDir: ROOT,
    logLevel: 'error',
  };
}

// An SDK client package's client class and command modules, as esbuild names its inputs. Only the ES build has a
// module per class: the CommonJS one (dist-cjs) is a single index.js, which these cannot read.
const CLIENT_MODULE = /(?:^|\/)node_modules\/(@aws-sdk\/client-[a-z0-9-]+)\/dist-es\/([A-Za-z0-9]+Client)\.js$/;
const COMMAND_MODULE = /(?:^|\/)node_modules\/(@aws-sdk\/client-[a-z0-9-]+)\/dist-es\/commands\/([A-Za-z0-9]+Command)\.js$/;
const CLIENT_PACKAGE = /(?:^|\/)node_modules\/(@aws-sdk\/client-[a-z0-9-]+)\//;

/**
 * The SDK clients and commands that put code into the bundle's output (`bytesInOutput` > 0: a module esbuild
 * tree-shook away entirely does not count). A command without its client, a client without a command, or a client
 * package with code in the output but neither (its CommonJS build) is an error: the floor would not be able to make
 * the call, or the derivation missed a module layout.
 */
export function sdkClientsOf(metafile: Metafile): SdkClientUse[] {
  const byPackage = new Map<string, { client?: string; commands: Set<string> }>();
  const entry = (pkg: string) => {
    const found = byPackage.get(pkg) ?? { commands: new Set<string>() };
    byPackage.set(pkg, found);
    return found;
  };
  const withCode = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      if (bytesInOutput === 0) continue;
      const path = input.replaceAll('\\', '/');
      const pkg = CLIENT_PACKAGE.exec(path);
      if (pkg) withCode.add(pkg[1] as string);
      const client = CLIENT_MODULE.exec(path);
      if (client) entry(client[1] as string).client = client[2] as string;
      const command = COMMAND_MODULE.exec(path);
      if (command) entry(command[1] as string).commands.add(command[2] as string);
    }
  }
  const unread = [...withCode].filter((pkg) => !byPackage.has(pkg));
  if (unread.length > 0) throw new Error(`${unread.join(', ')}: code in the bundle but no client class nor command module (a CommonJS build?)`);
  return [...byPackage.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([pkg, found]) => {
      if (!found.client) throw new Error(`${pkg}: the bundle holds commands (${[...found.commands].join(', ')}) but no client class`);
      if (found.commands.size === 0) throw new Error(`${pkg}: the bundle holds ${found.client} but no command`);
      return { package: pkg, client: found.client, commands: [...found.commands].sort() };
    });
}

/** One key per distinct set of clients and commands: functions with equal keys share a floor. */
export const floorKey = (clients: readonly SdkClientUse[]): string => clients.map((c) => `${c.package}:${c.commands.join(',')}`).join(' ');

/**
 * The floor's source: imports exactly `clients` and their commands, and a `handler` that builds each client
 * (baseClientConfig, as the functions do) and sends commands as its event asks. The command classes sit in a
 * table the handler reads, so esbuild keeps every one of them, and nothing runs at import beyond the SDK's own
 * module code (the functions build their clients on first use too).
 */
export function floorSource(clients: readonly SdkClientUse[]): string {
  const imports = clients.map((c) => `import { ${[c.client, ...c.commands].join(', ')} } from ${JSON.stringify(c.package)};`);
  const table = clients.map((c) => `  ${c.client}: { Client: ${c.client}, commands: { ${c.commands.join(', ')} } },`);
  return `${imports.join('\n')}
import { baseClientConfig } from ${JSON.stringify(join(ROOT, 'shared', 'aws', 'client-options.ts'))};

// biome-ignore lint/suspicious/noExplicitAny: generated; each entry holds one SDK client class and its commands
const SDK: Record<string, { Client: any; commands: Record<string, any> }> = {
${table.join('\n')}
};
// biome-ignore lint/suspicious/noExplicitAny: generated
const built = new Map<string, any>();

export async function handler(event: { region?: string; endpoint?: string; steps?: { client: string; command: string; input: unknown }[][] } | undefined) {
  const outputs: unknown[] = [];
  for (const step of event?.steps ?? []) {
    outputs.push(
      ...(await Promise.all(
        step.map((call) => {
          const sdk = SDK[call.client];
          const Command = sdk?.commands[call.command];
          if (!sdk || !Command) throw new Error(\`the SDK floor holds no \${call.client}.\${call.command}\`);
          let client = built.get(call.client);
          if (!client) {
            client = new sdk.Client(baseClientConfig({ region: event?.region ?? process.env.AWS_REGION ?? 'us-east-1', endpoint: event?.endpoint, readOnly: false }));
            built.set(call.client, client);
          }
          return client.send(new Command(call.input));
        }),
      )),
    );
  }
  return outputs;
}
`;
}

/** Builds `source` (TypeScript, resolved from the project root) into `outfile` with the functions' esbuild options. */
export async function buildLike(source: string, outfile: string, extraPlugins: readonly Plugin[] = []): Promise<Metafile> {
  const options = lambdaBuildOptions();
  mkdirSync(dirname(outfile), { recursive: true });
  const result = await build({
    ...options,
    plugins: [...extraPlugins, ...(options.plugins ?? [])],
    stdin: { contents: source, resolveDir: ROOT, sourcefile: 'sdk-floor.ts', loader: 'ts' },
    outfile,
    outExtension: undefined,
    metafile: true,
  });
  return result.metafile;
}

/** Rebuilds a function's entry as serverless-esbuild does (same options, its own outdir) and returns the metafile. */
export async function functionMetafile(entry: string, outDir: string, extraPlugins: readonly Plugin[] = []): Promise<{ metafile: Metafile; bundle: string }> {
  const options = lambdaBuildOptions();
  const outdir = join(outDir, dirname(entry));
  const result = await build({ ...options, plugins: [...extraPlugins, ...(options.plugins ?? [])], entryPoints: [`${entry}.ts`], outdir, metafile: true });
  const extension = (options.outExtension as Record<string, string> | undefined)?.['.js'] ?? '.js';
  return { metafile: result.metafile, bundle: join(outdir, `${entry.split('/').at(-1)}${extension}`) };
}

export interface FunctionFloor extends SdkFloor {
  readonly function: string;
}

/**
 * Per artifact, its SDK floor, built under `outDir`: the function's entry is rebuilt for its metafile (and held
 * to the packaged handler's size), its clients and commands read from it, and one floor built per distinct set.
 * Returns the floors in `artifacts` order.
 */
export async function buildSdkFloors(artifacts: readonly Artifact[], outDir: string): Promise<FunctionFloor[]> {
  // esbuild builds in its own process on every core: starting them together is faster than one after another.
  const used = await Promise.all(
    artifacts.map(async (artifact) => {
      const { metafile, bundle } = await functionMetafile(artifact.entry, join(outDir, 'rebuilt', artifact.name));
      const bytes = readFileSync(bundle).length;
      if (bytes !== artifact.handlerBytes)
        throw new Error(
          `${artifact.name}: rebuilt with serverless.yml's esbuild options it is ${bytes} bytes, packaged ${artifact.handlerBytes}: not the same bundle (sources edited since packaging?)`,
        );
      return sdkClientsOf(metafile);
    }),
  );
  const distinct = new Map<string, { clients: SdkClientUse[]; functions: string[] }>();
  artifacts.forEach((artifact, index) => {
    const clients = used[index] as SdkClientUse[];
    const key = floorKey(clients);
    const known = distinct.get(key);
    if (known) known.functions.push(artifact.name);
    else distinct.set(key, { clients, functions: [artifact.name] });
  });
  const floors = new Map<string, SdkFloor>();
  await Promise.all(
    [...distinct.entries()].map(async ([key, { clients, functions }], index) => {
      const path = join(outDir, 'floors', `floor-${index + 1}`, 'handler.mjs');
      await buildLike(floorSource(clients), path);
      floors.set(key, { path, clients, functions });
    }),
  );
  return artifacts.map((artifact, index) => ({ function: artifact.name, ...(floors.get(floorKey(used[index] as SdkClientUse[])) as SdkFloor) }));
}

/** A plugin that resolves `specifier` to a module exporting `names` as inert classes: to measure a client's import cost. */
export function stubModule(specifier: string, names: readonly string[]): Plugin {
  const filter = new RegExp(`^${specifier.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`);
  return {
    name: `stub-${specifier}`,
    setup(build) {
      build.onResolve({ filter }, () => ({ path: specifier, namespace: 'bench-stub' }));
      build.onLoad({ filter: /.*/, namespace: 'bench-stub' }, () => ({
        contents: names.map((name) => `export class ${name} { constructor() { throw new Error('${name} is stubbed out (bench)'); } }`).join('\n'),
        loader: 'js',
      }));
    },
  };
}

/** Writes the floors' description next to them (for H1b's first-event measure and for reading by hand). */
export function writeFloorIndex(floors: readonly FunctionFloor[], outDir: string): void {
  writeFileSync(join(outDir, 'floors.json'), `${JSON.stringify(floors, null, 2)}\n`);
}
