/**
 * The weekly exemption notice: one SNS notification listing the exemptions that expire within NOTICE_DAYS and
 * those already expired (store and deploy-time), or none at all when there are neither. Pure: the caller reads the
 * store and the clock. Every value from the store is attacker-controlled: shown through displayValue (controls and
 * format characters gone, one line, bounded), and the lists are capped so the message stays far inside SNS's 256 KB.
 */
import type { Exemption } from '../../shared/config.js';
import { statusOf, type ListedExemption } from '../../shared/exemption-store.js';
import { buildSubject, displayValue, type Notification } from '../../shared/notifier.js';

/** How far ahead the notice looks: two weekly notices see each exemption before it lapses. */
export const NOTICE_DAYS = 14;
/** Entries shown per list; the rest are counted (`trailguard exempt list` shows them all). */
export const LIST_LIMIT = 30;
// 2 × 30 entries of two such values, in the text (twice) and the JSON form (five times): under 150 KB at worst.
const VALUE_CHARS = 120;
/** The notice's `rule` attribute, for subscription filter policies: it is no rule's, and says what it is. */
export const NOTICE_KIND = 'exemption-expiry';

/** One exemption the notice names. */
export interface NoticeEntry {
  readonly source: 'store' | 'deploy';
  readonly rule: string;
  readonly resource: string;
  readonly reason: string;
  readonly expires: string;
  readonly days: number;
}

/** What the week's notice is about. */
export interface ExpiryFindings {
  readonly today: string;
  readonly expiring: readonly NoticeEntry[];
  readonly expired: readonly NoticeEntry[];
  /** Store values the functions ignore (the schema refuses them, or they are nested below a folder): counted, never shown. */
  readonly invalid: number;
}

/** The deploy-time exemptions in the store's listed form. */
export const deployedListed = (exemptions: readonly Exemption[]): ListedExemption[] =>
  exemptions.map((e) => ({
    source: 'deploy',
    rule: e.rule,
    parameter: undefined,
    problem: undefined,
    exemption: { resource: e.resource, reason: e.reason, ...(e.expires ? { expires: e.expires } : {}) },
  }));

/** Sorts the exemptions into expiring (within NOTICE_DAYS, today included) and expired, soonest first. */
export function expiryFindings(all: readonly ListedExemption[], today: string): ExpiryFindings {
  const entries = all
    .flatMap((listed): NoticeEntry[] => {
      const expires = listed.exemption?.expires;
      if (!listed.exemption || expires === undefined) return [];
      const { days } = statusOf(expires, today);
      if (days === undefined) return [];
      return [{ source: listed.source, rule: listed.rule ?? '?', resource: listed.exemption.resource, reason: listed.exemption.reason, expires, days }];
    })
    .sort((a, b) => a.days - b.days || a.rule.localeCompare(b.rule) || a.resource.localeCompare(b.resource));
  return {
    today,
    expiring: entries.filter((e) => e.days >= 0 && e.days <= NOTICE_DAYS),
    expired: entries.filter((e) => e.days < 0),
    invalid: all.filter((listed) => !listed.exemption).length,
  };
}

function entryLine(e: NoticeEntry): string {
  const when =
    e.days < 0
      ? `expired ${e.expires} (${-e.days} day${e.days === -1 ? '' : 's'} ago)`
      : `expires ${e.expires} (${e.days === 0 ? 'today' : `in ${e.days} day${e.days === 1 ? '' : 's'}`})`;
  return `  ${e.rule} ${displayValue(e.resource, VALUE_CHARS)}: ${when}, ${e.source === 'store' ? 'store' : 'deploy-time'}; reason: ${displayValue(e.reason, VALUE_CHARS)}`;
}

/** An entry of the JSON form: its store values bounded and on one line, as in the text. */
const jsonEntry = (e: NoticeEntry): NoticeEntry => ({ ...e, resource: displayValue(e.resource, VALUE_CHARS), reason: displayValue(e.reason, VALUE_CHARS) });

function listLines(entries: readonly NoticeEntry[]): string[] {
  const more = entries.length - LIST_LIMIT;
  return [...entries.slice(0, LIST_LIMIT).map(entryLine), ...(more > 0 ? [`  ... and ${more} more (trailguard exempt list shows every one)`] : [])];
}

/** Where the notice is from, for its subject and text. */
export interface NoticeContext {
  readonly account: string | null;
  readonly region: string | null;
  /** The store's exemptions folder; undefined when the stack has no parameter prefix (deploy-time exemptions only). */
  readonly storePath: string | undefined;
}

/** The one notification, or undefined when nothing expires within NOTICE_DAYS and nothing has expired. */
export function expiryNotification(findings: ExpiryFindings, context: NoticeContext): Notification | undefined {
  const { expiring, expired, today } = findings;
  if (expiring.length === 0 && expired.length === 0) return undefined;
  const title = [
    expiring.length > 0
      ? `${expiring.length} exemption${expiring.length === 1 ? '' : 's'} expire${expiring.length === 1 ? 's' : ''} within ${NOTICE_DAYS} days`
      : '',
    expired.length > 0 ? `${expired.length} expired` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const storeExpired = expired.filter((e) => e.source === 'store').length;
  const deployExpired = expired.length - storeExpired;
  const lines = [
    `trailguard exemptions on ${today} (UTC)${context.storePath ? `, from Parameter Store (${context.storePath}) and the deploy-time configuration` : ', from the deploy-time configuration'}.`,
    ...(expiring.length > 0
      ? [
          '',
          `Expiring within ${NOTICE_DAYS} days (${expiring.length}): the rules act on these resources again after the day shown. To keep one, renew it in place with a later --expires (trailguard exempt add --replace with the same --rule and --resource): it stays exempt throughout, unlike removing and adding it again.`,
          ...listLines(expiring),
        ]
      : []),
    ...(expired.length > 0 ? ['', `Expired (${expired.length}): they exempt nothing any more.`, ...listLines(expired)] : []),
    ...(storeExpired > 0
      ? [
          '',
          'Delete the expired exemptions of the store with:',
          '  trailguard exempt remove --expired --dry-run   (to see them first)',
          '  trailguard exempt remove --expired',
        ]
      : []),
    ...(deployExpired > 0 ? ['', 'Remove the expired deploy-time ones from TRAILGUARD_EXEMPTIONS (the stack parameter "exemptions") and deploy.'] : []),
    ...(findings.invalid > 0
      ? [
          '',
          `${findings.invalid} value${findings.invalid === 1 ? '' : 's'} in the store the functions ignore (invalid, or nested below a rule folder, which the functions never read): trailguard exempt list shows the problem.`,
        ]
      : []),
  ];
  const json = JSON.stringify({
    kind: NOTICE_KIND,
    today,
    noticeDays: NOTICE_DAYS,
    account: context.account,
    region: context.region,
    expiring: expiring.slice(0, LIST_LIMIT).map(jsonEntry),
    expiringTotal: expiring.length,
    expired: expired.slice(0, LIST_LIMIT).map(jsonEntry),
    expiredTotal: expired.length,
    invalid: findings.invalid,
  });
  return {
    subject: buildSubject('LOW', `trailguard: ${title}`, context.account, context.region),
    text: `${lines.join('\n')}\n`,
    json,
    attributes: { rule: NOTICE_KIND, severity: 'LOW', outcome: 'notice', account: context.account ?? 'unknown' },
    // One notice per account, Region and day: a retried invocation's copy folds into the first.
    dedupKey: `${NOTICE_KIND}:${context.account ?? 'unknown'}:${context.region ?? 'unknown'}:${today}`,
  };
}
