/**
 * EC2 tags and instance ids as the EC2 actions validate, read and print them (shared by CreateTags and DeleteTags,
 * StopInstances and StartInstances, which reverse each other: kept out of the action modules so none imports another
 * at module-init time).
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import * as v from 'valibot';
import type { Step } from '../actions/action.js';
import { isEc2Id, isInstanceId, regionArg } from '../aws/names.js';
import { checked, type Checked } from '../shell.js';
import { describeInstances, type InstanceNow } from './instance-reads.js';

/** Any EC2 resource id a tag call takes (`i-…`, `vol-…`). */
export const Ec2Id = v.pipe(v.string(), v.check(isEc2Id, 'an EC2 resource id'));
/** An EC2 instance id (8 or 17 hex digits). */
export const InstanceId = v.pipe(v.string(), v.check(isInstanceId, 'an EC2 instance id'));

/** CreateTags and DeleteTags take up to 1,000 resource ids (API reference). */
const MAX_RESOURCES = 1000;

/** A tag as trailguard writes it: a key EC2 allows to be set (1-128, not `aws:`), and its value (up to 256). */
export const Tag = v.strictObject({
  Key: v.pipe(
    v.string(),
    v.minLength(1),
    v.maxLength(128),
    v.check((key) => !key.toLowerCase().startsWith('aws:'), 'aws: keys are reserved'),
  ),
  Value: v.pipe(v.string(), v.maxLength(256)),
});
export type Tag = v.InferOutput<typeof Tag>;

/** The params of EC2.CreateTags and EC2.DeleteTags: the resources and the tags, each with its value. */
export const TagParams = v.strictObject({
  Resources: v.pipe(v.array(Ec2Id), v.minLength(1), v.maxLength(MAX_RESOURCES)),
  Tags: v.pipe(v.array(Tag), v.minLength(1)),
});
export type TagParams = v.InferOutput<typeof TagParams>;

const TagMap = v.record(v.string(), v.string());

/**
 * The `previous` of an `EC2.CreateTags` action. One resource: its tags. Several: `Tags` is what all of them held
 * (alike), which never holds a key the action adds, so `trailguard undo` removes exactly the added keys from each;
 * `TagsByResource` is each one's own. For `EC2.DeleteTags`, `Tags` is what it removes.
 */
export const TagsPrevious = v.strictObject({
  Tags: TagMap,
  TagsByResource: v.optional(v.record(v.string(), TagMap)),
});
export type TagsPrevious = v.InferOutput<typeof TagsPrevious>;

/** The params of EC2.StopInstances and EC2.StartInstances: the one instance trailguard acts on. */
export const InstanceParams = v.strictObject({ InstanceIds: v.strictTuple([InstanceId]) });
export type InstanceParams = v.InferOutput<typeof InstanceParams>;

/** What a stop replaces: the instance's state and tags when it was decided (its tags: a tag added since stops nothing). */
export const StopPrevious = v.strictObject({ State: v.string(), Tags: TagMap });
export type StopPrevious = v.InferOutput<typeof StopPrevious>;

/** What a start replaces: the instance's state. */
export const StartPrevious = v.strictObject({ State: v.string() });
export type StartPrevious = v.InferOutput<typeof StartPrevious>;

/** `--region` and `--resources` of a tag call, each refused (no command) unless EC2 would take it. */
export function tagFlags(step: Step<TagParams, unknown>): { readonly region: Checked; readonly resources: readonly Checked[]; readonly tags: string } {
  return {
    region: regionArg(step.region),
    resources: step.params.Resources.map((id) => checked(id, 'EC2 resource id', isEc2Id)),
    // With each value: DeleteTags then removes a tag only while it holds that value.
    tags: JSON.stringify(step.params.Tags.map((tag) => ({ Key: tag.Key, Value: tag.Value }))),
  };
}

/** `--region` and `--instance-ids` of an instance call. */
export function instanceFlags(step: Step<InstanceParams, unknown>): { readonly region: Checked; readonly instanceIds: readonly Checked[] } {
  return { region: regionArg(step.region), instanceIds: step.params.InstanceIds.map((id) => checked(id, 'instance id', isInstanceId)) };
}

/** The instance as read now; undefined when it no longer exists. */
export async function instanceNow(ec2: EC2Client, id: string): Promise<InstanceNow | undefined> {
  return (await describeInstances(ec2, [id])).get(id);
}

/** The id for one resource, "each of 2 resources (a, b)" for several: how verifications name where they read. */
export function resourcesText(resources: readonly string[]): string {
  return resources.length === 1 ? (resources[0] ?? '') : `each of ${resources.length} resources (${resources.join(', ')})`;
}
