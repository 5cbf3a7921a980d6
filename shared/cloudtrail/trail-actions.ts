/**
 * A trail as the CloudTrail actions validate, read and name it (shared by StartLogging and UpdateTrail): the trail
 * reference, the UpdateTrail settings trailguard restores (from SETTINGS), and the flags of a trail command.
 */
import * as v from 'valibot';
import type { Step } from '../actions/action.js';
import { regionArg } from '../aws/names.js';
import { checked } from '../shell.js';
import { SETTINGS, trailRefFrom, type TrailSettings } from './trail.js';

/** True when CloudTrail takes this as a trail's `Name`: a trail name or a trail ARN. */
export const isTrailRef = (value: string): boolean => trailRefFrom(value) !== undefined;

/** A trail's `Name` in a StartLogging or UpdateTrail input: its name or ARN, as trailRefFrom accepts it. */
export const TrailName = v.pipe(v.string(), v.check(isTrailRef, 'a trail name (3-128 letters, digits, ., _, -, not an IP address) or a trail ARN'));

/** An UpdateTrail input trailguard restores (`EnableLogFileValidation`), as SETTINGS names it. */
export type RestoreInput = NonNullable<(typeof SETTINGS)[keyof typeof SETTINGS]['restore']>['input'];

/** A restorable setting: the UpdateTrail input that sets it, and the GetTrail field that reads it. */
export interface Restore {
  readonly input: RestoreInput;
  readonly read: keyof TrailSettings;
}

/** Every setting an UpdateTrail of trailguard's may set, in SETTINGS order (the order of the command's flags). */
export const RESTORES: readonly Restore[] = Object.values(SETTINGS).flatMap((s) => (s.restore ? [s.restore] : []));

/** `EnableLogFileValidation` → `enableLogFileValidation`: CloudTrail's record field and the CLI flag (camelCase) of an input. */
export const camelOf = (input: RestoreInput): string => `${input.charAt(0).toLowerCase()}${input.slice(1)}`;

const Setting = v.optional(v.boolean());
// Keyed by RestoreInput: a setting added to SETTINGS with a new input does not compile until it is listed here.
export const SETTING_ENTRIES: Readonly<Record<RestoreInput, typeof Setting>> = {
  EnableLogFileValidation: Setting,
  IsMultiRegionTrail: Setting,
  IncludeGlobalServiceEvents: Setting,
};

/** The restorable settings, each a boolean when given: UpdateTrail's previous (what the write replaced). */
export const TrailSettingInputs = v.strictObject(SETTING_ENTRIES);
export type TrailSettingInputs = v.InferOutput<typeof TrailSettingInputs>;

/** The restores `inputs` sets, in RESTORES order. */
export const restoresIn = (inputs: TrailSettingInputs): readonly Restore[] => RESTORES.filter((r) => inputs[r.input] !== undefined);

/** Settings inputs for `restores`, each with the value `valueFor` gives it. */
export function settingInputs(restores: readonly Restore[], valueFor: (restore: Restore) => boolean): TrailSettingInputs {
  const inputs: { -readonly [K in RestoreInput]?: boolean } = {};
  for (const restore of restores) inputs[restore.input] = valueFor(restore);
  return inputs;
}

/** `--region` and `--name` of a trail call, each refused (no command) unless CloudTrail would take it. */
export function trailFlags(step: Step<{ readonly Name: string }, unknown>) {
  return {
    region: regionArg(step.region),
    name: checked(step.params.Name, 'trail name', isTrailRef),
  };
}
