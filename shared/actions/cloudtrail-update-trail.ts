/**
 * CloudTrail.UpdateTrail: turns a weakened trail's settings back on (trail-logging), or puts their earlier values
 * back (undo), in the trail's home Region. Only the settings of SETTINGS that have a restore input.
 */
import { GetTrailCommand, UpdateTrailCommand } from '@aws-sdk/client-cloudtrail';
import * as v from 'valibot';
import { awsCall } from '../aws/errors.js';
import { camelOf, RESTORES, restoresIn, SETTING_ENTRIES, settingInputs, TrailName, trailFlags, TrailSettingInputs } from '../cloudtrail/trail-actions.js';
import { awsCommand } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';

/** The SDK input, as trailguard writes it: the trail, and at least one restorable setting, each a boolean. */
export const UpdateTrailParams = v.pipe(
  v.strictObject({ Name: TrailName, ...SETTING_ENTRIES }),
  v.check((params) => restoresIn(params).length > 0, 'at least one of the trail settings trailguard restores'),
);
export type UpdateTrailParams = v.InferOutput<typeof UpdateTrailParams>;

/** What the write replaced: the same settings, with the values GetTrail read before. */
export const UpdateTrailPrevious = TrailSettingInputs;
export type UpdateTrailPrevious = TrailSettingInputs;

/** The settings' names as CloudTrail records them in `requestParameters` (S/cloudtrail-UpdateTrail-records-file-no-weakening.json). */
const RECORDED_SETTINGS: ReadonlySet<string> = new Set(RESTORES.map((r) => camelOf(r.input)));

/**
 * The trail's name and at least one restorable setting, each `true`: trailguard's UpdateTrail only turns settings
 * on. Any other field (a KMS key, a bucket) or a setting turned off is not ours.
 */
export const updateTrailSignature = {
  api: 'CloudTrail.UpdateTrail',
  eventName: 'UpdateTrail',
  isOwnWrite(request) {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) return false;
    const fields = request as Readonly<Record<string, unknown>>;
    if (typeof fields.name !== 'string') return false;
    const settings = Object.keys(fields).filter((key) => key !== 'name');
    return settings.length > 0 && settings.every((key) => RECORDED_SETTINGS.has(key) && fields[key] === true);
  },
} as const satisfies SelfSignature;

/** Each setting as `Input=value`, for a person. */
const listed = (inputs: TrailSettingInputs) =>
  restoresIn(inputs)
    .map((r) => `${r.input}=${String(inputs[r.input])}`)
    .join(', ');

export const updateTrail = {
  // A literal, not `updateTrailSignature.api`: a property read would keep this object (and its SDK commands) in every
  // bundle that imports only the signature. test/shared/actions/cloudtrail-*.test.ts holds the two equal.
  api: 'CloudTrail.UpdateTrail',
  iam: 'cloudtrail:UpdateTrail',
  clients: ['cloudTrailIn'],
  params: UpdateTrailParams,
  previous: UpdateTrailPrevious,
  retriggers: true,
  signature: updateTrailSignature,
  // A trail is changed in its home Region only (a shadow trail refuses with InvalidHomeRegionException): the step's.
  async perform({ params, region }, { cloudTrailIn }) {
    await cloudTrailIn(region).send(new UpdateTrailCommand(params));
  },
  // Each setting reads back as the params want it: `true` after a restore, the earlier value (often `false`) after an undo.
  async verify({ params, region }, { cloudTrailIn }) {
    const answer = await awsCall('CloudTrail.GetTrail', params.Name, () => cloudTrailIn(region).send(new GetTrailCommand({ Name: params.Name })));
    const trail = answer.Trail;
    if (!trail) return { ok: false, detail: 'GetTrail answered without a trail' };
    const restores = restoresIn(params);
    const isOn = (read: (typeof restores)[number]['read']) => trail[read] === true;
    const differ = restores.filter((r) => isOn(r.read) !== params[r.input]);
    return differ.length === 0
      ? { ok: true, detail: `GetTrail reads ${restores.map((r) => `${r.read}: ${String(isOn(r.read))}`).join(', ')}` }
      : { ok: false, detail: `GetTrail still reads ${differ.map((r) => `${r.read} ${isOn(r.read) ? 'on' : 'off'}`).join(', ')}` };
  },
  reverse(step): Reversal {
    const { params, previous, resource, region } = step;
    if (!previous || restoresIn(previous).length === 0) {
      return { kind: 'none', why: 'the record has no earlier trail settings (not read): nothing known to put back' };
    }
    // Back to what GetTrail read before; what it replaces is the settings this write set.
    const back = { Name: params.Name, ...settingInputs(restoresIn(previous), (r) => previous[r.input] === true) };
    const replaced = settingInputs(restoresIn(params), (r) => params[r.input] === true);
    return { kind: 'steps', steps: [reverseStepOf(updateTrail, { ...resource, region }, back, replaced)] };
  },
  command(step) {
    const { params } = step;
    return awsCommand('cloudtrail', 'update-trail', {
      ...trailFlags(step),
      ...Object.fromEntries(restoresIn(params).map((r) => [camelOf(r.input), params[r.input]])),
    });
  },
  describe: ({ params }) => `set ${listed(params)} on trail ${params.Name}`,
} as const satisfies ActionType<UpdateTrailParams, UpdateTrailPrevious, 'cloudTrailIn'>;
