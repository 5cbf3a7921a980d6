// `trailguard undo --apply` refuses until the resource is exempt; an `exempt add` into the parameter store right
// before it must count (the store's exemptions are read, not only the loaded configuration's).
import { DeletePublicAccessBlockCommand, GetPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, GetParametersByPathCommand, PutParameterCommand, SSMClient, type GetParametersByPathCommandInput } from '@aws-sdk/client-ssm';
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

const s3 = mockClient(S3Client);
const ssm = mockClient(SSMClient);
const sts = mockClient(STSClient);
const PREFIX = '/trailguard/undo-test';
const NOW = Date.parse('2026-11-21T08:00:00Z');
const OPERATOR = 'arn:aws:sts::111122223333:assumed-role/SecurityOps/alice';
const store = new Map<string, string>();
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
  store.clear();
  for (const mock of [s3, ssm, sts]) mock.reset();
  s3.rejects(new Error('unexpected S3 call'));
  s3.on(DeletePublicAccessBlockCommand).resolves({});
  s3.on(GetPublicAccessBlockCommand).rejects(Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' }));
  sts.on(GetCallerIdentityCommand).resolves({ Arn: OPERATOR, Account: '111122223333' });
  ssm.on(PutParameterCommand).callsFake(({ Name, Value }) => {
    store.set(Name, Value);
    return { Version: 1 };
  });
  ssm.on(GetParameterCommand).callsFake(({ Name }) => ({ Parameter: { Name, Value: store.get(Name) } }));
  ssm.on(GetParametersByPathCommand).callsFake(({ Path, Recursive }: GetParametersByPathCommandInput) => ({
    Parameters: [...store.keys()]
      .filter((name) => name.startsWith(`${Path}/`) && (Recursive || !name.slice((Path ?? '').length + 1).includes('/')))
      .map((Name) => ({ Name, Value: store.get(Name) })),
  }));
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

  it('undoes once `exempt add` put the exemption in the store just before', async () => {
    const added = await main(['exempt', 'add', '--rule', 'public-bucket', '--resource', 'example-reports', '--reason', 'CHG-1234', '--expires', '2026-12-21'], {
      TRAILGUARD_PARAMETER_PREFIX: PREFIX,
      AWS_REGION: 'eu-west-1',
    });
    expect(added).toBe(0);
    const done = await undone();
    expect(done.err).toBe('');
    expect(done.exit).toBe(0);
    expect(s3).toHaveReceivedCommandTimes(DeletePublicAccessBlockCommand, 1);
    expect(done.out).not.toContain('Now add this exemption');
  });

  it('counts an every-rule exemption of the store, and ignores an expired or invalid one', async () => {
    store.set(`${PREFIX}/exemptions/public-bucket/old`, JSON.stringify({ resource: 'example-reports', reason: 'old', expires: '2026-11-20' }));
    store.set(`${PREFIX}/exemptions/public-bucket/bad`, JSON.stringify({ resource: 'example-reports', reason: '' }));
    expect((await undone()).exit).toBe(2);
    store.set(`${PREFIX}/exemptions/all/any`, JSON.stringify({ resource: 'example-*', reason: 'sandbox account' }));
    expect((await undone()).exit).toBe(0);
  });

  it('reads no store in an offline plan, and says so when the store cannot be read', async () => {
    const reads: string[] = [];
    const plan = await undone({
      apply: false,
      mode: 'offline',
      storedExemptions: async (rule) => {
        reads.push(rule);
        return [];
      },
    });
    expect(plan.exit).toBe(0);
    expect(reads).toEqual([]);
    const failing = await undone({
      storedExemptions: async () => {
        throw Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
      },
    });
    expect(failing.exit).toBe(2);
    expect(failing.err).toContain("could not read the parameter store's exemptions (AccessDeniedException): only the loaded configuration is checked");
  });
});
