import { createRequire } from 'node:module';
import { describe, expect, it, vi } from 'vitest';

// The plugin itself, without packaging: what it says at package time.
const Organization = createRequire(import.meta.url)('../../scripts/organization.cjs') as new (
  serverless: unknown,
  options: unknown,
  utils: { log: { warning: (message: string) => void } },
) => { apply(): void };

type Fn = { readonly environment?: { readonly TRAILGUARD_RULE: string }; readonly events: readonly { readonly eventBridge?: { readonly pattern: unknown } }[] };

function pluginIn(region: string, organizationId = '', functions: Readonly<Record<string, Fn>> = {}) {
  const warning = vi.fn();
  const serverless = {
    service: {
      service: 'trailguard',
      provider: { region, stage: 'test', compiledCloudFormationTemplate: { Resources: {} } },
      custom: { organization: { organizationId, memberRoleName: 'trailguard-remediation' } },
      getAllFunctions: () => Object.keys(functions),
      getFunction: (key: string) => functions[key] ?? { events: [] },
    },
    getProvider: () => ({ naming: {} }),
    classes: { Error },
  };
  return { plugin: new Organization(serverless, {}, { log: { warning } }), warning };
}

describe('the organisation plugin at package time', () => {
  it('warns that a single-account stack outside us-east-1 sees no IAM, Organizations or console sign-in event', () => {
    const { plugin, warning } = pluginIn('eu-west-1');
    plugin.apply();
    expect(warning).toHaveBeenCalledWith(
      expect.stringContaining(
        'IAM and Organizations events, and console sign-ins through the global sign-in endpoint, are delivered to EventBridge in us-east-1 only',
      ),
    );
  });

  it("names the rules whose patterns admit a global service's events (IAM, Organizations, STS, sign-in), and only those", () => {
    const rule = (id: string, source: unknown): Fn => ({ environment: { TRAILGUARD_RULE: id }, events: [{ eventBridge: { pattern: { source } } }] });
    const { plugin, warning } = pluginIn('eu-west-1', '', {
      iamWatch: rule('iam-watch', ['aws.iam']),
      anyRoot: rule('any-root', [{ prefix: 'aws.' }]),
      signIn: rule('sign-in', ['aws.signin']),
      orgWatch: rule('org-watch', ['aws.organizations']),
      buckets: rule('buckets', ['aws.s3']),
      sweep: { environment: { TRAILGUARD_RULE: 'buckets' }, events: [] },
    });
    plugin.apply();
    expect(warning).toHaveBeenCalledWith(expect.stringContaining('so the rules on them (any-root, iam-watch, org-watch, sign-in) will see none of them here'));
  });

  it('says nothing in us-east-1, nor in organisation mode (the member stack forwards us-east-1)', () => {
    for (const [region, org] of [
      ['us-east-1', ''],
      ['eu-west-1', 'o-exampleorg1'],
    ] as const) {
      const { plugin, warning } = pluginIn(region, org);
      plugin.apply();
      expect(warning, region).not.toHaveBeenCalled();
    }
  });
});
