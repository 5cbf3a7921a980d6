/** CloudTrail.StartLogging: restarts a stopped trail (trail-logging), in the trail's home Region. Never undone. */
import { GetTrailStatusCommand, StartLoggingCommand } from '@aws-sdk/client-cloudtrail';
import * as v from 'valibot';
import { awsCall } from '../aws/errors.js';
import { TrailName, trailFlags } from '../cloudtrail/trail-actions.js';
import { awsCommand } from '../shell.js';
import type { ActionType, SelfSignature } from './action.js';

/** The SDK input: the trail, by name or ARN. */
export const StartLoggingParams = v.strictObject({ Name: TrailName });
export type StartLoggingParams = v.InferOutput<typeof StartLoggingParams>;

/** What the restart replaced: a trail that was not logging (read with GetTrailStatus before acting). */
export const StartLoggingPrevious = v.strictObject({ IsLogging: v.literal(false) });
export type StartLoggingPrevious = v.InferOutput<typeof StartLoggingPrevious>;

/** Any StartLogging of trailguard's roles is its own: a restart only ever records more. */
export const startLoggingSignature = {
  api: 'CloudTrail.StartLogging',
  eventName: 'StartLogging',
  isOwnWrite: () => true,
} as const satisfies SelfSignature;

export const startLogging = {
  // A literal, not `startLoggingSignature.api`: a property read would keep this object (and its SDK commands) in every
  // bundle that imports only the signature. test/shared/actions/cloudtrail-*.test.ts holds the two equal.
  api: 'CloudTrail.StartLogging',
  iam: 'cloudtrail:StartLogging',
  clients: ['cloudTrailIn'],
  params: StartLoggingParams,
  previous: StartLoggingPrevious,
  retriggers: false,
  signature: startLoggingSignature,
  // A trail is changed in its home Region only (a shadow trail refuses with InvalidHomeRegionException): the step's.
  async perform({ params, region }, { cloudTrailIn }) {
    await cloudTrailIn(region).send(new StartLoggingCommand(params));
  },
  async verify({ params, region }, { cloudTrailIn }) {
    const status = await awsCall('CloudTrail.GetTrailStatus', params.Name, () => cloudTrailIn(region).send(new GetTrailStatusCommand({ Name: params.Name })));
    return status.IsLogging === true
      ? { ok: true, detail: 'GetTrailStatus reads IsLogging: true' }
      : { ok: false, detail: 'GetTrailStatus still reads IsLogging: false' };
  },
  reverse: () => ({
    kind: 'none',
    why: 'StartLogging is never undone: a stopped trail blinds every rule and the audit record. Stop it yourself (aws cloudtrail stop-logging) only if you really must',
  }),
  command: (step) => awsCommand('cloudtrail', 'start-logging', trailFlags(step)),
  describe: ({ params }) => `start logging on trail ${params.Name}`,
} as const satisfies ActionType<StartLoggingParams, StartLoggingPrevious, 'cloudTrailIn'>;
