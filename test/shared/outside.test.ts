import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../../shared/config.js';
import { AwsCallError } from '../../shared/errors.js';
import {
  judge,
  listedForReason,
  orgAccountsReader,
  organizationOfArn,
  outsidePolicyOf,
  sharingVerdict,
  type Grantee,
  type OrgAccounts,
  type OutsideView,
} from '../../shared/outside.js';

const OWN = '111122223333';
const ORG = 'o-a1b2c3d4e5';
const single = outsidePolicyOf(parseConfig({ trustedAccounts: ['999988887777'] }));
const orgPolicy = outsidePolicyOf(parseConfig({ trustedAccounts: ['999988887777'], organization: { organizationId: ORG, centralAccountId: '123456789012' } }));
const view = (org: OrgAccounts, policy = orgPolicy): OutsideView => ({ policy, ownAccount: OWN, org });
const account = (id: string) => ({ kind: 'account', id }) as const;

describe('trustedAccounts', () => {
  it('takes 12-digit account ids, from the config and from TRAILGUARD_TRUSTED_ACCOUNTS', () => {
    expect(parseConfig({}).trustedAccounts).toEqual([]);
    expect(() => parseConfig({ trustedAccounts: ['99998888777'] })).toThrow(/trustedAccounts\.0/);
    expect(() => parseConfig({ trustedAccounts: ['arn:aws:iam::999988887777:root'] })).toThrow(/12-digit/);
    expect(loadConfig({ TRAILGUARD_TRUSTED_ACCOUNTS: '999988887777, 888877776666' }).trustedAccounts).toEqual(['999988887777', '888877776666']);
    expect(() => loadConfig({ TRAILGUARD_TRUSTED_ACCOUNTS: '99998888777x' })).toThrow(/TRAILGUARD_TRUSTED_ACCOUNTS/);
  });
});

describe('who is outside', () => {
  it('never lets public be inside', () => {
    expect(judge({ kind: 'public' }, view({ kind: 'read', ids: new Set([OWN]) }))).toEqual({ outside: true, public: true, why: 'everyone (public)' });
  });

  it('keeps the account itself, trusted accounts and the central account inside', () => {
    const unread = view({ kind: 'unread', why: 'offline' });
    expect(judge(account(OWN), unread).outside).toBe(false);
    expect(judge(account('999988887777'), unread)).toEqual({ outside: false, why: '999988887777 is in trustedAccounts' });
    expect(judge(account('123456789012'), unread)).toEqual({ outside: false, why: '123456789012 is the central account' });
  });

  it("keeps the organisation's accounts inside once read, and says why another is outside", () => {
    const read = view({ kind: 'read', ids: new Set(['222233334444']) });
    expect(judge(account('222233334444'), read)).toEqual({ outside: false, why: '222233334444 is an account of the organisation' });
    expect(judge(account('444455556666'), read)).toEqual({
      outside: true,
      public: false,
      why: '444455556666 is outside the organisation and not in trustedAccounts',
    });
  });

  it("does not guess about an account when the organisation's accounts could not be read, and says so", () => {
    expect(judge(account('222233334444'), view({ kind: 'unread', why: 'offline' }))).toEqual({
      outside: 'unknown',
      why: "222233334444 is not in trustedAccounts, and the organisation's accounts could not be read (offline)",
    });
  });

  it('in single-account mode, every other account not trusted is outside', () => {
    expect(judge(account('222233334444'), view({ kind: 'single-account' }, single))).toMatchObject({
      outside: true,
      why: '222233334444 is outside the account and not in trustedAccounts',
    });
  });

  it('tells organisation and OU ARNs by their organisation id', () => {
    const ours = `arn:aws:organizations::123456789012:organization/${ORG}`;
    const ou = `arn:aws:organizations::123456789012:ou/${ORG}/ou-ab12-cdef3456`;
    const theirs = 'arn:aws:organizations::555566667777:organization/o-zz9yy8xx7w';
    expect(organizationOfArn(ou)).toBe(ORG);
    expect(organizationOfArn('arn:aws:iam::123456789012:root')).toBeUndefined();
    expect(judge({ kind: 'organization', arn: ours }, view({ kind: 'unread', why: 'x' })).outside).toBe(false);
    expect(judge({ kind: 'ou', arn: ou }, view({ kind: 'unread', why: 'x' })).outside).toBe(false);
    expect(judge({ kind: 'organization', arn: theirs }, view({ kind: 'unread', why: 'x' })).outside).toBe(true);
    // Single-account mode has no organisation to compare with: it may be the account's own (a golden-AMI share).
    for (const grantee of [
      { kind: 'organization', arn: ours },
      { kind: 'ou', arn: ou },
      { kind: 'organization', arn: theirs },
    ] as const) {
      expect(judge(grantee, view({ kind: 'single-account' }, single))).toEqual({
        outside: 'unknown',
        why: `${grantee.arn}: no organization is configured, so whether it is this account's own could not be told`,
      });
    }
  });
});

describe("reading the organisation's accounts", () => {
  it('reads every page, then answers from the container for the bounded time, then reads again', async () => {
    const tokens: (string | undefined)[] = [];
    const pages: Record<string, { ids: string[]; nextToken: string | undefined }> = {
      first: { ids: ['222233334444'], nextToken: 'b' },
      b: { ids: ['333344445555'], nextToken: undefined },
    };
    let clock = 0;
    const read = orgAccountsReader(
      async (token) => {
        tokens.push(token);
        return pages[token ?? 'first'] as { ids: string[]; nextToken: string | undefined };
      },
      () => clock,
      1000,
    );

    expect(await read()).toEqual({ kind: 'read', ids: new Set(['222233334444', '333344445555']) });
    clock = 999;
    await read();
    expect(tokens).toEqual([undefined, 'b']);
    clock = 1000;
    await read();
    expect(tokens).toEqual([undefined, 'b', undefined, 'b']);
  });

  it('says why when a page fails, answers that for the failure time (a burst reads once), then reads again', async () => {
    let fail = true;
    let calls = 0;
    let clock = 0;
    const read = orgAccountsReader(
      async () => {
        calls++;
        if (fail) throw Object.assign(new Error('denied'), { name: 'AccessDeniedException' });
        return { ids: ['222233334444'], nextToken: undefined };
      },
      () => clock,
      600_000,
      60_000,
    );
    const denied = { kind: 'unread', why: 'Organizations ListAccounts failed: AccessDeniedException' };

    expect(await read()).toEqual(denied);
    fail = false;
    clock = 59_999;
    expect(await read()).toEqual(denied);
    expect(calls).toBe(1);
    clock = 60_000;
    expect(await read()).toEqual({ kind: 'read', ids: new Set(['222233334444']) });
    expect(calls).toBe(2);
  });

  it('keeps no failure when the deadline is spent: the retry reads again', async () => {
    let calls = 0;
    const deadline = Object.assign(new Error('late'), { name: 'DeadlineExceeded' });
    const read = orgAccountsReader(
      async () => {
        calls++;
        if (calls === 1) throw deadline;
        return { ids: ['222233334444'], nextToken: undefined };
      },
      () => 0,
    );

    await expect(read()).rejects.toBe(deadline);
    expect(await read()).toEqual({ kind: 'read', ids: new Set(['222233334444']) });
  });

  it("names the service's code of a classified failure, kept to a code's characters, and lets a spent deadline through", async () => {
    const failing = (error: unknown) =>
      orgAccountsReader(
        async () => {
          throw error;
        },
        () => 0,
      );

    expect(await failing(new AwsCallError('Organizations.ListAccounts', 'organization', 'transient', 'TooManyRequestsException'))()).toEqual({
      kind: 'unread',
      why: 'Organizations ListAccounts failed: TooManyRequestsException',
    });
    expect(await failing(Object.assign(new Error('x'), { name: 'Bad\u001b[2JCode' }))()).toEqual({
      kind: 'unread',
      why: 'Organizations ListAccounts failed: Bad??2JCode',
    });
    // The invocation's time is spent: the event is retried (transient), never decided on accounts not read.
    const deadline = Object.assign(new Error('late'), { name: 'DeadlineExceeded' });
    await expect(failing(deadline)()).rejects.toBe(deadline);
  });

  it('reports an organisation too large to read rather than half-reading it', async () => {
    const read = orgAccountsReader(
      async () => ({ ids: ['222233334444'], nextToken: 'more' }),
      () => 0,
    );

    expect(await read()).toMatchObject({ kind: 'unread', why: expect.stringContaining('more than 500 pages') });
  });
});

describe('the sharing verdict', () => {
  const read = view({ kind: 'read', ids: new Set(['222233334444']) });
  const unread = view({ kind: 'unread', why: 'AccessDenied' });
  const same = (g: Grantee) => g;
  const always = () => true;

  it('targets exactly the outside grantees still granted, and says which stay and why', () => {
    const added: Grantee[] = [account('222233334444'), account('444455556666'), account('555566667777'), { kind: 'public' }];
    const stillGranted = (g: Grantee) => g.kind === 'public' || (g.kind === 'account' && g.id !== '555566667777');
    const verdict = sharingVerdict('snapshot snap-1', added, same, stillGranted, read);
    expect(verdict.kind).toBe('outside');
    if (verdict.kind !== 'outside') return;
    expect(verdict.targets).toEqual([account('444455556666'), { kind: 'public' }]);
    expect(verdict.isPublic).toBe(true);
    expect(verdict.reason).toMatch(
      /^snapshot snap-1 shared outside: 444455556666 is outside .*; everyone \(public\); no longer shared with 555566667777; left shared \(inside\): 222233334444 is an account/,
    );
  });

  it('is inside, gone or unjudged, never a target, when nothing outside is still granted', () => {
    expect(sharingVerdict('x', [account(OWN)], same, always, read).kind).toBe('inside');
    expect(sharingVerdict('x', [account('444455556666')], same, () => false, read).kind).toBe('gone');
    const unjudged = sharingVerdict('x', [account('444455556666')], same, always, unread);
    expect(unjudged).toEqual({
      kind: 'unjudged',
      reason: expect.stringMatching(/could not judge, left shared: 444455556666 .*could not be read \(AccessDenied\)/),
    });
  });

  it('maps items to grantees, so a rule keeps its own values as targets', () => {
    const verdict = sharingVerdict('x', ['all', OWN], (value: string): Grantee => (value === 'all' ? { kind: 'public' } : account(value)), always, read);
    expect(verdict).toMatchObject({ kind: 'outside', targets: ['all'], isPublic: true });
  });

  it('names ten parts at most and counts the rest', () => {
    const parts = Array.from({ length: 13 }, (_, i) => `p${i}`);
    expect(listedForReason(parts)).toBe('p0; p1; p2; p3; p4; p5; p6; p7; p8; p9; … and 3 more');
    expect(listedForReason(['a', 'b'])).toBe('a; b');
  });
});
