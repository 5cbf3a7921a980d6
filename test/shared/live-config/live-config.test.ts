import { describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../../shared/config.js';
import { AwsCallError } from '../../../shared/errors.js';
import { exemptionParameter, rulesParameter } from '../../../shared/live-config/layout.js';
import { CONFIG_READ_FAILED_MESSAGE, CONFIG_REJECTED_MESSAGE, liveConfigSource, type LiveConfigDeps } from '../../../shared/live-config/live-config.js';
import type { RejectionNotice } from '../../../shared/live-config/rejection.js';
import type { ParameterReader, StoredParameter } from '../../../shared/live-config/ssm-reader.js';

const PREFIX = '/trailguard/test';
const RULES = rulesParameter(PREFIX);
const base = (overrides: Record<string, unknown> = {}): Config => parseConfig({ parameterPrefix: PREFIX, configMaxAgeSeconds: 60, ...overrides });

/** An in-memory Parameter Store with versions, and a switch that makes every read fail. */
function fakeStore() {
  const parameters = new Map<string, StoredParameter>();
  let failure: Error | undefined;
  const calls: string[] = [];
  const reader: ParameterReader = {
    async getParameters(names) {
      calls.push(`get:${names.join(',')}`);
      if (failure) throw failure;
      return { found: names.flatMap((n) => parameters.get(n) ?? []), missing: names.filter((n) => !parameters.has(n)) };
    },
    async getParametersByPath(path) {
      calls.push(`path:${path}`);
      if (failure) throw failure;
      return [...parameters.values()].filter((p) => p.name.startsWith(`${path}/`) && !p.name.slice(path.length + 1).includes('/'));
    },
  };
  return {
    reader,
    calls,
    put(name: string, value: unknown) {
      const version = (parameters.get(name)?.version ?? 0) + 1;
      parameters.set(name, { name, value: typeof value === 'string' ? value : JSON.stringify(value), version });
    },
    remove(name: string) {
      parameters.delete(name);
    },
    fail(error: Error | undefined) {
      failure = error;
    },
  };
}

function harness(config = base(), ruleOverrides: LiveConfigDeps['ruleOverrides'] = []) {
  const store = fakeStore();
  const lines: { level: string; message: string; fields: Record<string, unknown> }[] = [];
  const notices: RejectionNotice[] = [];
  const source = liveConfigSource(config, 'public-bucket', {
    reader: store.reader,
    logger: {
      error: (message, fields = {}) => lines.push({ level: 'ERROR', message, fields }),
      warn: (message, fields = {}) => lines.push({ level: 'WARN', message, fields }),
    },
    notifyRejection: async (notice) => {
      notices.push(notice);
    },
    ruleOverrides,
  });
  return { store, lines, notices, source };
}

const exemption = (resource: string, extra: Record<string, unknown> = {}) => ({ resource, reason: 'website', ...extra });

describe('liveConfigSource', () => {
  it('reads the rules and both exemption folders of its rule, and merges env exemptions first', async () => {
    const { store, source } = harness(base({ exemptions: [{ rule: 'public-bucket', resource: 'env-bucket', reason: 'env' }] }));
    store.put(RULES, { 'public-bucket': { enabled: false } });
    store.put(exemptionParameter(PREFIX, 'public-bucket', 'example-site'), exemption('example-site', { expires: '2030-01-01' }));
    store.put(exemptionParameter(PREFIX, '*', 'example-shared-*'), exemption('example-shared-*'));
    store.put(exemptionParameter(PREFIX, 'open-security-group', 'sg-1'), exemption('sg-1'));

    const config = await source.read(0);

    expect(config.rules['public-bucket'].enabled).toBe(false);
    expect(config.rules['open-security-group'].enabled).toBe(true);
    expect(config.exemptions).toEqual([
      { rule: 'public-bucket', resource: 'env-bucket', reason: 'env' },
      { rule: 'public-bucket', resource: 'example-site', reason: 'website', expires: '2030-01-01' },
      { rule: '*', resource: 'example-shared-*', reason: 'website' },
    ]);
    expect([...store.calls].sort()).toEqual([`get:${RULES}`, `path:${PREFIX}/exemptions/all`, `path:${PREFIX}/exemptions/public-bucket`]);
  });

  it("lets a rule named in TRAILGUARD_RULES replace that rule's stored settings wholesale, and only that rule", async () => {
    const env = base({ rules: { 'open-security-group': { allowedWorldPorts: [] } } });
    const { store, source } = harness(env, ['open-security-group']);
    store.put(RULES, { 'open-security-group': { enabled: false, allowedWorldPorts: [{ protocol: 'tcp', port: 22 }] }, 'public-bucket': { enabled: false } });

    const config = await source.read(0);

    expect(config.rules['open-security-group']).toEqual(env.rules['open-security-group']);
    expect(config.rules['open-security-group'].enabled).toBe(true);
    expect(config.rules['public-bucket'].enabled).toBe(false);
  });

  it('reuses what it read within configMaxAgeSeconds, and reads again after', async () => {
    const { store, source } = harness();
    store.put(RULES, {});
    await source.read(0);
    const name = exemptionParameter(PREFIX, 'public-bucket', 'example-new');
    store.put(name, exemption('example-new'));

    expect((await source.read(59_999)).exemptions).toEqual([]);
    expect(store.calls).toHaveLength(3);
    expect((await source.read(60_000)).exemptions.map((e) => e.resource)).toEqual(['example-new']);
    expect(store.calls).toHaveLength(6);
  });

  it('reads on every invocation with configMaxAgeSeconds 0', async () => {
    const { store, source } = harness(base({ configMaxAgeSeconds: 0 }));
    await source.read(0);
    await source.read(0);
    expect(store.calls).toHaveLength(6);
  });

  it('keeps the last good version of a bad exemption, logs it once per version, and notifies it once', async () => {
    const { store, source, lines, notices } = harness(base({ configMaxAgeSeconds: 0 }));
    const name = exemptionParameter(PREFIX, 'public-bucket', 'example-site');
    store.put(name, exemption('example-site'));
    await source.read(0);
    store.put(name, { resource: 'example-site', reason: 'x', expires: 'soon' });

    const first = await source.read(1);
    const second = await source.read(2);

    for (const config of [first, second]) expect(config.exemptions.map((e) => e.resource)).toEqual(['example-site']);
    const rejected = lines.filter((l) => l.message === CONFIG_REJECTED_MESSAGE);
    expect(rejected).toEqual([
      {
        level: 'ERROR',
        message: CONFIG_REJECTED_MESSAGE,
        fields: { key: name, version: 2, problem: 'expires: expected YYYY-MM-DD', inForce: 'its last good version stays in force' },
      },
    ]);
    expect(notices).toEqual([{ parameter: name, version: 2, problem: 'expires: expected YYYY-MM-DD', inForce: 'its last good version stays in force' }]);
  });

  it('leaves out a bad exemption it never saw good (the rule acts), and takes its next good version', async () => {
    const { store, source, lines } = harness(base({ configMaxAgeSeconds: 0 }));
    const name = exemptionParameter(PREFIX, '*', 'example-site');
    store.put(name, '{"resource": "example-site"');
    store.put(exemptionParameter(PREFIX, 'public-bucket', 'example-other'), exemption('example-other'));

    expect((await source.read(0)).exemptions.map((e) => e.resource)).toEqual(['example-other']);
    expect(lines[0]?.fields).toMatchObject({ key: name, problem: 'not valid JSON', inForce: 'left out: the rule acts on that resource' });

    store.put(name, exemption('example-site'));
    expect((await source.read(1)).exemptions.map((e) => e.resource)).toEqual(['example-other', 'example-site']);
  });

  it('never puts the stored value in the problem: an unknown key is named safely, a wrong type by what was expected', async () => {
    const { store, source, lines } = harness(base({ configMaxAgeSeconds: 0 }));
    store.put(exemptionParameter(PREFIX, 'public-bucket', 'a'), { resource: 'a', reason: 'r', 'evil\nkey SECRET': 1 });
    store.put(exemptionParameter(PREFIX, 'public-bucket', 'b'), { resource: 'b', reason: 'SECRET-REASON'.repeat(100) });
    store.put(RULES, { 'open-security-group': { allowedWorldPorts: [{ protocol: 'tcp', port: 'SECRET-PORT' }] } });

    await source.read(0);

    const problems = lines.map((l) => String(l.fields.problem));
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).not.toContain('SECRET-');
    expect(problems.join('\n')).not.toContain('\n ');
    expect(problems).toContain('evil?key?SECRET: unknown key');
    expect(problems).toContain('open-security-group.allowedWorldPorts.0.port: invalid number, expected number');
  });

  it('keeps the last good rules when the rules value goes bad, and the env rules when it was never good', async () => {
    const fresh = harness(base({ configMaxAgeSeconds: 0 }));
    fresh.store.put(RULES, { 'no-such-rule': {} });
    expect((await fresh.source.read(0)).rules['public-bucket'].enabled).toBe(true);
    expect(fresh.lines[0]?.fields).toMatchObject({ key: RULES, inForce: "the environment's rule settings stay in force" });

    const { store, source, notices } = harness(base({ configMaxAgeSeconds: 0 }));
    store.put(RULES, { 'public-bucket': { enabled: false } });
    await source.read(0);
    store.put(RULES, 'not json');
    expect((await source.read(1)).rules['public-bucket'].enabled).toBe(false);
    expect(notices).toMatchObject([{ parameter: RULES, version: 2, problem: 'not valid JSON' }]);
  });

  it('drops an exemption whose parameter was deleted', async () => {
    const { store, source } = harness(base({ configMaxAgeSeconds: 0 }));
    const name = exemptionParameter(PREFIX, 'public-bucket', 'example-site');
    store.put(name, exemption('example-site'));
    expect((await source.read(0)).exemptions).toHaveLength(1);
    store.remove(name);
    expect((await source.read(1)).exemptions).toEqual([]);
  });

  it('keeps the last good config on a read failure, warns once per kind, and reads again after the max age', async () => {
    const { store, source, lines } = harness();
    store.put(exemptionParameter(PREFIX, 'public-bucket', 'example-site'), exemption('example-site'));
    await source.read(0);
    store.fail(new AwsCallError('SSM.GetParametersByPath', PREFIX, 'transient', 'ThrottlingException'));

    expect((await source.read(60_000)).exemptions.map((e) => e.resource)).toEqual(['example-site']);
    expect((await source.read(120_000)).exemptions.map((e) => e.resource)).toEqual(['example-site']);
    // Kept for a max age after the failure: no read in between.
    const reads = store.calls.length;
    await source.read(150_000);
    expect(store.calls).toHaveLength(reads);
    const warnings = lines.filter((l) => l.message === CONFIG_READ_FAILED_MESSAGE);
    expect(warnings).toEqual([
      { level: 'WARN', message: CONFIG_READ_FAILED_MESSAGE, fields: expect.objectContaining({ kind: 'transient', code: 'ThrottlingException' }) },
    ]);

    store.fail(undefined);
    store.put(exemptionParameter(PREFIX, 'public-bucket', 'example-two'), exemption('example-two'));
    expect((await source.read(180_000)).exemptions.map((e) => e.resource)).toEqual(['example-site', 'example-two']);
  });

  it('throws a transient AwsCallError on a cold start whose read fails, even when access is denied', async () => {
    const { store, source } = harness();
    store.fail(new AwsCallError('SSM.GetParametersByPath', `${PREFIX}/exemptions/all`, 'denied', 'AccessDeniedException'));

    await expect(source.read(0)).rejects.toMatchObject({
      name: 'AwsCallError',
      kind: 'transient',
      code: 'AccessDeniedException',
      api: 'SSM.GetParametersByPath',
    });

    store.fail(new Error('socket hang up'));
    await expect(source.read(1)).rejects.toMatchObject({ kind: 'transient' });
  });

  it('tries a failed notification again on the next read, logging the rejection only once', async () => {
    const store = fakeStore();
    const lines: string[] = [];
    let attempts = 0;
    const source = liveConfigSource(base({ configMaxAgeSeconds: 0 }), 'public-bucket', {
      reader: store.reader,
      logger: { error: (m) => lines.push(`ERROR ${m}`), warn: (m) => lines.push(`WARN ${m}`) },
      notifyRejection: async () => {
        attempts += 1;
        if (attempts === 1) throw new Error('SNS down');
      },
      ruleOverrides: [],
    });
    store.put(RULES, 'bad');
    await source.read(0);
    await source.read(1);
    await source.read(2);
    expect(attempts).toBe(2);
    expect(lines).toEqual([`ERROR ${CONFIG_REJECTED_MESSAGE}`, 'WARN trailguard config rejection not notified']);
  });
});
