// The CLI's reading of the parameter store (cli/live-store.ts) and `exempt add --replace` / `list` attribution
// against the emulator's Parameter Store. Its own prefix, and no reset of the emulator.
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadRunConfig } from '../../cli/live-store.js';
import { main } from '../../cli/main.js';
import { parseConfig } from '../../shared/config.js';
import { captureConsole } from '../helpers/console-capture.js';

const endpoint = process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:5000';
const region = process.env.AWS_REGION ?? 'us-east-1';
const PREFIX = `/trailguard/e2e-cli-store-${Date.now().toString(36)}`;
const env = { TRAILGUARD_PARAMETER_PREFIX: PREFIX, AWS_ENDPOINT_URL: endpoint, AWS_REGION: region };
const ssm = new SSMClient({ region, endpoint });

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the CLI reads the parameter store as the functions do', () => {
  it('merges an added exemption and the stored rules, leaves out a nested one, and knows when each was written', async () => {
    const before = Date.now();
    let io = captureConsole();
    expect(await main(['exempt', 'add', '--rule', 'public-bucket', '--resource', 'e2e-store-bucket', '--reason', 'SEC-2'], env), io.err()).toBe(0);
    await ssm.send(
      new PutParameterCommand({
        Name: `${PREFIX}/rules`,
        Type: 'String',
        Value: JSON.stringify({ 'open-security-group': { allowedWorldPorts: [{ protocol: 'tcp', port: 22 }] } }),
      }),
    );
    await ssm.send(
      new PutParameterCommand({
        Name: `${PREFIX}/exemptions/public-bucket/team-a/nested`,
        Type: 'String',
        Value: JSON.stringify({ resource: 'nested', reason: 'r' }),
      }),
    );
    const err: string[] = [];
    const loaded = await loadRunConfig({
      config: parseConfig({ parameterPrefix: PREFIX, region, endpoint }),
      mode: 'live',
      ruleOverrides: [],
      err: (t) => void err.push(t),
    });
    expect(err).toEqual([]);
    expect(loaded.config.exemptions).toEqual([{ rule: 'public-bucket', resource: 'e2e-store-bucket', reason: 'SEC-2' }]);
    expect(loaded.config.rules['open-security-group'].allowedWorldPorts).toEqual([{ protocol: 'tcp', port: 22 }]);
    const [parameter] = [...loaded.parameters.values()];
    expect(parameter?.name).toMatch(new RegExp(`^${PREFIX}/exemptions/public-bucket/e2e-store-bucket-[0-9a-f]{8}$`));
    // Whole seconds at the emulator: within a few seconds of the add.
    expect(parameter?.lastModified).toBeGreaterThan(before - 5_000);
    expect(parameter?.lastModified).toBeLessThan(Date.now() + 5_000);

    io = captureConsole();
    const renew = [
      'exempt',
      'add',
      '--replace',
      '--rule',
      'public-bucket',
      '--resource',
      'e2e-store-bucket',
      '--reason',
      'SEC-2 renewed',
      '--expires',
      '2099-01-01',
    ];
    expect(await main(renew, env), io.err()).toBe(0);
    expect(io.out()).toContain('Replaced and read back');

    io = captureConsole();
    expect(await main(['exempt', 'list', '--format', 'json'], env), io.err()).toBe(0);
    const rows = JSON.parse(io.out()) as { resource?: string; status: string; problem?: string; lastModifiedBy?: string | null; reason?: string }[];
    expect(rows.find((row) => row.resource === 'e2e-store-bucket')).toMatchObject({ reason: 'SEC-2 renewed', status: expect.stringMatching(/expires in/) });
    // The emulator answers DescribeParameters with a placeholder user; the field is IAM's, present either way.
    expect(rows.find((row) => row.resource === 'e2e-store-bucket')).toHaveProperty('lastModifiedBy');
    expect(rows.find((row) => row.status === 'INVALID')?.problem).toContain('not read by the functions');
  });
});
