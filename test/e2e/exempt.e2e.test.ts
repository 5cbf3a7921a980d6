// `trailguard exempt` and the weekly notice against the emulator's Parameter Store and SNS. Its own prefix, and no
// reset of the emulator: other suites' state is left alone.
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { DeleteParameterCommand, GetParametersByPathCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/main.js';
import { runExpiryJob } from '../../jobs/exemption-expiry/job.js';
import { storedExemptions } from '../../shared/exemption-store.js';
import { exemptionsRoot } from '../../shared/live-config/layout.js';
import { Logger } from '../../shared/log.js';
import { snsNotifier, type Notification } from '../../shared/notifier.js';
import { captureConsole } from '../helpers/console-capture.js';

const endpoint = process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:5000';
const region = process.env.AWS_REGION ?? 'us-east-1';
const PREFIX = `/trailguard/e2e-exempt-${Date.now().toString(36)}`;
const env = { TRAILGUARD_PARAMETER_PREFIX: PREFIX, AWS_ENDPOINT_URL: endpoint, AWS_REGION: region };
const ssm = new SSMClient({ region, endpoint });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('trailguard exempt on Parameter Store', () => {
  it('adds, refuses a duplicate, lists, notifies weekly, and removes', async () => {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    let io = captureConsole();
    expect(
      await main(['exempt', 'add', '--rule', 'public-bucket', '--resource', 'e2e-demo-*', '--reason', 'SEC-1: demo', '--expires', tomorrow], env),
      io.err(),
    ).toBe(0);
    expect(io.out()).toContain('Added and read back');
    io = captureConsole();
    expect(await main(['exempt', 'add', '--rule', 'public-bucket', '--resource', 'e2e-demo-*', '--reason', 'again'], env)).toBe(2);
    expect(io.err()).toContain(`already exempt: ${PREFIX}/exemptions/public-bucket/e2e-demo-_-`);
    // An expired one and an invalid one, as a person with console access might leave them.
    await ssm.send(
      new PutParameterCommand({
        Name: `${PREFIX}/exemptions/all/old-trail`,
        Type: 'String',
        Value: JSON.stringify({ resource: 'old-trail', reason: 'gone', expires: '2025-01-01' }),
      }),
    );
    await ssm.send(new PutParameterCommand({ Name: `${PREFIX}/exemptions/open-security-group/bad`, Type: 'String', Value: '{"resource":"sg-1"}' }));
    const stored = await ssm.send(new GetParametersByPathCommand({ Path: exemptionsRoot(PREFIX), Recursive: true }));
    expect(JSON.parse(stored.Parameters?.find((p) => p.Name?.includes('/public-bucket/'))?.Value ?? '{}')).toMatchObject({
      resource: 'e2e-demo-*',
      addedBy: expect.stringMatching(/^arn:aws:/),
    });

    io = captureConsole();
    expect(await main(['exempt', 'list', '--format', 'json'], env)).toBe(0);
    const rows = JSON.parse(io.out()) as { rule: string; resource?: string; status: string; problem?: string }[];
    expect(rows.map((r) => [r.rule, r.resource ?? null, r.status]).sort()).toEqual([
      ['*', 'old-trail', 'EXPIRED'],
      ['open-security-group', null, 'INVALID'],
      ['public-bucket', 'e2e-demo-*', 'expires in 1 day'],
    ]);

    const { TopicArn } = await new SNSClient({ region, endpoint }).send(new CreateTopicCommand({ Name: `e2e-exempt-${Date.now().toString(36)}` }));
    const sent: Notification[] = [];
    const publish = snsNotifier(TopicArn ?? '', endpoint);
    const result = await runExpiryJob({
      readStore: () => storedExemptions(ssm, PREFIX),
      deployed: [],
      now: Date.now,
      log: new Logger('INFO', () => undefined),
      notify: async (n) => {
        sent.push(n);
        return publish(n);
      },
      account: '123456789012',
      region,
      storePath: exemptionsRoot(PREFIX),
    });
    expect(result).toMatchObject({ expiring: 1, expired: 1, invalid: 1, notification: expect.stringMatching(/\S/) });
    expect(sent[0]?.text).toContain('e2e-demo-*: expires');
    expect(sent[0]?.text).toContain('trailguard exempt remove --expired');

    io = captureConsole();
    expect(await main(['exempt', 'remove', '--expired'], env)).toBe(0);
    expect(io.out()).toContain(`deleted ${PREFIX}/exemptions/all/old-trail`);
    io = captureConsole();
    expect(await main(['exempt', 'remove', '--rule', 'public-bucket', '--resource', 'e2e-demo-*'], env)).toBe(0);
    io = captureConsole();
    expect(await main(['exempt', 'remove', '--rule', 'public-bucket', '--resource', 'e2e-demo-*'], env)).toBe(2);
    expect(io.err()).toContain('no exemption of public-bucket for e2e-demo-* in the store');
    const left = await ssm.send(new GetParametersByPathCommand({ Path: exemptionsRoot(PREFIX), Recursive: true }));
    expect(left.Parameters?.map((p) => p.Name)).toEqual([`${PREFIX}/exemptions/open-security-group/bad`]);
    await ssm.send(new DeleteParameterCommand({ Name: `${PREFIX}/exemptions/open-security-group/bad` }));
  });
});
