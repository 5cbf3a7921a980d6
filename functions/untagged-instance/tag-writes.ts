import { planOf, type PlannedAction } from '../../shared/actions/action.js';
import { createTags } from '../../shared/actions/ec2-create-tags.js';
import type { Config } from '../../shared/config.js';
import type { Tag, TagParams, TagsPrevious } from '../../shared/ec2/tag-actions.js';
import type { TagMap } from '../../shared/ec2/tags.js';
import { findExemption } from '../../shared/exemptions.js';
import type { ResourceRef } from '../../shared/rule.js';

/** CreateTags takes up to 1,000 resource ids and AWS recommends smaller batches: 100, as the reads batch them. */
export const MAX_RESOURCES_PER_CALL = 100;

/** One resource's missing tags, as decided; writes that add the same tags become one CreateTags. */
export interface TagWrite {
  readonly resource: ResourceRef;
  readonly present: TagMap;
  readonly tags: readonly Tag[];
}

// Any entry that names the resource, expired or not ('' sorts before every date): the runner judges exemptions
// per action, on `action.resource` and with its own clock, so a resource an entry may cover keeps its own action.
const isNamedByExemption = (resource: ResourceRef, exemptions: Config['exemptions']) =>
  findExemption(exemptions, 'untagged-instance', resource, '') !== undefined;

/** The tags every map holds with the same value. */
function sharedTags(maps: readonly TagMap[]): TagMap {
  const [first = {}, ...rest] = maps;
  return Object.fromEntries(Object.entries(first).filter(([key, value]) => rest.every((m) => m[key] === value)));
}

/**
 * One CreateTags per resource type and identical tags, up to MAX_RESOURCES_PER_CALL (CreateTags takes many
 * resources, and one RunInstances gives its instances the same Owner and tagged-at), so a large launch is one
 * write for the circuit breaker, not one per instance. A call's `resource` is its first member, which no
 * exemption names. `read`: the present tags were read (dry-run, live), so `previous` is known.
 */
export function groupTagWrites(writes: readonly TagWrite[], exemptions: Config['exemptions'], read: boolean): PlannedAction[] {
  const groups = new Map<string, TagWrite[]>();
  for (const write of writes) {
    const key = isNamedByExemption(write.resource, exemptions) ? `own:${write.resource.id}` : `${write.resource.type}:${JSON.stringify(write.tags)}`;
    const group = groups.get(key);
    if (group) group.push(write);
    else groups.set(key, [write]);
  }
  const calls = [...groups.values()].flatMap((group) =>
    Array.from({ length: Math.ceil(group.length / MAX_RESOURCES_PER_CALL) }, (_, i) =>
      group.slice(i * MAX_RESOURCES_PER_CALL, (i + 1) * MAX_RESOURCES_PER_CALL),
    ),
  );
  return calls.flatMap((members) => {
    const [first, ...rest] = members;
    if (!first) return [];
    const params: TagParams = { Resources: members.map((m) => m.resource.id), Tags: [...first.tags] };
    // `previous` is what `EC2.CreateTags` reverses from (shared/ec2/tag-actions.ts).
    const previous: TagsPrevious =
      rest.length === 0
        ? { Tags: first.present }
        : { Tags: sharedTags(members.map((m) => m.present)), TagsByResource: Object.fromEntries(members.map((m) => [m.resource.id, m.present])) };
    return [planOf(createTags, first.resource, params, read ? previous : undefined)];
  });
}
