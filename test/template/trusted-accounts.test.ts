import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { centralFunctions } from '../../scripts/member-stack.js';
import { loadConfig } from '../../shared/config.js';
import { logicalPrefixOf, packageOnce, packageRefused, type Packaged } from '../helpers/template.js';

// The stage param `trustedAccounts` reaches every function as TRAILGUARD_TRUSTED_ACCOUNTS, and a value the functions
// would refuse at load is refused at package time instead (scripts/trusted-accounts.cjs).
const { checkedTrustedAccounts } = createRequire(import.meta.url)('../../scripts/trusted-accounts.cjs') as {
  checkedTrustedAccounts: (value: unknown) => string;
};

const TRUSTED = ' 111122223333, 444455556666 ';

let packaged: Packaged;
let refusal: { status: number | null; output: string };
beforeAll(() => {
  packaged = packageOnce({ trustedAccounts: TRUSTED });
  refusal = packageRefused({ trustedAccounts: '111122223333,arn:aws:iam::444455556666:root' }, 'test');
});

describe('the trustedAccounts stage param', () => {
  it("reaches every function's environment, trimmed, as the functions read it", () => {
    const functions = centralFunctions();
    expect(functions.length).toBeGreaterThan(0);
    for (const { key } of functions) {
      const id = `${logicalPrefixOf(key)}LambdaFunction`;
      const value = packaged.template.Resources[id]?.Properties?.Environment?.Variables?.TRAILGUARD_TRUSTED_ACCOUNTS;
      expect(value, id).toBe('111122223333,444455556666');
      expect(loadConfig({ TRAILGUARD_TRUSTED_ACCOUNTS: value }).trustedAccounts, id).toEqual(['111122223333', '444455556666']);
    }
  });

  it('refuses a value that is not 12-digit account ids at package time, naming the bad item', () => {
    expect(refusal.status).not.toBe(0);
    expect(refusal.output).toContain('trustedAccounts: "arn:aws:iam::444455556666:root" is not a 12-digit account id');
  });

  it('takes what the functions take and refuses what they refuse', () => {
    expect(checkedTrustedAccounts('')).toBe('');
    expect(checkedTrustedAccounts(undefined)).toBe('');
    expect(checkedTrustedAccounts('111122223333,,')).toBe('111122223333');
    for (const bad of ['11112222333', '1111222233334', '11112222333x', '111122223333;444455556666']) {
      expect(() => checkedTrustedAccounts(bad), bad).toThrow(/is not a 12-digit account id/);
      expect(() => loadConfig({ TRAILGUARD_TRUSTED_ACCOUNTS: bad }), bad).toThrow(/TRAILGUARD_TRUSTED_ACCOUNTS/);
    }
    // A control character in the value is shown escaped, not written to the terminal.
    expect(() => checkedTrustedAccounts('1111\u001b[2J')).toThrow('"1111\\u001b[2J"');
  });
});
