/**
 * Per-resource locks: live, one decision at a time per rule and resource, so concurrent events on one resource
 * do not all read the old state and all act and page. Which locks a run takes (named so every form of a
 * resource's name meets), taking them in order, waiting for a holder, and freeing them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import { isReadCommand } from '../aws/client-options.js';
import { AwsCallError } from '../errors.js';
import { whereOf, type AnyRule, type ResourceRef, type RuleFacts, type RunContext } from '../rule.js';
import type { StateStore } from '../state/store.js';
import { CLAIM_LOCK_MS } from './claim.js';
import { claimLockMs } from './deadline.js';
import type { RunDeps } from './deps.js';

/** How long a resource lock holds if its holder dies without freeing it, without a deadline: as long as a claim. */
const RESOURCE_LOCK_MS = CLAIM_LOCK_MS;
/**
 * In Lambda, the time an invocation keeps for its own work under a resource lock (inspect, breaker, act, verify,
 * each possibly retried): it waits for a lock another invocation holds until its deadline less this, then is retried.
 */
export const LOCK_WORK_BUDGET_MS = 10_000;
/** Without a deadline (replay, CLI), how long a run waits for a resource lock another run holds. */
const LOCK_WAIT_MS = 30_000;
/** Polls of a held lock back off from 100 ms to 1 s: a holder normally frees it within a second or two. */
const LOCK_POLL_FIRST_MS = 100;
const LOCK_POLL_MAX_MS = 1_000;

/** True when a rule declares a write; notify-only rules never act, so they need no resource lock. */
function mayWrite(rule: AnyRule): boolean {
  return Object.keys(rule.permissions).some((api) => !isReadCommand(api.slice(api.indexOf('.') + 1)));
}

/**
 * The resource locks a run takes (live, with a store, for a rule that may write): `rule#key`, sorted and unique,
 * the key from the rule's `lockKey` or `account#region#id`. Named so, an event naming a trail by ARN waits for one
 * naming it by name, and same-named trails of other accounts or Regions do not wait at all.
 */
export async function lockNamesOf(rule: AnyRule, facts: RuleFacts, context: RunContext, clients: unknown, deps: RunDeps): Promise<readonly string[]> {
  if (!deps.store || deps.mode !== 'live' || !mayWrite(rule)) return [];
  const keys = await Promise.all(facts.resources.map((resource) => rule.lockKey?.(resource, context, clients) ?? defaultLockKey(resource, context)));
  return [...new Set(keys.map((key) => `${rule.id}#${key}`))].sort();
}

/** A resource's identity without a rule's own `lockKey`: the run's account, the resource's Region (else the run's), its id. */
export function defaultLockKey(resource: ResourceRef, context: RunContext): string {
  const { account, region } = whereOf(context);
  return `${account ?? 'unknown-account'}#${resource.region ?? region}#${resource.id}`;
}

/**
 * Live: one decision at a time per rule and resource. Concurrent events on one resource (twenty StopLogging
 * in flight) would otherwise all read the old state and all act and page; under the lock the next one reads
 * the state the first left. Locks are taken in sorted order (no deadlock between multi-resource events); one
 * still held when the wait ends is a transient error, so the event is retried, never lost.
 */
export async function withResourceLocks<T>(names: readonly string[], deps: RunDeps, body: () => Promise<T>): Promise<T> {
  const store = deps.store;
  if (!store || names.length === 0) return body();
  const owner = randomUUID();
  const tried: string[] = [];
  try {
    for (const name of names) {
      // Freed below even if taking it failed: a lock write can land with its error (or lost response) reported.
      tried.push(name);
      await waitForLock(store, name, owner, deps);
    }
    return await body();
  } finally {
    // Only this owner's locks are freed; best effort: one that could not be freed lapses with this invocation.
    await Promise.all(tried.map((name) => store.unlockResource(name, owner).catch(() => undefined)));
  }
}

/**
 * Takes a lock, waiting while another invocation holds it: in Lambda until this invocation's deadline less its
 * own work budget (LOCK_WORK_BUDGET_MS), without a deadline for LOCK_WAIT_MS. A holder normally frees it within
 * seconds; one that died frees it when its lock lapses (the end of its invocation), polled for right then.
 */
async function waitForLock(store: StateStore, name: string, owner: string, deps: RunDeps): Promise<void> {
  const started = deps.now();
  const giveUpAt = deps.deadline === undefined ? started + LOCK_WAIT_MS : deps.deadline - LOCK_WORK_BUDGET_MS;
  let slept = 0;
  for (let pause = LOCK_POLL_FIRST_MS; ; pause = Math.min(2 * pause, LOCK_POLL_MAX_MS)) {
    // In Lambda, held until the invocation ends (as the claim): a holder that timed out blocks no longer than that.
    const attempt = await store.lockResource(name, owner, deps.now(), claimLockMs(deps, RESOURCE_LOCK_MS));
    if (attempt.kind === 'taken') return;
    const now = deps.now();
    // Slept time counts too: a clock that does not move (a test's, a replay's fixed time) still ends the wait.
    const left = Math.min(giveUpAt - now, giveUpAt - started - slept);
    if (left <= 0) {
      throw new AwsCallError(
        'DynamoDB.PutItem',
        `lock#${name}`,
        'transient',
        'ResourceLocked',
        `another invocation is deciding on ${name} (its lock holds until ${new Date(attempt.until).toISOString()} unless freed): retried once it is done`,
      );
    }
    // Jittered, so the runs queued behind one holder do not poll in step; never past the holder's lapse.
    const wait = Math.max(1, Math.min(left, pause * (0.5 + Math.random() / 2), attempt.until + 1 - now));
    await sleep(wait);
    slept += wait;
  }
}
