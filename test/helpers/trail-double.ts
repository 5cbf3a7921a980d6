import { CloudTrailClient, GetTrailCommand, GetTrailStatusCommand, StartLoggingCommand } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadSample } from './samples.js';

// One stopped trail and the CloudTrail client around it, for the runner tests that replay StopLogging events
// against it under faults, concurrency and locks. Each test file gets its own module instance, so its own mock.

/** The CloudTrail client mock (reset it in the test file's beforeEach). */
export const cloudTrail = mockClient(CloudTrailClient);

export const EXAMPLE_ACCOUNT = '111122223333';
/** The example trail's ARN in `account` (home Region us-east-1). */
export const trailArnIn = (account = EXAMPLE_ACCOUNT) => `arn:aws:cloudtrail:us-east-1:${account}:trail/example-audit-trail`;
/** The example trail as GetTrail describes it, in `account`. */
export const trailIn = (account = EXAMPLE_ACCOUNT) => ({
  Name: 'example-audit-trail',
  TrailARN: trailArnIn(account),
  HomeRegion: 'us-east-1',
  S3BucketName: 'example-cloudtrail-logs',
  IsOrganizationTrail: false,
  IsMultiRegionTrail: true,
  IncludeGlobalServiceEvents: true,
  LogFileValidationEnabled: true,
});

/** An SDK error as the client throws it: a name, and an HTTP status when the service answered. */
export const sdkError = (name: string, status?: number) =>
  Object.assign(new Error(name), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });

export type TrailEvent = { id: string; account: string; detail: Record<string, unknown> };
/** The StopLogging sample: the example trail, stopped by name. */
export const STOPPED = loadSample('trail-logging', 'would-remediate.stop-logging-by-name') as TrailEvent;

/** The trail's logging state behind the mock: read at call time and answered after `readDelayMs`; StartLogging starts it. */
export function trailDouble(options: { readonly account?: string; readonly readDelayMs?: number } = {}) {
  const trail = { logging: false };
  cloudTrail.on(GetTrailCommand).resolves({ Trail: trailIn(options.account) });
  cloudTrail.on(GetTrailStatusCommand).callsFake(async () => {
    const isLogging = trail.logging; // read at call time, answered later: what a slow read-back does
    if (options.readDelayMs) await sleep(options.readDelayMs);
    return { IsLogging: isLogging };
  });
  cloudTrail.on(StartLoggingCommand).callsFake(() => {
    trail.logging = true;
    return {};
  });
  return trail;
}
