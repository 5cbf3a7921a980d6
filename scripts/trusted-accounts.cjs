// The stage param `trustedAccounts` (vendors, partners: docs/configuration.md) as TRAILGUARD_TRUSTED_ACCOUNTS,
// checked when the stack is packaged: a value the functions would refuse at load (shared/config.ts, the same
// 12-digit rule) would otherwise fail every event of every function, after the deploy.

/** One 12-digit account id: shared/config.ts `trustedAccounts` items. */
const ACCOUNT_ID = /^\d{12}$/;

/** The comma-separated ids, trimmed and without empty items, joined again; throws naming the first bad item. */
function checkedTrustedAccounts(value) {
  const ids = String(value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  const bad = ids.find((id) => !ACCOUNT_ID.test(id));
  if (bad !== undefined) {
    // JSON.stringify quotes the item and escapes any control character in it.
    throw new Error(
      `trustedAccounts: ${JSON.stringify(bad.slice(0, 40))} is not a 12-digit account id (expected a comma-separated list such as 111122223333,444455556666)`,
    );
  }
  return ids.join(',');
}

/** serverless.yml `provider.environment.TRAILGUARD_TRUSTED_ACCOUNTS`: the stage param, checked. */
async function trustedAccounts({ resolveVariable }) {
  return checkedTrustedAccounts(await resolveVariable('param:trustedAccounts'));
}

module.exports = { trustedAccounts, checkedTrustedAccounts };
