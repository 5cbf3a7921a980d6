/**
 * The weekly exemption notice's work, with its reads and its publish injected: read every exemption (the store,
 * recursively, and the deploy-time ones), publish one notification when any expires within NOTICE_DAYS or has
 * expired, and log one summary line. A store that cannot be read, or a publish that fails, throws: the function's
 * Errors alarm tells an operator, and Lambda's asynchronous retries try again (the dedupKey folds a second copy).
 */
import type { Exemption } from '../../shared/config.js';
import { dayOf, type ListedExemption } from '../../shared/exemption-store.js';
import type { Logger } from '../../shared/log.js';
import type { Notify } from '../../shared/notifier.js';
import { deployedListed, expiryFindings, expiryNotification, type NoticeContext } from './notice.js';

/** The line every run logs, once. */
export const NOTICE_MESSAGE = 'trailguard exemption expiry';

export interface ExpiryJobDeps extends NoticeContext {
  /** Every exemption of the store, valid or not; undefined when the stack has no parameter prefix. */
  readonly readStore: (() => Promise<readonly ListedExemption[]>) | undefined;
  readonly deployed: readonly Exemption[];
  /** Publishes to the alert topic; undefined when no topic is configured. */
  readonly notify: Notify | undefined;
  readonly now: () => number;
  readonly log: Logger;
}

export interface ExpiryJobResult {
  readonly expiring: number;
  readonly expired: number;
  readonly invalid: number;
  /** The SNS message id, `none` (nothing to tell) or `no topic`. */
  readonly notification: string;
}

export async function runExpiryJob(deps: ExpiryJobDeps): Promise<ExpiryJobResult> {
  const stored = deps.readStore ? await deps.readStore() : [];
  const findings = expiryFindings([...stored, ...deployedListed(deps.deployed)], dayOf(deps.now()));
  const notification = expiryNotification(findings, deps);
  let outcome = 'none';
  if (notification && !deps.notify) {
    outcome = 'no topic';
  } else if (notification && deps.notify) {
    try {
      outcome = await deps.notify(notification);
    } catch (error) {
      deps.log.error(NOTICE_MESSAGE, {
        expiring: findings.expiring.length,
        expired: findings.expired.length,
        notification: 'failed',
        error: (error as Error).name,
      });
      throw error;
    }
  }
  const result = { expiring: findings.expiring.length, expired: findings.expired.length, invalid: findings.invalid, notification: outcome };
  (outcome === 'no topic' ? deps.log.warn : deps.log.info).call(deps.log, NOTICE_MESSAGE, { ...result, store: deps.storePath ?? null });
  return result;
}
