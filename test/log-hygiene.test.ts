import { describe, expect, it } from 'vitest';
import { routeEvent } from '../cli/replay.js';
import { RULES } from '../functions/rules.js';
import { REVOKE_POLICY_NAME } from '../shared/alerts/revoke-sessions.js';
import { capturingDeps, loadSample, sampleNames } from './helpers/samples.js';

// Values that must never reach the remediation log or a notification: access key ids, session
// credentials, and request bodies (a bucket policy is a request body; it can name principals and keys).
function secretsIn(event: unknown): string[] {
  const found: string[] = [];
  const walk = (value: unknown, key = ''): void => {
    if (typeof value === 'string' && /^(accessKeyId|sessionToken|secretAccessKey|password)$/i.test(key)) found.push(value);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, k);
  };
  walk(event);
  return found.filter((v) => v.length > 3);
}

describe('what the log and the notifications hold', () => {
  const cases = RULES.flatMap((rule) => sampleNames(rule.id).map((name) => [`${rule.id}/${name}`, rule.id, name] as const));

  it.each(cases)('%s: no credentials, no request body', async (_label, ruleId, name) => {
    const event = loadSample(ruleId, name);
    const deps = capturingDeps({ mode: 'offline', notify: 'capture' });
    const records = await routeEvent(RULES, event, deps);
    // A suggested revoke of a role's older sessions is a deny trailguard writes itself (iam-enumerated-by-instance),
    // not a request body: its line is left out of the policy-document check, and only its line.
    const text = deps.published.map((n) =>
      n.text
        .split('\n')
        .filter((line) => !line.includes(`--policy-name '${REVOKE_POLICY_NAME}'`))
        .join('\n'),
    );
    const logged = JSON.stringify(records) + deps.published.map((n, i) => text[i] + n.json).join('');
    for (const secret of secretsIn(event)) expect(logged).not.toContain(secret);
    expect(logged).not.toContain('"requestParameters"');
    expect(logged).not.toContain('"bucketPolicy"');
    expect(logged).not.toContain('"Statement"');
  });

  it('finds the access key ids it checks for (the check is not vacuous)', () => {
    const withKeys = cases.filter(([, ruleId, name]) => secretsIn(loadSample(ruleId, name)).length > 0);
    expect(withKeys.length).toBeGreaterThan(10);
  });
});
