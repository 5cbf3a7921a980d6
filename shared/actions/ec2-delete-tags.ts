/** EC2.DeleteTags: removes the tags trailguard added, only while they hold the value it wrote (undo of EC2.CreateTags). */
import { DeleteTagsCommand } from '@aws-sdk/client-ec2';
import { describeTags } from '../ec2/instance-reads.js';
import { tagFlags, TagParams, TagsPrevious } from '../ec2/tag-actions.js';
import { awsCommand } from '../shell.js';
import type { ActionType } from './action.js';

export const deleteTags = {
  api: 'EC2.DeleteTags',
  iam: 'ec2:DeleteTags',
  clients: ['ec2'],
  // Every tag with its value: EC2 deletes a tag only while it holds that value, so a value set since is kept.
  params: TagParams,
  previous: TagsPrevious,
  // No rule acts on a tag removed: untagged-instance watches launches.
  retriggers: false,
  async perform({ params: { Resources, Tags } }, { ec2 }) {
    await ec2.send(new DeleteTagsCommand({ Resources, Tags }));
  },
  async verify({ params: { Resources, Tags } }, { ec2 }) {
    const now = await describeTags(ec2, Resources);
    // Gone, or holding another value (a person set it since): either way trailguard's value is no longer there.
    const still = Resources.flatMap((id) => Tags.filter((tag) => now.get(id)?.[tag.Key] === tag.Value).map((tag) => `${id} ${tag.Key}`));
    return still.length === 0
      ? { ok: true, detail: `${Resources.join(', ')} read back without ${Tags.map((tag) => tag.Key).join(', ')} as trailguard wrote them` }
      : { ok: false, detail: `still tagged: ${still.join(', ')}` };
  },
  reverse: () => ({ kind: 'none', why: "an operator's undo: untagged-instance tags instances at launch only; to tag them again, add the tags by hand" }),
  command: (step) => awsCommand('ec2', 'delete-tags', tagFlags(step)),
  describe: ({ params }) =>
    `remove the tag(s) it added to ${params.Resources.join(', ')}: ${params.Tags.map((tag) => tag.Key).join(', ')} (only while they still hold the value it wrote)`,
} as const satisfies ActionType<TagParams, TagsPrevious, 'ec2'>;
