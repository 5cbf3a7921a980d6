/**
 * Who is "outside": the one notion every sharing rule uses (issue 19). An account is outside unless it is the
 * event's own account, a configured `trustedAccounts` entry, the central account, or (organisation mode) one of the
 * organisation's accounts. Public (`all`, `*`) is always outside. What could not be told is said, never guessed:
 * a named account whose membership could not be read, or an organisation/OU ARN with no organisation configured to
 * compare it with, is `unknown`: not removed on a guess (it may be a member, or the account's own organisation),
 * and the reason says why.
 */
import { errorCodeOf } from './aws/errors.js';
import type { Config } from './config.js';
import { AwsCallError } from './errors.js';

/** Whom a permission names, as EC2 and CloudTrail name them (`userId`, `group`, `organizationArn`, `organizationalUnitArn`). */
export type Grantee =
  | { readonly kind: 'account'; readonly id: string }
  | { readonly kind: 'public' }
  | { readonly kind: 'organization'; readonly arn: string }
  | { readonly kind: 'ou'; readonly arn: string };

/** What the configuration says about who is inside, parsed once per configuration. */
export interface OutsidePolicy {
  readonly trusted: ReadonlySet<string>;
  /** Organisation mode: the organisation's id and the central account; absent in single-account mode. */
  readonly organization?: { readonly id: string; readonly centralAccount: string };
}

/** The organisation's accounts, as far as they were read for this run. */
export type OrgAccounts =
  | { readonly kind: 'single-account' }
  | { readonly kind: 'read'; readonly ids: ReadonlySet<string> }
  | { readonly kind: 'unread'; readonly why: string };

/** Everything a run needs to judge a grantee: the policy, the event's own account, the organisation's accounts. */
export interface OutsideView {
  readonly policy: OutsidePolicy;
  readonly ownAccount: string | undefined;
  readonly org: OrgAccounts;
}

export type Judgement =
  | { readonly outside: false; readonly why: string }
  | { readonly outside: true; readonly public: boolean; readonly why: string }
  /** Could not be told from what was read: a person decides. */
  | { readonly outside: 'unknown'; readonly why: string };

export function outsidePolicyOf(config: Config): OutsidePolicy {
  const org = config.organization;
  return {
    trusted: new Set(config.trustedAccounts),
    ...(org ? { organization: { id: org.organizationId, centralAccount: org.centralAccountId } } : {}),
  };
}

/** The organisation's accounts as far as a run can tell without reading them (offline, or before any read). */
export function orgWithoutReading(policy: OutsidePolicy, why: string): OrgAccounts {
  return policy.organization ? { kind: 'unread', why } : { kind: 'single-account' };
}

// `arn:aws:organizations::<management account>:organization/o-…` and `…:ou/o-…/ou-…`: the organisation id is what tells ours.
const ORG_OF_ARN = /^arn:aws[a-z-]*:organizations::\d{12}:(?:organization|ou)\/(o-[a-z0-9]{10,32})(?:\/ou-[a-z0-9]{4,32}-[a-z0-9]{8,32})?$/;

/** The organisation an organisation or OU ARN belongs to, or undefined for anything else. */
export function organizationOfArn(arn: string): string | undefined {
  return ORG_OF_ARN.exec(arn)?.[1];
}

export function judge(grantee: Grantee, view: OutsideView): Judgement {
  const { policy, ownAccount, org } = view;
  switch (grantee.kind) {
    case 'public':
      return { outside: true, public: true, why: 'everyone (public)' };
    case 'organization':
    case 'ou': {
      if (policy.organization === undefined)
        return { outside: 'unknown', why: `${grantee.arn}: no organization is configured, so whether it is this account's own could not be told` };
      return organizationOfArn(grantee.arn) === policy.organization.id
        ? { outside: false, why: `${grantee.arn} is this organisation's` }
        : { outside: true, public: false, why: `${grantee.arn} is not this organisation's` };
    }
    case 'account': {
      const id = grantee.id;
      if (id === ownAccount) return { outside: false, why: `${id} is the account itself` };
      if (policy.trusted.has(id)) return { outside: false, why: `${id} is in trustedAccounts` };
      if (id === policy.organization?.centralAccount) return { outside: false, why: `${id} is the central account` };
      if (org.kind === 'read' && org.ids.has(id)) return { outside: false, why: `${id} is an account of the organisation` };
      if (org.kind === 'unread')
        return { outside: 'unknown', why: `${id} is not in trustedAccounts, and the organisation's accounts could not be read (${org.why})` };
      return { outside: true, public: false, why: `${id} is outside the ${org.kind === 'read' ? 'organisation' : 'account'} and not in trustedAccounts` };
    }
  }
}

/** A grantee as a person reads it: the account id, `everyone (all)`, or the ARN. */
export function granteeLabel(grantee: Grantee): string {
  switch (grantee.kind) {
    case 'public':
      return 'everyone (all)';
    case 'account':
      return grantee.id;
    default:
      return grantee.arn;
  }
}

export const sameGrantee = (a: Grantee, b: Grantee): boolean => granteeLabel(a) === granteeLabel(b) && a.kind === b.kind;

/** One page of Organizations ListAccounts: the ids, and the token of the next page. */
export interface AccountsPage {
  readonly ids: readonly string[];
  readonly nextToken: string | undefined;
}

/** How long a container trusts the organisation's accounts it read: a new member account is known within this. */
export const ORG_ACCOUNTS_MAX_AGE_MS = 10 * 60_000;
/** How long a failed read is answered from the container: a burst of events does not re-read (up to 500 pages) each. */
export const ORG_ACCOUNTS_FAILURE_MAX_AGE_MS = 60_000;
/** Pages read at most (20 accounts a page): an organisation larger than this is reported as not read, never half-read. */
const MAX_PAGES = 500;

/**
 * The organisation's accounts, read page by page with `listPage` and kept per container for `maxAgeMs`. A read
 * that fails is kept for `failureMaxAgeMs` only (the run is told why, `unread`), then read again; an invocation
 * out of time (DeadlineExceeded) is rethrown and not kept.
 */
export function orgAccountsReader(
  listPage: (token: string | undefined) => Promise<AccountsPage>,
  now: () => number,
  maxAgeMs = ORG_ACCOUNTS_MAX_AGE_MS,
  failureMaxAgeMs = ORG_ACCOUNTS_FAILURE_MAX_AGE_MS,
) {
  let cached: { readonly ids: ReadonlySet<string>; readonly at: number } | undefined;
  let failed: { readonly why: string; readonly at: number } | undefined;
  return async (): Promise<OrgAccounts> => {
    if (cached && now() - cached.at < maxAgeMs) return { kind: 'read', ids: cached.ids };
    if (failed && now() - failed.at < failureMaxAgeMs) return { kind: 'unread', why: failed.why };
    const unread = (why: string): OrgAccounts => {
      failed = { why, at: now() };
      return { kind: 'unread', why };
    };
    const ids = new Set<string>();
    let token: string | undefined;
    try {
      for (let page = 0; page < MAX_PAGES; page++) {
        const result = await listPage(token);
        for (const id of result.ids) ids.add(id);
        token = result.nextToken;
        if (!token) break;
      }
    } catch (error) {
      const code = error instanceof AwsCallError ? error.code : errorCodeOf(error);
      // The invocation's time is spent: nothing is decided on a guess, the retry reads again.
      if (code === 'DeadlineExceeded') throw error;
      // The code is the service's (or the network's); kept to the characters a code has, as it reaches a person.
      return unread(`Organizations ListAccounts failed: ${code.replace(/[^\w.-]/g, '?').slice(0, 64)}`);
    }
    if (token) return unread(`the organisation has more than ${MAX_PAGES} pages of accounts`);
    cached = { ids, at: now() };
    failed = undefined;
    return { kind: 'read', ids };
  };
}

/** How many grantees a reason names at most: a call may name hundreds, and a record's reason stays readable. */
const NAMED_AT_MOST = 10;

/** Parts joined for a reason, the first ten named and the rest counted. */
export function listedForReason(parts: readonly string[]): string {
  return parts.length > NAMED_AT_MOST ? `${parts.slice(0, NAMED_AT_MOST).join('; ')}; … and ${parts.length - NAMED_AT_MOST} more` : parts.join('; ');
}

/** What a sharing rule decides about the grantees one call added, from who is outside and what is still granted now. */
export type SharingVerdict<T> =
  /** Every grantee added is inside. */
  | { readonly kind: 'inside'; readonly reason: string }
  /** Nothing outside is still granted, and no grantee left could be judged. */
  | { readonly kind: 'gone'; readonly reason: string }
  /** Only grantees that could not be judged are still granted: a person decides (never removed on a guess). */
  | { readonly kind: 'unjudged'; readonly reason: string }
  /** These outside grantees are still granted: remove exactly them. */
  | { readonly kind: 'outside'; readonly reason: string; readonly targets: readonly T[]; readonly isPublic: boolean };

/**
 * The one sharing decision (EC2 snapshots and images, RDS snapshots, and every rule that removes what a call granted
 * to outsiders): each added grantee judged, and only those still granted (`held`: decided from the resource now, so
 * one removed since is not removed again) are targets. `what` names the resource in the reason.
 */
export function sharingVerdict<T>(
  what: string,
  added: readonly T[],
  granteeOf: (item: T) => Grantee,
  held: (item: T) => boolean,
  view: OutsideView,
): SharingVerdict<T> {
  const judged = added.map((item) => ({ item, judgement: judge(granteeOf(item), view) }));
  const whys = (list: readonly { judgement: Judgement }[]) => listedForReason(list.map(({ judgement }) => judgement.why));
  const labels = (list: readonly { item: T }[]) => listedForReason(list.map(({ item }) => granteeLabel(granteeOf(item))));
  const inside = judged.filter(({ judgement }) => judgement.outside === false);
  const outside = judged.filter(({ judgement }) => judgement.outside === true);
  const unknown = judged.filter(({ judgement }) => judgement.outside === 'unknown');
  const targets = outside.filter(({ item }) => held(item));
  const unjudged = unknown.filter(({ item }) => held(item));
  const gone = [...outside, ...unknown].filter(({ item }) => !held(item));
  const insideNote = inside.length > 0 ? `; left shared (inside): ${whys(inside)}` : '';
  const goneNote = gone.length > 0 ? `; no longer shared with ${labels(gone)}` : '';
  if (outside.length === 0 && unknown.length === 0) return { kind: 'inside', reason: `${what} is shared only inside: ${whys(inside)}` };
  if (targets.length === 0 && unjudged.length > 0)
    return { kind: 'unjudged', reason: `${what} shared with grantees it could not judge, left shared: ${whys(unjudged)}${goneNote}${insideNote}` };
  if (targets.length === 0) return { kind: 'gone', reason: `${what} is no longer shared with ${labels(gone)}${insideNote}` };
  const unjudgedNote = unjudged.length > 0 ? `; left shared, not judged (could not tell whether inside): ${whys(unjudged)}` : '';
  return {
    kind: 'outside',
    reason: `${what} shared outside: ${whys(targets)}${goneNote}${unjudgedNote}${insideNote}`,
    targets: targets.map(({ item }) => item),
    isPublic: targets.some(({ judgement }) => judgement.outside === true && judgement.public),
  };
}

/** The notification title of a rule that removes outside sharing, by outcome. */
export function sharingTitle(outcome: string, what: string): string {
  switch (outcome) {
    case 'remediated':
      return `Outside sharing removed from ${what}`;
    case 'would-remediate':
      return `Would remove outside sharing from ${what}`;
    case 'failed':
      return `FAILED to remove outside sharing from ${what}`;
    default:
      return `Sharing of ${what}: ${outcome}`;
  }
}
