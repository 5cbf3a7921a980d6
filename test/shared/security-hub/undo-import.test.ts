import type { AwsSecurityFinding } from '@aws-sdk/client-securityhub';
import { DeletePublicAccessBlockCommand, GetPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { undo, type UndoOptions } from '../../../cli/undo.js';
import { parseConfig } from '../../../shared/config.js';
import { findingIdOf } from '../../../shared/security-hub/finding.js';
import { DONE_ACTIONS, record } from '../../helpers/records.js';

// `trailguard undo --apply` writes its `reverted` record to the terminal, never to CloudWatch Logs: with securityHub on,
// it imports the reopened finding itself, and a Security Hub failure is a warning, never a failed undo.
const s3 = mockClient(S3Client);
const NOW = Date.parse('2026-11-21T08:00:00Z');
const OPERATOR = 'arn:aws:sts::111122223333:assumed-role/SecurityOps/alice';
const remediated = record({ eventId: 'evt-bucket', actions: [DONE_ACTIONS.bucketHadNone] });
let log: string;

beforeAll(() => {
  log = join(mkdtempSync(join(tmpdir(), 'trailguard-undo-hub-')), 'remediation.jsonl');
  writeFileSync(log, JSON.stringify({ level: 'INFO', message: 'trailguard remediation', timestamp: '2026-11-20T09:15:04.000Z', ...remediated }));
});
beforeEach(() => {
  s3.reset();
  s3.rejects(new Error('unexpected S3 call'));
  s3.on(DeletePublicAccessBlockCommand).resolves({});
  s3.on(GetPublicAccessBlockCommand).rejects(Object.assign(new Error('none'), { name: 'NoSuchPublicAccessBlockConfiguration' }));
});
afterEach(() => {
  s3.reset();
});

async function undoWith(securityHub: boolean, importFindings: UndoOptions['importFindings'], settings: Record<string, unknown> = {}) {
  let out = '';
  let err = '';
  const exit = await undo({
    eventId: 'evt-bucket',
    sources: [log],
    apply: true,
    yes: true,
    mode: 'live',
    region: 'eu-west-1',
    since: undefined,
    config: parseConfig({ securityHub, exemptions: [{ resource: 'example-reports', reason: 'CHG-1234' }], ...settings }),
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
    importFindings,
  });
  return { exit, out, err };
}

describe('trailguard undo --apply with securityHub on', () => {
  it('imports the reverted finding: the same id as the remediated one, reopened ACTIVE and FAILED', async () => {
    const imported: AwsSecurityFinding[] = [];

    const { exit, out } = await undoWith(true, async (findings) => {
      imported.push(...findings);
    });

    expect(exit).toBe(0);
    expect(s3).toHaveReceivedCommandWith(DeletePublicAccessBlockCommand, { Bucket: 'example-reports' });
    expect(imported).toHaveLength(1);
    expect(imported[0]).toMatchObject({
      Id: findingIdOf(remediated, remediated.resources[0]),
      AwsAccountId: '111122223333',
      ProductArn: 'arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default',
      UpdatedAt: new Date(NOW).toISOString(),
      RecordState: 'ACTIVE',
      Compliance: { Status: 'FAILED', SecurityControlId: 'S3.8' },
      ProductFields: { 'trailguard/outcome': 'reverted', 'trailguard/trigger': 'undo', 'trailguard/actor': OPERATOR },
    });
    expect(out).toContain('security hub: 1 finding(s) updated in 111122223333/eu-west-1');
  });

  it('warns, and still succeeds, when Security Hub refuses the import', async () => {
    const { exit, err } = await undoWith(true, async () => {
      throw new Error('AccessDeniedException: not subscribed');
    });

    expect(exit).toBe(0);
    expect(s3).toHaveReceivedCommand(DeletePublicAccessBlockCommand);
    expect(err).toContain('warning: the undo was not imported into Security Hub (AccessDeniedException: not subscribed); the undo itself is done');
  });

  it('imports nothing with securityHub off', async () => {
    const imported: AwsSecurityFinding[] = [];

    const { exit } = await undoWith(false, async (findings) => {
      imported.push(...findings);
    });

    expect(exit).toBe(0);
    expect(s3).toHaveReceivedCommand(DeletePublicAccessBlockCommand);
    expect(imported).toEqual([]);
  });

  it("in organisation mode imports nothing from a member account (the finding is the central account's) and says how to reopen it there", async () => {
    const imported: AwsSecurityFinding[] = [];
    const organization = { organizationId: 'o-a1b2c3d4e5', centralAccountId: '999988887777' };

    const { exit, out, err } = await undoWith(
      true,
      async (findings) => {
        imported.push(...findings);
      },
      { organization },
    );

    expect(exit).toBe(0);
    expect(s3).toHaveReceivedCommand(DeletePublicAccessBlockCommand);
    expect(imported).toEqual([]);
    expect(out).not.toContain('security hub:');
    const identifiers = JSON.stringify([
      { Id: findingIdOf(remediated, remediated.resources[0]), ProductArn: 'arn:aws:securityhub:eu-west-1:999988887777:product/999988887777/default' },
    ]);
    expect(err).toContain("organisation mode: the undo was not imported into Security Hub. The finding is in the central account's hub (999988887777)");
    expect(err).toContain(`aws securityhub batch-update-findings --region 'eu-west-1' --finding-identifiers '${identifiers}' --workflow 'Status=NEW'`);
  });

  it('in organisation mode still imports an undo in the central account itself, whose hub holds the finding', async () => {
    const imported: AwsSecurityFinding[] = [];

    const { err } = await undoWith(
      true,
      async (findings) => {
        imported.push(...findings);
      },
      { organization: { organizationId: 'o-a1b2c3d4e5', centralAccountId: '111122223333' } },
    );

    expect(err).not.toContain('organisation mode');
    expect(imported.map((f) => f.ProductArn)).toEqual(['arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default']);
  });
});
