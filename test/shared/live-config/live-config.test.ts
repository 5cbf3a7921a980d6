import { describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../../shared/config.js';
import { AwsCallError } from '../../../shared/errors.js';
import { exemptionParameter, rulesParameter } from '../../../shared/live-config/layout.js';
import {
  CONFIG_READ_FAILED_MESSAGE,
  CONFIG_REJECTED_MESSAGE,
  liveConfigSource,
  STORE_WATCH_RULE,
  staleLimitMs,
  type LiveConfigDeps,
} from '../../../shared/live-config/live-config.js';
import type { RejectionNotice } from '../../../shared/live-config/rejection.js';
import type { ParameterReader, StoredParameter } from '../../../shared/live-config/ssm-reader.js';

const PREFIX = '/trailguard/test';
const RULES = rulesParameter(PREFIX);
const base = (overrides: Record<string, unknown> = {}): Config => parseConfig({ parameterPrefix: PREFIX, configMaxAgeSeconds: 60, ...overrides });

/** An in-memory Parameter Store with every version (read by `name:N` selectors, as SSM does), and a switch that makes every read fail. */
function fakeStore() {
  const parameters = new Map<string, StoredParameter[]>();
  let failure: Error | undefined;
  const calls: string[] = [];
  const latest = (name: string) => parameters.get(name)?.at(-1);
  const bySelector = (selector: string) => {
    const [name = '', version] = selector.split(':');
    return version === undefined ? latest(name) : parameters.get(name)?.find((p) => String(p.version) === version);
  };
  const reader: ParameterReader = {
    async getParameters(names) {
      calls.push(`get:${names.join(',')}`);
      if (failure) throw failure;
      return { found: names.flatMap((n) => bySelector(n) ?? []), missing: names.filter((n) => !bySelector(n)) };
    },
    async getParametersByPath(path) {
      calls.push(`path:${path}`);
      if (failure) throw failure;
      return [...parameters.keys()].filter((n) => n.startsWith(`${path}/`) && !n.slice(path.length + 1).includes('/')).flatMap((n) => latest(n) ?? []);
    },
  };
  return {
    reader,
    calls,
    put(name: string, value: unknown) {
      const versions = parameters.get(name) ?? [];
      versions.push({ name, value: typeof value === 'string' ? value : JSON.stringify(value), version: (versions.at(-1)?.version ?? 0) + 1 });
      parameters.set(name, versions);
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

  const IN_FORCE_1 = 'version 1 stays in force (the newest good one of the 5 before)';
  const NONE_GOOD = 'left out: the rule acts on that resource (no good version among the 5 before)';

  it('keeps the last good version of a bad exemption, logs it once per version with the version in force, and notifies it once', async () => {
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
        fields: { key: name, version: 2, problem: 'expires: expected YYYY-MM-DD', inForce: IN_FORCE_1, inForceVersion: 1 },
      },
    ]);
    expect(notices).toEqual([{ parameter: name, version: 2, problem: 'expires: expected YYYY-MM-DD', inForce: IN_FORCE_1 }]);
    // Version 2 is judged once: its one walk-back read finds version 1, and the second read makes no call.
    expect(store.calls.filter((c) => c.includes(`${name}:`))).toEqual([`get:${name}:1`]);
  });

  it('finds the same last good version in a cold container, by reading the previous versions from the store', async () => {
    const { store, source, lines } = harness(base({ configMaxAgeSeconds: 0 }));
    const name = exemptionParameter(PREFIX, 'public-bucket', 'example-site');
    store.put(name, exemption('example-site', { reason: 'good one' }));
    store.put(name, exemption('example-site', { reason: 'later good one' }));
    store.put(name, { resource: 'example-site', reason: 'x', expires: '2026-13-01' });
    store.put(name, 'not json');

    const config = await source.read(0);

    expect(config.exemptions).toEqual([{ rule: 'public-bucket', resource: 'example-site', reason: 'later good one' }]);
    expect(store.calls).toContain(`get:${name}:3,${name}:2,${name}:1`);
    expect(lines.find((l) => l.message === CONFIG_REJECTED_MESSAGE)?.fields).toMatchObject({ version: 4, inForceVersion: 2, problem: 'not valid JSON' });
    // Judged once per version: the next read makes no selector call.
    const before = store.calls.length;
    await source.read(1);
    expect(store.calls.slice(before).filter((c) => c.includes(`${name}:`))).toEqual([]);
  });

  it('walks back at most 5 versions: an older good one is not found, so the exemption is left out', async () => {
    const { store, source, lines } = harness(base({ configMaxAgeSeconds: 0 }));
    const name = exemptionParameter(PREFIX, '*', 'example-site');
    store.put(name, exemption('example-site'));
    for (let i = 0; i < 6; i += 1) store.put(name, { resource: 'example-site' });

    expect((await source.read(0)).exemptions).toEqual([]);
    expect(store.calls).toContain(`get:${[6, 5, 4, 3, 2].map((n) => `${name}:${n}`).join(',')}`);
    expect(lines[0]?.fields).toMatchObject({ version: 7, inForce: NONE_GOOD, inForceVersion: null });

    // Version 8 is walked back from the store as any new version is (7 to 3: none good), in a warm container and a cold one.
    store.put(name, { resource: 'example-site' });
    const before = store.calls.length;
    expect((await source.read(1)).exemptions).toEqual([]);
    expect(store.calls.slice(before).filter((c) => c.includes(`${name}:`))).toEqual([`get:${[7, 6, 5, 4, 3].map((n) => `${name}:${n}`).join(',')}`]);
    const cold = liveConfigSource(base(), 'public-bucket', { reader: store.reader, logger: { error: () => {}, warn: () => {} }, ruleOverrides: [] });
    expect((await cold.read(0)).exemptions).toEqual([]);
  });

  it('uses a version the warm container judged good only while it is within the 5 before', async () => {
    const { store, source } = harness(base({ configMaxAgeSeconds: 0 }));
    const name = exemptionParameter(PREFIX, 'public-bucket', 'example-site');
    store.put(name, exemption('example-site'));
    await source.read(0);
    for (let i = 0; i < 5; i += 1) {
      store.put(name, { resource: 'example-site' });
      expect(
        (await source.read(i + 1)).exemptions.map((e) => e.resource),
        `version ${i + 2}`,
      ).toEqual(['example-site']);
    }
    // Version 7: its 5 before are 2-6, all bad. The warm container agrees with a cold one: left out.
    store.put(name, { resource: 'example-site' });
    expect((await source.read(10)).exemptions).toEqual([]);
  });

  it('leaves out a bad exemption with no good version before (the rule acts), and takes its next good version', async () => {
    const { store, source, lines } = harness(base({ configMaxAgeSeconds: 0 }));
    const name = exemptionParameter(PREFIX, '*', 'example-site');
    store.put(name, '{"resource": "example-site"');
    store.put(exemptionParameter(PREFIX, 'public-bucket', 'example-other'), exemption('example-other'));

    expect((await source.read(0)).exemptions.map((e) => e.resource)).toEqual(['example-other']);
    expect(lines[0]?.fields).toMatchObject({ key: name, problem: 'not valid JSON', inForce: NONE_GOOD });
    // Version 1 has no version before it: nothing to read back.
    expect(store.calls.filter((c) => c.includes(`${name}:`))).toEqual([]);

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

  it('keeps the last good rules when the rules value goes bad, and the env rules when no version was good', async () => {
    const fresh = harness(base({ configMaxAgeSeconds: 0 }));
    fresh.store.put(RULES, { 'no-such-rule': {} });
    expect((await fresh.source.read(0)).rules['public-bucket'].enabled).toBe(true);
    expect(fresh.lines[0]?.fields).toMatchObject({
      key: RULES,
      inForce: "the environment's rule settings stay in force (no good version among the 5 before)",
    });

    const { store, source, notices } = harness(base({ configMaxAgeSeconds: 0 }));
    store.put(RULES, { 'public-bucket': { enabled: false } });
    await source.read(0);
    store.put(RULES, 'not json');
    expect((await source.read(1)).rules['public-bucket'].enabled).toBe(false);
    expect(notices).toMatchObject([{ parameter: RULES, version: 2, problem: 'not valid JSON', inForce: IN_FORCE_1 }]);
  });

  it('applies the last good stored rules at a cold start after a bad edit, not the environment defaults', async () => {
    const { store, source } = harness();
    const bastion = { 'open-security-group': { allowedWorldPorts: [{ protocol: 'tcp', port: 22 }] } };
    store.put(RULES, bastion);
    store.put(RULES, { 'open-security-group': { allowedWorldPorts: [{ protocol: 'tcp', port: '22' }] } });

    const config = await source.read(0);

    expect(config.rules['open-security-group'].allowedWorldPorts).toEqual([{ protocol: 'tcp', port: 22 }]);
    expect(store.calls).toContain(`get:${RULES}:1`);
  });

  it('drops an exemption whose parameter was deleted', async () => {
    const { store, source } = harness(base({ configMaxAgeSeconds: 0 }));
    const name = exemptionParameter(PREFIX, 'public-bucket', 'example-site');
    store.put(name, exemption('example-site'));
    expect((await source.read(0)).exemptions).toHaveLength(1);
    store.remove(name);
    expect((await source.read(1)).exemptions).toEqual([]);
  });

  it('keeps the config on a read failure without making it younger, tries again after 10 s, and logs each failure at most every 10 s', async () => {
    const { store, source, lines } = harness();
    store.put(exemptionParameter(PREFIX, 'public-bucket', 'example-site'), exemption('example-site'));
    await source.read(0);
    store.fail(new AwsCallError('SSM.GetParametersByPath', PREFIX, 'transient', 'ThrottlingException'));
    const failed = () => lines.filter((l) => l.message === CONFIG_READ_FAILED_MESSAGE);

    expect((await source.read(60_000)).exemptions.map((e) => e.resource)).toEqual(['example-site']);
    const reads = store.calls.length;
    // Within the retry back-off: no read, so an outage does not cost each invocation the reader's retries.
    await source.read(65_000);
    expect(store.calls).toHaveLength(reads);
    // After it: read again (the failure did not restart the max age), failing again.
    await source.read(70_000);
    expect(store.calls).toHaveLength(reads + 3);
    await source.read(75_000);
    await source.read(80_000);
    expect(failed()).toEqual([
      { level: 'WARN', message: CONFIG_READ_FAILED_MESSAGE, fields: expect.objectContaining({ kind: 'transient', code: 'ThrottlingException', failures: 1 }) },
      { level: 'WARN', message: CONFIG_READ_FAILED_MESSAGE, fields: expect.objectContaining({ failures: 1, inForce: 'the configuration read 70 s ago' }) },
      { level: 'WARN', message: CONFIG_READ_FAILED_MESSAGE, fields: expect.objectContaining({ failures: 1, inForce: 'the configuration read 80 s ago' }) },
    ]);

    store.fail(undefined);
    store.put(exemptionParameter(PREFIX, 'public-bucket', 'example-two'), exemption('example-two'));
    expect((await source.read(90_000)).exemptions.map((e) => e.resource)).toEqual(['example-site', 'example-two']);
    // Read good at 90 s: cached for the max age again.
    const after = store.calls.length;
    await source.read(149_999);
    expect(store.calls).toHaveLength(after);
  });

  it('counts the failures between two lines when reads fail faster than it logs (configMaxAgeSeconds 0)', async () => {
    const { store, source, lines } = harness(base({ configMaxAgeSeconds: 0 }));
    await source.read(0);
    store.fail(new AwsCallError('SSM.GetParameters', RULES, 'transient', 'ThrottlingException'));
    for (const now of [1_000, 2_000, 3_000, 12_000]) await source.read(now);
    expect(store.calls.length).toBe(3 + 4 * 3); // max age 0: no back-off past it, every invocation reads
    expect(lines.map((l) => l.fields.failures)).toEqual([1, 3]);
  });

  it('stops deciding on the old config once it is older than the stale limit: events fail transiently, as at a cold start', async () => {
    expect(staleLimitMs(60)).toBe(180_000);
    expect(staleLimitMs(0)).toBe(180_000);
    expect(staleLimitMs(300)).toBe(900_000);
    const { store, source, lines } = harness();
    const name = exemptionParameter(PREFIX, 'public-bucket', 'example-site');
    store.put(name, exemption('example-site'));
    await source.read(0);
    // Removed from the store, but the store then becomes unreadable: a warm container must not keep it for ever.
    store.remove(name);
    store.fail(new AwsCallError('SSM.GetParametersByPath', PREFIX, 'denied', 'AccessDeniedException'));

    expect((await source.read(180_000)).exemptions).toHaveLength(1);
    await expect(source.read(190_001)).rejects.toMatchObject({ name: 'AwsCallError', kind: 'transient', code: 'AccessDeniedException' });
    // Past the limit the back-off does not serve the old config either: each event is refused until a read succeeds.
    await expect(source.read(190_002)).rejects.toMatchObject({ kind: 'transient' });
    expect(lines.filter((l) => l.message === CONFIG_READ_FAILED_MESSAGE).at(-1)).toMatchObject({
      level: 'ERROR',
      fields: { inForce: 'none: the event is retried' },
    });

    store.fail(undefined);
    expect((await source.read(200_000)).exemptions).toEqual([]);
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

describe('liveConfigSource across a delete and re-create', () => {
  it('applies the re-created value, though SSM numbers it version 1 again, as the old one was', async () => {
    const { store, source } = harness();
    const name = exemptionParameter(PREFIX, 'public-bucket', 'site-*');
    store.put(name, exemption('site-*', { expires: '2027-06-30' }));
    expect((await source.read(0)).exemptions.map((e) => e.expires)).toEqual(['2027-06-30']);
    store.remove(name);
    store.put(name, exemption('site-*', { expires: '2026-12-31' }));
    expect((await source.read(61_000)).exemptions.map((e) => e.expires)).toEqual(['2026-12-31']);
  });

  it('walks back at most MAX_WALK_BACKS_PER_READ rejected values per read, leaving the rest out', async () => {
    const { store, source, lines } = harness();
    for (let i = 0; i < 12; i += 1) {
      const name = exemptionParameter(PREFIX, '*', `flood-${i}`);
      store.put(name, exemption(`flood-${i}`));
      store.put(name, '{"resource":');
    }
    const config = await source.read(0);
    expect(store.calls.filter((call) => call.startsWith('get:') && call.includes('/exemptions/'))).toHaveLength(10);
    expect(config.exemptions).toHaveLength(10);
    expect(lines.filter((line) => line.message === CONFIG_REJECTED_MESSAGE)).toHaveLength(12);
  });
});

describe('the store-change alert', () => {
  it('keeps its deployed settings whatever the store says: a write that turns it off is still told', async () => {
    const { store, source } = harness();
    store.put(RULES, { [STORE_WATCH_RULE]: { enabled: false }, 'public-bucket': { enabled: false } });
    const { rules } = await source.read(0);
    expect(rules[STORE_WATCH_RULE].enabled).toBe(true);
    expect(rules['public-bucket'].enabled).toBe(false);
  });
});
