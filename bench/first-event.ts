// Init + first event: wall-clock from spawn to exit of a fresh `node` that imports a handler and handles one
// event in live mode, with the real SDK signing, sending and parsing over HTTP against a local fake endpoint
// (bench/fake-endpoint.ts, in this process), next to the function's SDK floor (bench/sdk-floor.ts) making the
// same calls: same clients, same commands, same inputs, same endpoint, same answers. The calls are the function's
// own for its bench sample (functions/<rule>/bench.json), recorded once in-process (bench/first-event-record.ts).
// Rounds are interleaved (floor, function) as in bench/cold.ts, so machine noise hits both alike.
//
// The live configuration's reads (and the store-change alert's GetParameter) are hand-written signed HTTP calls
// (shared/live-config/ssm-reader.ts), counted as the function's own. The floor makes them too, as the same kind of
// request (SignatureV4 + NodeHttpHandler, awsJson1_1): a variant of the SDK floor built here (withRawSsm).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';
import { type Artifact, ROOT } from './artifacts.js';
import { startFakeEndpoint, type FakeEndpoint, type ScriptedAnswer } from './fake-endpoint.js';
import type { FirstEventRecording, RecordedCall, RuleRecording } from './first-event-record.js';
import { buildLike, floorSource, type FunctionFloor } from './sdk-floor.js';
import { round, spread, type Spread } from './stats.js';

/** Targets (issue 21): init + first event ≤ 1.10× the floor's, peak RSS ≤ the floor's + 3 MiB. */
export const FIRST_EVENT_TARGETS = { ratio: 1.1, rssMiB: 3 } as const;

/** A child's time limit: the functions' own (serverless.yml `timeout: 30`). */
export const CHILD_TIMEOUT_MS = 30_000;
/** The recording child's limit: it imports every handler through tsx. */
const RECORD_TIMEOUT_MS = 120_000;

/** The children's environment besides the function's: bench/cold.ts's (the deployed NODE_OPTIONS, nothing inherited). */
const BASE_ENV = { PATH: process.env.PATH ?? '', NODE_OPTIONS: '--enable-source-maps', TZ: 'UTC', AWS_REGION: 'us-east-1' };

/** What the child prints last, after the function's own log lines. */
const MARK = 'first-event-result ';

/**
 * The child, for the function and the floor alike: import the module, read and parse the event file, handle it
 * once, print the result and peak RSS, exit. A floor event (bench/sdk-floor.ts FloorEvent) is sent one step per
 * handler call, each step's error answers caught and named: the recorded calls include errors (a missing Block
 * Public Access configuration) that the function handles and the floor's handler would stop at.
 * Peak RSS is the child's VmHWM: resourceUsage().maxRSS keeps, across exec, the high-water mark of the parent's
 * copy the child was forked from, so it reports the bench's own size whenever that is the larger.
 */
const DRIVER = `import { readFileSync } from 'node:fs';
const [module, eventFile] = process.argv.slice(1);
const { handler } = await import(module);
const event = JSON.parse(readFileSync(eventFile, 'utf8'));
const context = { awsRequestId: '00000000-0000-4000-8000-0000000f1257', functionName: 'trailguard-dev-first-event', getRemainingTimeInMillis: () => ${CHILD_TIMEOUT_MS}, callbackWaitsForEmptyEventLoop: true };
let outcome;
if (Array.isArray(event.steps)) {
  let answers = 0;
  const errors = [];
  for (const step of event.steps) {
    try {
      answers += (await handler({ ...event, steps: [step] }, context)).length;
    } catch (error) {
      errors.push(String(error?.name));
    }
  }
  outcome = answers + ' answers' + (errors.length ? ', errors ' + errors.join(',') : '');
} else {
  try {
    outcome = (await handler(event, context))?.outcome;
  } catch (error) {
    outcome = 'threw ' + String(error?.name) + ': ' + String(error?.message).slice(0, 200);
  }
}
const cpu = process.cpuUsage();
let peakKiB = process.resourceUsage().maxRSS;
try {
  peakKiB = Number(/^VmHWM:\\s*(\\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
} catch {}
process.stdout.write('\\n${MARK}' + JSON.stringify({ outcome: String(outcome), peakRssKiB: peakKiB, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\\n');
process.exit(0);
`;

export interface ChildRun {
  readonly ms: number;
  readonly outcome: string;
  readonly peakRssKiB: number;
  /** The child's CPU time (user + system, all threads, from fork): less sensitive than wall time to a loaded machine. */
  readonly cpuMs: number;
}

/** Spawns the driver on `module` and `eventFile`; resolves with its spawn → exit time and what it printed. */
export function runChild(module: string, eventFile: string, env: Record<string, string>, timeoutMs = CHILD_TIMEOUT_MS): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    let exitedAt = start;
    const child = spawn(process.execPath, ['--input-type=module', '-e', DRIVER, pathToFileURL(module).href, eventFile], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('exit', () => {
      exitedAt = process.hrtime.bigint();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = Number(exitedAt - start) / 1e6;
      if (signal) return reject(new Error(`killed by ${signal}${ms >= timeoutMs ? ` at its ${timeoutMs / 1000} s timeout` : ''}`));
      const line = Buffer.concat(out)
        .toString('utf8')
        .split('\n')
        .findLast((l) => l.startsWith(MARK));
      if (code !== 0 || !line) return reject(new Error(`exited ${code}: ${Buffer.concat(err).toString('utf8').slice(-600)}`));
      const printed = JSON.parse(line.slice(MARK.length)) as Omit<ChildRun, 'ms'>;
      resolve({ ms, ...printed });
    });
  });
}

/** Runs bench/first-event-record.ts (through tsx) for `rules`: every function's calls, inputs and answers. */
export function recordCalls(rules: readonly string[]): FirstEventRecording {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/first-event-record.ts', ...rules], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: RECORD_TIMEOUT_MS,
  });
  if (run.error || run.status !== 0)
    throw new Error(`bench/first-event-record.ts ${run.error ? `failed: ${run.error.message}` : `exited ${run.status}`}:\n${run.stderr.slice(-2000)}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '') as FirstEventRecording;
}

/** The client name a hand-written SSM call has in the floor's event (withRawSsm), its command the operation. */
export const RAW_SSM = 'RawSsm';

/** The floor's event (bench/sdk-floor.ts FloorEvent): the recorded calls, step by step; a hand-written SSM call as RAW_SSM. */
export function floorEvent(calls: readonly RecordedCall[], endpoint: string, region: string) {
  const steps: { client: string; command: string; input: unknown }[][] = [];
  let last: number | undefined;
  for (const call of calls) {
    if (call.step !== last) steps.push([]);
    last = call.step;
    steps
      .at(-1)
      ?.push(
        call.raw
          ? { client: RAW_SSM, command: call.operation, input: call.input }
          : { client: call.client ?? '', command: call.command ?? '', input: call.input },
      );
  }
  return { region, endpoint, steps };
}

/** What the floor child must print: its answers and the recorded error answers, by name. */
export function floorOutcome(calls: readonly RecordedCall[]): string {
  const errors = calls.flatMap((call) => ('error' in call.answer ? [call.answer.error.name] : []));
  return `${calls.length - errors.length} answers${errors.length ? `, errors ${errors.join(',')}` : ''}`;
}

/** The module id under which withRawSsm's source imports the SDK floor's. */
const SDK_FLOOR_MODULE = 'trailguard-bench:sdk-floor';

/**
 * The SDK floor's source with the hand-written SSM request the functions make (shared/live-config/ssm-reader.ts's
 * attempt: the same signer, request, HTTP handler, hash and credentials, without its retries and checks): each
 * step's RAW_SSM calls go out beside its SDK calls, which the SDK floor's own handler sends.
 */
export function withRawSsm(): string {
  return `import { createHash, createHmac } from 'node:crypto';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { HttpRequest } from '@smithy/core/protocols';
import { NodeHttpHandler, streamCollector } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import { handler as sdkHandler } from ${JSON.stringify(SDK_FLOOR_MODULE)};

const bytesOf = (data) => (typeof data === 'string' ? data : new Uint8Array(data.buffer ?? data, data.byteOffset ?? 0, data.byteLength));
class Sha256 {
  constructor(secret) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data) {
    this.hash.update(bytesOf(data));
  }
  async digest() {
    return new Uint8Array(this.hash.digest());
  }
}
let signer;
let http;

async function rawSsm(event, operation, input) {
  const url = new URL(event.endpoint);
  signer ??= new SignatureV4({ service: 'ssm', region: event.region, credentials: fromEnv(), sha256: Sha256 });
  http ??= new NodeHttpHandler({ connectionTimeout: 1000, requestTimeout: 4000, throwOnRequestTimeout: true });
  const body = JSON.stringify(input);
  const request = new HttpRequest({
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    method: 'POST',
    path: '/',
    headers: { host: url.host, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonSSM.' + operation, 'content-length': String(Buffer.byteLength(body)) },
    body,
  });
  const { response } = await http.handle(await signer.sign(request));
  const text = Buffer.from(await streamCollector(response.body)).toString('utf8');
  if (response.statusCode >= 300) throw Object.assign(new Error(text), { name: JSON.parse(text).__type });
  return JSON.parse(text);
}

export async function handler(event) {
  const outputs = [];
  for (const step of event?.steps ?? []) {
    const raw = step.filter((call) => call.client === ${JSON.stringify(RAW_SSM)});
    const sdk = step.filter((call) => call.client !== ${JSON.stringify(RAW_SSM)});
    const [sdkOutputs, ...rawOutputs] = await Promise.all([
      sdk.length > 0 ? sdkHandler({ ...event, steps: [sdk] }) : [],
      ...raw.map((call) => rawSsm(event, call.command, call.input)),
    ]);
    outputs.push(...sdkOutputs, ...rawOutputs);
  }
  return outputs;
}
`;
}

/** Resolves SDK_FLOOR_MODULE to the SDK floor's source for `floor` (resolved from the project root). */
const sdkFloorModule = (floor: Pick<FunctionFloor, 'clients'>): Plugin => ({
  name: 'first-event-sdk-floor',
  setup(build) {
    build.onResolve({ filter: /^trailguard-bench:sdk-floor$/ }, () => ({ path: SDK_FLOOR_MODULE, namespace: 'first-event' }));
    build.onLoad({ filter: /.*/, namespace: 'first-event' }, () => ({ contents: floorSource(floor.clients), loader: 'ts', resolveDir: ROOT }));
  },
});

/** Builds, per distinct SDK floor, its variant that also makes the hand-written SSM calls; by floor path. */
export async function buildRawSsmFloors(floors: readonly FunctionFloor[], outDir: string): Promise<Map<string, string>> {
  const distinct = [...new Map(floors.map((floor) => [floor.path, floor])).values()];
  // In parallel, as serverless-esbuild builds the functions (the same options and plugins).
  const paths = await Promise.all(
    distinct.map(async (floor, index) => {
      const path = join(outDir, `floor-${index + 1}`, 'handler.mjs');
      await buildLike(withRawSsm(), path, [sdkFloorModule(floor)]);
      return path;
    }),
  );
  return new Map(distinct.map((floor, index) => [floor.path, paths[index] as string]));
}

/** The floor's missing clients or commands for the recorded calls (none: it can make them all). */
export function missingFromFloor(calls: readonly RecordedCall[], floor: Pick<FunctionFloor, 'clients'>): string[] {
  const missing = calls.filter((call) => !call.raw && !floor.clients.some((c) => c.client === call.client && c.commands.includes(call.command ?? '')));
  return [...new Set(missing.map((call) => `${call.client}.${call.command}`))];
}

const script = (calls: readonly RecordedCall[]): ScriptedAnswer[] => calls.map(({ service, operation, answer }) => ({ service, operation, answer }));

export interface FirstEventRow {
  readonly name: string;
  readonly rule: string;
  readonly sample: string;
  /** The function's calls: through SDK clients, and hand-written SSM calls (the floor makes both). */
  readonly sdkCalls: number;
  readonly rawCalls: number;
  readonly floor: Spread;
  readonly bundled: Spread;
  readonly ratio: number;
  /** CPU time of the same children (context, no target): median ms of each, and their ratio. */
  readonly floorCpuMs: number;
  readonly bundledCpuMs: number;
  readonly cpuRatio: number;
  /** Peak RSS, MiB (median over the rounds; the child's own `maxRSS`). */
  readonly floorRssMiB: number;
  readonly bundledRssMiB: number;
  readonly rssDeltaMiB: number;
  /** The outcome the function reached (every round), and the one it must reach. */
  readonly outcome: string;
  readonly expected: string;
  /** Why the row is not a valid measurement (empty: valid). */
  readonly problems: readonly string[];
  readonly timeVerdict: 'MET' | 'MISSED' | 'INVALID';
  readonly rssVerdict: 'MET' | 'MISSED' | 'INVALID';
}

export interface FirstEventResult {
  readonly rounds: number;
  readonly warmup: number;
  readonly targets: typeof FIRST_EVENT_TARGETS;
  readonly rows: readonly FirstEventRow[];
  readonly notes: readonly string[];
}

interface Target {
  readonly artifact: Artifact;
  readonly recording: RuleRecording;
  readonly floor: FunctionFloor | undefined;
  /** The floor child's module: the SDK floor's variant with the hand-written SSM calls. */
  readonly floorModule: string;
  readonly floorFile: string;
  readonly samples: { floor: ChildRun[]; bundled: ChildRun[] };
  readonly problems: string[];
}

const MIB = 1024;

/**
 * Measures every event-triggered function of `artifacts` (functions/<rule>/handler) against its floor in
 * `floors` (bench/sdk-floor.ts buildSdkFloors): `warmup` discarded rounds, then `rounds` measured ones, each
 * timing floor then function for every function. A row whose function did not reach its expected outcome, whose
 * calls differed from the recording, or whose floor could not make them, is INVALID and says why.
 */
export async function measureFirstEvent(
  artifacts: readonly Artifact[],
  floors: readonly FunctionFloor[],
  rounds: number,
  log: (text: string) => void = () => undefined,
  warmup = 1,
): Promise<FirstEventResult> {
  const handlers = artifacts.filter((a) => a.entry === `functions/${a.rule}/handler`);
  log(`first event: recording the calls of ${handlers.length} functions`);
  const recorded = recordCalls(handlers.map((a) => a.rule));
  const work = mkdtempSync(join(tmpdir(), 'trailguard-first-event-'));
  let endpoint: FakeEndpoint | undefined;
  try {
    const floorModules = await buildRawSsmFloors(
      floors.filter((f) => handlers.some((a) => a.name === f.function)),
      join(work, 'floors'),
    );
    const server = await startFakeEndpoint();
    endpoint = server;
    const env = { ...BASE_ENV, ...recorded.env, AWS_ENDPOINT_URL: server.url };
    const targets: Target[] = handlers.map((artifact) => {
      const recording = recorded.rules.find((r) => r.rule === artifact.rule);
      if (!recording) throw new Error(`bench/first-event-record.ts recorded nothing for ${artifact.rule}`);
      const floor = floors.find((f) => f.function === artifact.name);
      const problems: string[] = [];
      if (!floor) problems.push('no SDK floor was built for it');
      else for (const missing of missingFromFloor(recording.calls, floor)) problems.push(`its SDK floor holds no ${missing}`);
      if (recording.outcome !== recording.expected) problems.push(`in-process it ended ${recording.outcome}, not ${recording.expected}`);
      const floorFile = join(work, `${artifact.name}.floor-event.json`);
      writeFileSync(floorFile, JSON.stringify(floorEvent(recording.calls, server.url, env.AWS_REGION)));
      return {
        artifact,
        recording,
        floor,
        floorModule: floor ? (floorModules.get(floor.path) ?? '') : '',
        floorFile,
        samples: { floor: [], bundled: [] },
        problems,
      };
    });
    const measure = async (target: Target, which: 'floor' | 'bundled'): Promise<ChildRun | undefined> => {
      const { recording } = target;
      server.serve(script(recording.calls));
      let run: ChildRun | undefined;
      try {
        run =
          which === 'floor'
            ? await runChild(target.floorModule, target.floorFile, env)
            : await runChild(target.artifact.handlerPath, join(ROOT, recording.event), env);
      } catch (error) {
        target.problems.push(`the ${which} child failed: ${(error as Error).message}`);
      }
      const session = server.finish();
      const expected = which === 'floor' ? floorOutcome(recording.calls) : recording.expected;
      if (run && run.outcome !== expected) target.problems.push(`the ${which} child ended "${run.outcome}", not "${expected}"`);
      if (session.unexpected.length > 0) target.problems.push(`the ${which} child made calls not recorded: ${session.unexpected.join('; ')}`);
      if (session.missing.length > 0) target.problems.push(`the ${which} child did not make recorded calls: ${session.missing.join(', ')}`);
      return run;
    };
    for (let r = 0; r < warmup + rounds; r += 1) {
      for (const target of targets) {
        // A row that already failed is not run again: its children would fail the same way, each up to its timeout.
        if (target.problems.length > 0) continue;
        const floor = await measure(target, 'floor');
        const bundled = await measure(target, 'bundled');
        if (r < warmup || !floor || !bundled) continue;
        target.samples.floor.push(floor);
        target.samples.bundled.push(bundled);
      }
      log(`first event: round ${r + 1}/${warmup + rounds}${r < warmup ? ' (warm-up)' : ''}`);
    }
    return {
      rounds,
      warmup,
      targets: FIRST_EVENT_TARGETS,
      rows: targets.map(row),
      notes: [
        "The hand-written SSM calls (the live configuration's reads, the store-change alert's GetParameter) are the function's own: the floor makes them as the same signed awsJson request, beside the SDK floor's calls.",
        'The floor builds each client once, in AWS_REGION; the function signs its rule calls for the Region of the event.',
        "Answers: the in-process fake world's (bench/fake-aws.ts), recorded once and served over HTTP to both children (bench/fake-endpoint.ts).",
      ],
    };
  } finally {
    await endpoint?.close();
    rmSync(work, { recursive: true, force: true });
  }
}

const medianOf = (values: readonly number[]): number => (values.length === 0 ? Number.NaN : spread(values).median);

function row(target: Target): FirstEventRow {
  const { artifact, recording, samples, problems } = target;
  const valid = problems.length === 0 && samples.floor.length > 0;
  const empty: Spread = { n: 0, median: Number.NaN, p10: Number.NaN, p90: Number.NaN };
  const floor = samples.floor.length > 0 ? spread(samples.floor.map((s) => s.ms)) : empty;
  const bundled = samples.bundled.length > 0 ? spread(samples.bundled.map((s) => s.ms)) : empty;
  const floorRssMiB = medianOf(samples.floor.map((s) => s.peakRssKiB)) / MIB;
  const bundledRssMiB = medianOf(samples.bundled.map((s) => s.peakRssKiB)) / MIB;
  const ratio = bundled.median / floor.median;
  const floorCpuMs = medianOf(samples.floor.map((s) => s.cpuMs));
  const bundledCpuMs = medianOf(samples.bundled.map((s) => s.cpuMs));
  const rssDeltaMiB = bundledRssMiB - floorRssMiB;
  const verdict = (met: boolean) => (!valid ? 'INVALID' : met ? 'MET' : 'MISSED');
  return {
    name: artifact.name,
    rule: artifact.rule,
    sample: recording.sample,
    sdkCalls: recording.calls.filter((c) => !c.raw).length,
    rawCalls: recording.calls.filter((c) => c.raw).length,
    floor,
    bundled,
    ratio: round(ratio, 3),
    floorCpuMs: round(floorCpuMs, 1),
    bundledCpuMs: round(bundledCpuMs, 1),
    cpuRatio: round(bundledCpuMs / floorCpuMs, 3),
    floorRssMiB: round(floorRssMiB, 1),
    bundledRssMiB: round(bundledRssMiB, 1),
    rssDeltaMiB: round(rssDeltaMiB, 1),
    outcome: samples.bundled.at(-1)?.outcome ?? recording.outcome,
    expected: recording.expected,
    problems,
    timeVerdict: verdict(ratio <= FIRST_EVENT_TARGETS.ratio),
    rssVerdict: verdict(rssDeltaMiB <= FIRST_EVENT_TARGETS.rssMiB),
  };
}

function table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [head, ...rows].map((cells) => cells.map(String));
  const widths = head.map((_, i) => Math.max(...cells.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(cells[0] ?? []), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

/** The report section: one row per function, then why any row is invalid, then the notes. */
export function firstEventReport(result: FirstEventResult): string {
  const ms = (s: Spread) => (s.n === 0 ? '–' : `${s.median.toFixed(1)} (${s.p10.toFixed(1)}–${s.p90.toFixed(1)})`);
  const out: string[] = [];
  out.push(
    `\n\nInit + first event (live, real SDK over HTTP to a local fake endpoint), ms from spawn to exit, median (p10–p90), N=${result.rounds} interleaved rounds (+${result.warmup} warm-up); target ≤ ${result.targets.ratio.toFixed(2)}× the SDK floor making the same calls, peak RSS ≤ floor + ${result.targets.rssMiB} MiB\n`,
  );
  out.push(
    table(
      [
        'function',
        'calls (sdk+ssm)',
        'SDK floor',
        'bundled',
        'ratio',
        'CPU ms floor/bundled',
        'RSS floor MiB',
        'RSS bundled',
        'Δ MiB',
        'outcome',
        'time',
        'RSS',
      ],
      result.rows.map((r) => [
        r.name,
        `${r.sdkCalls}+${r.rawCalls}`,
        ms(r.floor),
        ms(r.bundled),
        Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : '–',
        Number.isFinite(r.cpuRatio) ? `${r.floorCpuMs.toFixed(0)}/${r.bundledCpuMs.toFixed(0)} = ${r.cpuRatio.toFixed(2)}×` : '–',
        Number.isFinite(r.floorRssMiB) ? r.floorRssMiB.toFixed(1) : '–',
        Number.isFinite(r.bundledRssMiB) ? r.bundledRssMiB.toFixed(1) : '–',
        Number.isFinite(r.rssDeltaMiB) ? `${r.rssDeltaMiB >= 0 ? '+' : ''}${r.rssDeltaMiB.toFixed(1)}` : '–',
        r.outcome === r.expected ? r.outcome : `${r.outcome} (expected ${r.expected})`,
        r.timeVerdict,
        r.rssVerdict,
      ]),
    ),
  );
  const invalid = result.rows.filter((r) => r.problems.length > 0);
  if (invalid.length > 0) out.push(`\nINVALID rows:\n${invalid.map((r) => `  ${r.name}: ${r.problems.join('; ')}`).join('\n')}`);
  out.push(`\n${result.notes.map((note) => `  ${note}`).join('\n')}\n`);
  return out.join('');
}
