/** EC2.CreateTags: adds the missing required tags (and `trailguard:tagged-at`) to a launch's instances and volumes (untagged-instance). */
import { CreateTagsCommand } from '@aws-sdk/client-ec2';
import { errorCodeOf, hasErrorCode } from '../aws/errors.js';
import { describeTags } from '../ec2/instance-reads.js';
import { resourcesText, tagFlags, TagParams, TagsPrevious } from '../ec2/tag-actions.js';
import { TAGGED_AT_KEY } from '../ec2/tags.js';
import { AwsCallError } from '../errors.js';
import { ec2Items } from '../events/normalize.js';
import { awsCommand } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';
import { deleteTags } from './ec2-delete-tags.js';

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * Only the keys the untagged-instance rule adds: the configured required tags and `trailguard:tagged-at`
 * (CloudTrail records them as `tagSet.items[]` of `{key, value}`). Any other key is not a write of ours.
 */
export const createTagsSignature = {
  api: 'EC2.CreateTags',
  eventName: 'CreateTags',
  isOwnWrite(request, { config }) {
    const ownKeys = new Set([...config.rules['untagged-instance'].requiredTags, TAGGED_AT_KEY]);
    const tags = isObject(request) ? ec2Items(request.tagSet) : [];
    return tags.length > 0 && tags.every((tag) => isObject(tag) && typeof tag.key === 'string' && ownKeys.has(tag.key));
  },
} as const satisfies SelfSignature;

export const createTags = {
  // A literal, not `createTagsSignature.api`: a property read at module level keeps esbuild from dropping this object (and
  // its SDK commands) from the bundles that import only the signature.
  api: 'EC2.CreateTags',
  iam: 'ec2:CreateTags',
  clients: ['ec2'],
  params: TagParams,
  previous: TagsPrevious,
  // Tagging is no event any rule acts on (untagged-instance watches launches).
  retriggers: false,
  signature: createTagsSignature,
  async perform({ api, params: { Resources, Tags } }, { ec2 }) {
    const ids = Resources.join(',');
    // CreateTags overwrites: a key that appeared since inspect (another tool, a person) must survive.
    // Transient, so the event is retried and decided again on the tags as they are then.
    const now = await describeTags(ec2, Resources);
    const appeared = Resources.flatMap((id) =>
      Tags.filter((tag) => Object.hasOwn(now.get(id) ?? {}, tag.Key)).map((tag) => (Resources.length > 1 ? `${id} ${tag.Key}` : tag.Key)),
    );
    if (appeared.length > 0) throw new AwsCallError(api, ids, 'transient', 'TagAddedSinceInspect', appeared.join(', '));
    try {
      await ec2.send(new CreateTagsCommand({ Resources, Tags }));
    } catch (error) {
      // Not `gone`: EC2 can describe an instance before it can tag it (inspect has just seen these, and a terminated
      // one stays visible for about an hour), and one unknown id fails the whole call, the other resources too.
      const retry = hasErrorCode(error, 'InvalidInstanceID.NotFound') || (Resources.length > 1 && hasErrorCode(error, 'InvalidVolume.NotFound'));
      if (retry)
        throw new AwsCallError(api, ids, 'transient', errorCodeOf(error), 'not taggable yet, or one resource of the call is gone: retried', { cause: error });
      throw error;
    }
  },
  async verify({ params: { Resources, Tags } }, { ec2 }) {
    const read = await describeTags(ec2, Resources);
    // Each resource is read back on its own: one that lacks a key fails the action, named.
    const absent = Resources.flatMap((id) => {
      const keys = Tags.filter((tag) => !Object.hasOwn(read.get(id) ?? {}, tag.Key)).map((tag) => tag.Key);
      return keys.length > 0 ? [`${keys.join(', ')} missing on ${id}`] : [];
    });
    const first = read.get(Resources[0] ?? '') ?? {};
    return absent.length === 0
      ? {
          ok: true,
          detail: `${Tags.map((t) => (Resources.length === 1 ? `${t.Key}=${first[t.Key]}` : t.Key)).join(', ')} read back on ${resourcesText(Resources)}`,
        }
      : { ok: false, detail: `${absent.join('; ')} after CreateTags` };
  },
  reverse({ params, previous, resource, region }): Reversal {
    if (!previous) return { kind: 'none', why: 'the record does not say which tags existed before (not read): no tag is removed blindly' };
    // Only keys trailguard added: a key that existed before is never removed.
    const added = params.Tags.filter((tag) => !Object.hasOwn(previous.Tags, tag.Key));
    if (added.length === 0) return { kind: 'none', why: 'every key it wrote existed before: nothing was added, nothing to remove' };
    // With the values it wrote: EC2 deletes a tag only while it still holds that value, so a value a person has set since is kept.
    return {
      kind: 'steps',
      steps: [
        reverseStepOf(
          deleteTags,
          { ...resource, region },
          { Resources: params.Resources, Tags: added },
          { Tags: Object.fromEntries(added.map((tag) => [tag.Key, tag.Value])) },
        ),
      ],
    };
  },
  command: (step) => awsCommand('ec2', 'create-tags', tagFlags(step)),
  describe: ({ params }) => `add ${params.Tags.map((tag) => tag.Key).join(', ')} to ${params.Resources.join(', ')}`,
} as const satisfies ActionType<TagParams, TagsPrevious, 'ec2'>;
