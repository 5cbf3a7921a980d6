/**
 * Backtest sources for `trailguard replay`: the account's own CloudTrail history, read with LookupEvents
 * (management events, last 90 days) or from the trail's log files in S3. Both yield the same items as
 * files do, so every event goes through `routeEvent` and the rules exactly like a replayed file.
 */
import {
  CloudTrailClient,
  LookupEventsCommand,
  type LookupEventsCommandInput,
  type LookupEventsCommandOutput,
  type ServiceInputTypes,
  type ServiceOutputTypes,
} from '@aws-sdk/client-cloudtrail';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { FinalizeRequestMiddleware } from '@smithy/types';
import { gunzipSync } from 'node:zlib';
import { RULES } from '../functions/rules.js';
import { addReadOnlyGuard, baseClientConfig } from '../shared/aws/client-options.js';
import { classifyAwsError } from '../shared/aws/errors.js';
import { eventsIn, withoutBom, type InputItem } from './inputs.js';
import { InputProblem } from './usage.js';

/** Time, injectable so tests assert pacing without real sleeps. */
export interface Clock {
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export const realClock: Clock = {
  now: Date.now,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** LookupEvents allows about 2 calls per second per account and region: one request per 500 ms at most, retries included. */
export const LOOKUP_MIN_INTERVAL_MS = 500;
/**
 * Attempts of one LookupEvents call, the first included. The SDK's retry strategy (adaptive, as every client's:
 * shared/aws/client-options.ts) waits between them: for throttling a random time up to 1 s, 2 s, 4 s … capped at
 * 20 s, so 8 retries span about 45 s on average, and it slows the client's own sending once throttled.
 */
export const LOOKUP_MAX_ATTEMPTS = 9;
/** LookupEvents keeps the last 90 days of management events: a window reaching further back cannot be read there. */
export const LOOKUP_HISTORY_DAYS = 90;
/** LookupEvents returns at most 50 events per page. */
const PAGE_SIZE = 50;

/** The event sources the rules' patterns select (`detail.eventSource`): one LookupEvents filter each. */
export function ruleEventSources(): string[] {
  const sources = new Set<string>();
  for (const rule of RULES) {
    const detail = (rule.pattern as { detail?: { eventSource?: unknown } }).detail;
    for (const source of Array.isArray(detail?.eventSource) ? detail.eventSource : []) if (typeof source === 'string') sources.add(source);
  }
  return [...sources].sort();
}

/**
 * The LookupEvents passes a backtest makes: one per event name for every source whose rules all name their
 * events (LookupEvents filters on one attribute, and a source pass would page through every Decrypt or
 * Describe call: millions on a busy account, hours at 2 calls per second), one per source otherwise.
 */
export function ruleLookupPlan(): { readonly eventSources: string[]; readonly eventNames: string[] } {
  const names = new Set<string>();
  const unnamed = new Set<string>();
  for (const rule of RULES) {
    const detail = (rule.pattern as { detail?: { eventSource?: unknown; eventName?: unknown } }).detail;
    const sources = Array.isArray(detail?.eventSource) ? detail.eventSource.filter((s): s is string => typeof s === 'string') : [];
    const eventNames = Array.isArray(detail?.eventName) ? detail.eventName : [];
    const allNamed = eventNames.length > 0 && eventNames.every((name) => typeof name === 'string');
    for (const source of sources) if (!allNamed) unnamed.add(source);
    if (allNamed && sources.length > 0) for (const name of eventNames as string[]) names.add(name);
  }
  return { eventSources: [...unnamed].sort(), eventNames: [...names].sort() };
}

/**
 * The user names the rules select on whatever service was called: a pattern on `userIdentity.type: Root`
 * (root-activity) matches root calls to any service, which per-source passes would never fetch.
 * LookupEvents records the root user's name as `root`.
 */
export function ruleLookupUsernames(): string[] {
  const rootPattern = RULES.some((rule) => {
    const type = (rule.pattern as { detail?: { userIdentity?: { type?: unknown } } }).detail?.userIdentity?.type;
    return Array.isArray(type) && type.includes('Root');
  });
  return rootPattern ? ['root'] : [];
}

/**
 * An AWS call of a backtest source failed: the problem names the call, then the service's code and message, and
 * for a transient failure (throttling, 5xx, timeout) how many attempts the SDK's retries made.
 */
export function callFailed(call: string, error: unknown): InputProblem {
  const { code, kind, detail } = classifyAwsError(error, call, 'backtest');
  const attempts = (error as { $metadata?: { attempts?: unknown } } | null)?.$metadata?.attempts;
  const note = kind === 'transient' && typeof attempts === 'number' && attempts > 1 ? ` (still failing after ${attempts} attempts)` : '';
  return new InputProblem(`${call} failed: ${code}${detail && detail !== code ? `: ${detail}` : ''}${note}`, { cause: error });
}

/** Spaces calls at least `intervalMs` apart, by the injected clock. */
export class Pacer {
  private last = Number.NEGATIVE_INFINITY;
  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
  ) {}

  async wait(): Promise<void> {
    const delay = this.last + this.intervalMs - this.clock.now();
    if (delay > 0) await this.clock.sleep(delay);
    this.last = this.clock.now();
  }
}

export interface LookupOptions {
  readonly client: CloudTrailClient;
  readonly startTime: Date;
  readonly endTime: Date;
  /** One pass per event source (the rules' by default); undefined reads every management event unfiltered. */
  readonly eventSources: readonly string[] | undefined;
  /** Extra passes filtered by event name (see ruleLookupPlan); ignored when `eventSources` is undefined (all events). */
  readonly eventNames?: readonly string[];
  /** Extra passes filtered by user name (see ruleLookupUsernames); ignored when `eventSources` is undefined (all events). */
  readonly usernames?: readonly string[];
  /** Told about each page (the progress line, or stderr). */
  readonly onPage?: (note: string) => void;
}

export interface LookupClientOptions {
  readonly clock?: Clock;
  readonly intervalMs?: number;
  readonly maxAttempts?: number;
  /** Told about each retry the SDK makes (the progress line, or stderr): a throttled backtest is slow, not stuck. */
  readonly onRetry?: (note: string) => void;
}

/** The retry middleware's per-attempt header: `attempt=2; max=9`. */
const ATTEMPT_HEADER = /^attempt=(\d+); max=(\d+)$/;

/**
 * A CloudTrail client for LookupEvents: read-only, the region's endpoint (or AWS_ENDPOINT_URL), the SDK's
 * retries with LOOKUP_MAX_ATTEMPTS, and every request paced to the API's rate. The pacing sits after the
 * SDK's retry middleware, so it spaces each attempt, a retry included, not only each page.
 */
export function lookupClient(region: string, endpoint: string | undefined, options: LookupClientOptions = {}): CloudTrailClient {
  const client = new CloudTrailClient({ ...baseClientConfig({ region, endpoint, readOnly: true }), maxAttempts: options.maxAttempts ?? LOOKUP_MAX_ATTEMPTS });
  addReadOnlyGuard(client, 'CloudTrail');
  const pacer = new Pacer(options.clock ?? realClock, options.intervalMs ?? LOOKUP_MIN_INTERVAL_MS);
  const pacing: FinalizeRequestMiddleware<ServiceInputTypes, ServiceOutputTypes> = (next) => async (args) => {
    const header = (args.request as { headers?: Record<string, string> } | undefined)?.headers?.['amz-sdk-request'];
    const attempt = ATTEMPT_HEADER.exec(header ?? '');
    if (attempt && Number(attempt[1]) > 1) options.onRetry?.(`LookupEvents: retry ${Number(attempt[1]) - 1} of ${Number(attempt[2]) - 1}`);
    await pacer.wait();
    return next(args);
  };
  client.middlewareStack.addRelativeTo(pacing, { relation: 'after', toMiddleware: 'retryMiddleware', name: 'trailguardLookupPacing' });
  return client;
}

/**
 * Every event LookupEvents returns for the window, all pages (NextToken), through a `lookupClient` (which
 * paces and retries). Each `CloudTrailEvent` string is parsed into the bare record.
 */
export async function* lookupEvents(options: LookupOptions): AsyncGenerator<InputItem> {
  type Filter = { readonly AttributeKey: 'EventSource' | 'EventName' | 'Username'; readonly AttributeValue: string };
  const passes: (Filter | undefined)[] = options.eventSources
    ? [
        ...options.eventSources.map((value): Filter => ({ AttributeKey: 'EventSource', AttributeValue: value })),
        ...(options.eventNames ?? []).map((value): Filter => ({ AttributeKey: 'EventName', AttributeValue: value })),
        ...(options.usernames ?? []).map((value): Filter => ({ AttributeKey: 'Username', AttributeValue: value })),
      ]
    : [undefined];
  // Passes overlap (root's S3 calls are in the s3 and the root pass): each event is replayed once.
  const seen = new Set<string>();
  for (const filter of passes) {
    const label = filter ? `lookup:${filter.AttributeKey === 'Username' ? `user ${filter.AttributeValue}` : filter.AttributeValue}` : 'lookup';
    let token: string | undefined;
    let page = 0;
    do {
      page += 1;
      const input: LookupEventsCommandInput = {
        StartTime: options.startTime,
        EndTime: options.endTime,
        MaxResults: PAGE_SIZE,
        ...(filter ? { LookupAttributes: [filter] } : {}),
        ...(token ? { NextToken: token } : {}),
      };
      let answer: LookupEventsCommandOutput;
      try {
        answer = await options.client.send(new LookupEventsCommand(input));
      } catch (error) {
        throw callFailed('LookupEvents', error);
      }
      options.onPage?.(`${label} page ${page}`);
      for (const [index, event] of (answer.Events ?? []).entries()) {
        if (event.EventId && seen.has(event.EventId)) continue;
        if (event.EventId) seen.add(event.EventId);
        const source = `${label}#${event.EventId ?? `${page}.${index}`}`;
        if (typeof event.CloudTrailEvent !== 'string') {
          yield { kind: 'error', source, problem: 'LookupEvents item without a CloudTrailEvent string' };
          continue;
        }
        try {
          yield { kind: 'event', source, value: JSON.parse(event.CloudTrailEvent) };
        } catch (error) {
          yield { kind: 'error', source, problem: `CloudTrailEvent is not JSON: ${(error as Error).message}` };
        }
      }
      token = answer.NextToken;
    } while (token);
  }
}

/** `s3://bucket/prefix` → its parts; undefined for anything else. */
export function parseS3Url(url: string): { readonly bucket: string; readonly prefix: string } | undefined {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) return undefined;
  return { bucket: match[1] as string, prefix: match[2] ?? '' };
}

/** A CloudTrail log file key: `…AWSLogs/[o-org/]<account>/CloudTrail/<region>/yyyy/mm/dd/<file>.json.gz`. */
const LOG_FILE_KEY = /(?:^|\/)AWSLogs\/(?:o-[a-z0-9]+\/)?(\d{12})\/CloudTrail\/([a-z0-9-]+)\/(\d{4})\/(\d{2})\/(\d{2})\/[^/]+\.json(?:\.gz)?$/;

/** Whether a key is a log file in the window (and region): by its day, so a file of the `since` day counts. */
export function logFileInWindow(key: string, since: number, until: number, region: string | undefined): boolean {
  if (key.includes('/CloudTrail-Digest/')) return false;
  const match = LOG_FILE_KEY.exec(key);
  if (!match) return false;
  if (region && match[2] !== region) return false;
  const day = Date.UTC(Number(match[3]), Number(match[4]) - 1, Number(match[5]));
  return day + 86_400_000 > since && day <= until;
}

/** An S3 client for reading log files: read-only, and it follows the bucket to its own region. */
export function logBucketClient(region: string, endpoint: string | undefined): S3Client {
  const client = new S3Client({
    ...baseClientConfig({ region, endpoint, readOnly: true }),
    forcePathStyle: endpoint !== undefined,
    followRegionRedirects: true,
  });
  addReadOnlyGuard(client, 'S3');
  return client;
}

export interface S3LogOptions {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  readonly since: number;
  readonly until: number;
  readonly region: string | undefined;
  readonly onFile?: (note: string) => void;
}

function eventTimeOf(value: unknown): number | undefined {
  const time = value && typeof value === 'object' ? (value as { eventTime?: unknown }).eventTime : undefined;
  const ms = typeof time === 'string' ? Date.parse(time) : Number.NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The events of every CloudTrail log file under `s3://bucket/prefix` in the window: ListObjectsV2 (all
 * pages), digest files skipped, each object read and gunzipped, each record's `eventTime` checked.
 */
export async function* s3LogEvents(options: S3LogOptions): AsyncGenerator<InputItem> {
  let token: string | undefined;
  do {
    const page = await options.client
      .send(
        new ListObjectsV2Command({
          Bucket: options.bucket,
          Prefix: options.prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      )
      .catch((error: unknown) => {
        throw callFailed(`ListObjectsV2 on s3://${options.bucket}/${options.prefix}`, error);
      });
    for (const object of page.Contents ?? []) {
      const key = object.Key;
      if (!key || !logFileInWindow(key, options.since, options.until, options.region)) continue;
      const source = `s3://${options.bucket}/${key}`;
      options.onFile?.(source);
      let parsed: unknown;
      try {
        const answer = await options.client.send(new GetObjectCommand({ Bucket: options.bucket, Key: key }));
        const bytes = Buffer.from((await answer.Body?.transformToByteArray()) ?? new Uint8Array());
        const text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
        parsed = JSON.parse(withoutBom(text));
      } catch (error) {
        yield { kind: 'error', source, problem: `cannot read: ${(error as Error).message}` };
        continue;
      }
      for (const item of eventsIn(parsed, source)) {
        if (item.kind === 'event') {
          const at = eventTimeOf(item.value);
          if (at !== undefined && (at < options.since || at > options.until)) continue;
        }
        yield item;
      }
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
}
