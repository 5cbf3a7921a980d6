import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type Config, type Mode, type RuleId } from '../../shared/config.js';
import type { Notification } from '../../shared/notifier.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import type { AnyRule } from '../../shared/rule.js';
import { run, type RunDeps } from '../../shared/runner/run.js';

export const EVENTS_DIR = join(import.meta.dirname, '..', '..', 'events');

/** The sample file names of a rule (without .json): `<expected offline outcome>.<case>`. */
export function sampleNames(rule: RuleId): string[] {
  return readdirSync(join(EVENTS_DIR, rule))
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.replace(/\.json$/, ''))
    .sort();
}

/** The expected offline outcome a sample's name starts with. */
export function expectedOutcome(name: string): string {
  return name.split('.')[0] ?? '';
}

/** A sample's JSON; a `{"Records": [x]}` log file gives its one record. */
export function loadSample(rule: RuleId, name: string): unknown {
  const value = JSON.parse(readFileSync(join(EVENTS_DIR, rule, `${name}.json`), 'utf8')) as { Records?: unknown[] };
  return Array.isArray(value.Records) ? value.Records[0] : value;
}

/** The config the samples are written against: the same as `config/replay.sample.json`. */
export function sampleConfig(overrides: Record<string, unknown> = {}): Config {
  const base = JSON.parse(readFileSync(join(EVENTS_DIR, '..', 'config', 'replay.sample.json'), 'utf8')) as Record<string, unknown>;
  return parseConfig({ ...base, ...overrides });
}

/** Deps that capture what the runner writes and publishes. */
export interface CapturingDeps extends RunDeps {
  readonly written: RemediationRecord[];
  readonly published: Notification[];
}

export function capturingDeps(options: { mode?: Mode; config?: Config; notify?: RunDeps['notify'] | 'capture' } = {}): CapturingDeps {
  const written: RemediationRecord[] = [];
  const published: Notification[] = [];
  const notify =
    options.notify === undefined || options.notify === 'capture'
      ? async (notification: Notification) => {
          published.push(notification);
          return `message-${published.length}`;
        }
      : options.notify;
  return {
    config: options.config ?? sampleConfig(),
    mode: options.mode ?? 'offline',
    notify,
    write: (record) => written.push(record),
    now: () => Date.parse('2026-11-25T12:00:00Z'),
    written,
    published,
  };
}

/** Runs a sample through the real runner; returns its record and the captured side effects. */
export async function runSample(
  rule: AnyRule,
  name: string,
  options: Parameters<typeof capturingDeps>[0] = {},
): Promise<{ record: RemediationRecord; deps: CapturingDeps }> {
  const deps = capturingDeps(options);
  const record = await run(rule, loadSample(rule.id, name), deps);
  return { record, deps };
}

/** A sample with some fields replaced (deep merge into `detail` for envelopes, the record for bare ones). */
export function withDetail(sample: unknown, patch: Record<string, unknown>): unknown {
  const value = structuredClone(sample) as Record<string, unknown>;
  const detail = (value.detail ?? value) as Record<string, unknown>;
  Object.assign(detail, patch);
  return value;
}
