// `trailguard undo --apply` refuses until the resource is exempt; an `exempt add` into the parameter store counts
// (the store is read and merged as the functions merge it), but only once every function has surely read it: the
// parameter's LastModifiedDate plus configMaxAgeSeconds, else a warm container remediates the undo again.
import { DeletePublicAccessBlockCommand, GetPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { GetParametersByPathCommand, GetParametersCommand } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { undo, type UndoOptions } from '../../cli/undo.js';
import { parseConfig } from '../../shared/config.js';
import { consoleOut } from '../../shared/log.js';
import { liveRecords } from '../helpers/records.js';
import { awsError, FakeStore } from './exempt-fake-store.js';

const s3 = mockClient(S3Client);
const fake = new FakeStore();
const ssm = fake.ssm;
const sts = mockClient(STSClient);
const PREFIX = '/trailguard/undo-test';
const NOW = Date.parse('2026-11-21T08:00:00Z');
const OPERATOR = 'arn:aws:sts::111122223333:assumed-role/SecurityOps/alice';
let log: string;

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'trailguard-exempt-undo-'));
  log = join(dir, 'remediation.jsonl');
  writeFileSync(
    log,
    Object.values(liveRecords())
      .map((r) => JSON.stringify({ level: 'INFO', message: 'trailguard remediation', timestamp: '2026-11-20T09:15:04.000Z', ...r }))
      .join('\n'),
  );
});

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
  fake.clear();
  for (const mock of [s3, ssm, sts]) mock.reset();
  fake.install();
  // The stack's own parameter: without it the CLI takes the store for another Region's or prefix's.
  fake.set(`${PREFIX}/rules`, '{}');
  s3.rejects(new Error('unexpected S3 call'));
  s3.on(DeletePublicAccessBlockCommand).resolves({});
  s3.on(GetPublicAccessBlockCommand).rejects(Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' }));
  sts.on(GetCallerIdentityCommand).resolves({ Arn: OPERATOR, Account: '111122223333' });
  vi.spyOn(consoleOut, 'stdout').mockImplementation(() => undefined);
  vi.spyOn(consoleOut, 'stderr').mockImplementation(() => undefined);
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

async function undone(options: Partial<UndoOptions> = {}) {
  let out = '';
  let err = '';
  const exit = await undo({
    eventId: 'evt-bucket',
    sources: [log],
    apply: true,
    mode: 'live',
    yes: true,
    region: 'eu-west-1',
    since: undefined,
    config: parseConfig({ parameterPrefix: PREFIX, region: 'eu-west-1' }),
    now: () => NOW,
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    progress: { isTTY: false, write: () => true },
    notify: async () => 'msg-1',
    identity: async () => ({ arn: OPERATOR, account: '111122223333' }),
    ...options,
  });
  return { exit, out, err };
}

describe('trailguard undo with the parameter store', () => {
  it('refuses while neither config nor store exempts the resource, naming the one command to run', async () => {
    const refused = await undone();
    expect(refused.exit).toBe(2);
    expect(refused.err).toContain('refused: the loaded configuration does not exempt public-bucket example-reports, nor does the parameter store');
    expect(refused.out).toMatch(
      /\$ trailguard exempt add --rule 'public-bucket' --resource 'example-reports' --reason 'remediation undone by an operator on 2026-11-21 \(trailguard undo of evt-bucket\): replace with the ticket that approves it' --expires '2026-12-21'/,
    );
    expect(refused.out).toContain("within the functions' configuration cache time, 60 s");
    expect(ssm).toHaveReceivedCommandWith(GetParametersByPathCommand, { Path: `${PREFIX}/exemptions/public-bucket` });
    expect(ssm).toHaveReceivedCommandWith(GetParametersByPathCommand, { Path: `${PREFIX}/exemptions/all` });
    expect(s3).not.toHaveReceivedCommand(DeletePublicAccessBlockCommand);
  });

  it('refuses right after `exempt add`, saying how long a function may still hold the old configuration, then undoes', async () => {
    const added = await main(['exempt', 'add', '--rule', 'public-bucket', '--resource', 'example-reports', '--reason', 'CHG-1234', '--expires', '2026-12-21'], {
      TRAILGUARD_PARAMETER_PREFIX: PREFIX,
      AWS_REGION: 'eu-west-1',
    });
    expect(added).toBe(0);
    vi.setSystemTime(NOW + 15_000);
    const early = await undone({ now: () => NOW + 15_000 });
    expect(early.exit).toBe(2);
    expect(early.err).toMatch(
      /refused: public-bucket example-reports \(\/trailguard\/undo-test\/exemptions\/public-bucket\/example-reports-[0-9a-f]{8}\) is exempt only by the parameter store/,
    );
    expect(early.err).toContain('Run again in 45 s, or pass --force');
    expect(s3).not.toHaveReceivedCommand(DeletePublicAccessBlockCommand);
    // The plan says the same without acting.
    const plan = await undone({ apply: false, mode: 'dry-run', now: () => NOW + 15_000 });
    expect(plan.out).toContain('--apply refuses for another 45 s');
    vi.setSystemTime(NOW + 60_000);
    const done = await undone({ now: () => NOW + 60_000 });
    expect(done.err).toBe('');
    expect(done.exit).toBe(0);
    expect(s3).toHaveReceivedCommandTimes(DeletePublicAccessBlockCommand, 1);
    expect(done.out).not.toContain('Now add this exemption');
  });

  it('does not wait for a store exemption when the loaded configuration exempts the resource too, nor with --force', async () => {
    fake.set(`${PREFIX}/exemptions/public-bucket/x`, { resource: 'example-reports', reason: 'CHG-1' });
    const config = parseConfig({
      parameterPrefix: PREFIX,
      region: 'eu-west-1',
      exemptions: [{ rule: 'public-bucket', resource: 'example-reports', reason: 'deploy-time' }],
    });
    const deployed = await undone({ config });
    expect(deployed.exit).toBe(0);
    expect(deployed.err).not.toContain('--force');
    const forced = await undone({ force: true });
    expect(forced.exit).toBe(0);
    expect(forced.err).toContain('(/trailguard/undo-test/exemptions/public-bucket/x) is exempt only by a parameter changed less than 60 s ago');
    expect(forced.err).toContain('warning: --force: public-bucket example-reports');
  });

  it('waits for the configuration cache time the config names (configMaxAgeSeconds)', async () => {
    fake.set(`${PREFIX}/exemptions/all/x`, { resource: 'example-*', reason: 'sandbox' });
    const config = parseConfig({ parameterPrefix: PREFIX, region: 'eu-west-1', configMaxAgeSeconds: 300 });
    const refused = await undone({ config, now: () => NOW + 100_000 });
    expect(refused.err).toContain('Run again in 200 s');
    expect((await undone({ config, now: () => NOW + 300_000 })).exit).toBe(0);
  });

  it('counts an every-rule exemption of the store, and ignores an expired or invalid one', async () => {
    fake.set(`${PREFIX}/exemptions/public-bucket/old`, { resource: 'example-reports', reason: 'old', expires: '2026-11-20' });
    fake.set(`${PREFIX}/exemptions/public-bucket/bad`, { resource: 'example-reports', reason: '' });
    // Nested below the folder: the functions never read it, so it exempts nothing.
    fake.set(`${PREFIX}/exemptions/public-bucket/team-a/x`, { resource: 'example-reports', reason: 'nested' });
    const refused = await undone({ now: () => NOW + 60_000 });
    expect(refused.exit).toBe(2);
    expect(refused.err).toContain('exemptions/public-bucket/bad (version 1) is rejected: reason: invalid min_length, expected >=1; left out');
    fake.set(`${PREFIX}/exemptions/all/any`, { resource: 'example-*', reason: 'sandbox account' });
    expect((await undone({ now: () => NOW + 60_000 })).exit).toBe(0);
  });

  it('reads no store in an offline plan; --apply refuses when the store cannot be read, a dry-run plan warns', async () => {
    const plan = await undone({ apply: false, mode: 'offline' });
    expect(plan.exit).toBe(0);
    expect(ssm).not.toHaveReceivedCommand(GetParametersByPathCommand);
    expect(ssm).not.toHaveReceivedCommand(GetParametersCommand);
    ssm.on(GetParametersByPathCommand).rejects(awsError('AccessDeniedException'));
    await expect(undone()).rejects.toThrow(/parameter store \/trailguard\/undo-test: cannot be read \(AccessDeniedException\): refused to act/);
    expect(s3).not.toHaveReceivedCommand(DeletePublicAccessBlockCommand);
    const preview = await undone({ apply: false, mode: 'dry-run' });
    expect(preview.exit).toBe(0);
    expect(preview.err).toContain('WARNING: the parameter store /trailguard/undo-test cannot be read (AccessDeniedException)');
  });
});
