import { DescribeInstancesCommand, DescribeTagsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { awsCall } from '../aws/errors.js';
import { tagMapFrom, type TagMap } from './tags.js';

/** An instance as read now: its state, its tags and its attached EBS volumes. */
export interface InstanceNow {
  readonly id: string;
  /** `pending`, `running`, `stopping`, `stopped`, `shutting-down`, `terminated`. */
  readonly state: string;
  readonly tags: TagMap;
  readonly volumeIds: readonly string[];
}

// EC2 takes up to 200 values per filter; 100 keeps each request small and the page count low.
const BATCH = 100;

function batches<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += BATCH) out.push(items.slice(i, i + BATCH));
  return out;
}

/**
 * The instances that still exist, by id. A filter on `instance-id` (not `InstanceIds`) leaves unknown
 * ids out instead of failing the whole batch with InvalidInstanceID.NotFound, so one purged instance
 * does not hide the others.
 */
export async function describeInstances(ec2: EC2Client, ids: readonly string[]): Promise<ReadonlyMap<string, InstanceNow>> {
  const found = new Map<string, InstanceNow>();
  for (const batch of batches(ids)) {
    let NextToken: string | undefined;
    do {
      const page = await awsCall('EC2.DescribeInstances', batch.join(','), () =>
        ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: batch }], MaxResults: 1000, NextToken })),
      );
      for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        if (!instance.InstanceId) continue;
        found.set(instance.InstanceId, {
          id: instance.InstanceId,
          state: instance.State?.Name ?? 'unknown',
          tags: tagMapFrom(instance.Tags),
          volumeIds: (instance.BlockDeviceMappings ?? []).flatMap((m) => (m.Ebs?.VolumeId ? [m.Ebs.VolumeId] : [])),
        });
      }
      NextToken = page.NextToken;
    } while (NextToken);
  }
  return found;
}

/** The tags of each resource (instances, volumes), by resource id; resources without tags are absent. */
export async function describeTags(ec2: EC2Client, resourceIds: readonly string[]): Promise<ReadonlyMap<string, TagMap>> {
  const byResource = new Map<string, Record<string, string>>();
  for (const batch of batches(resourceIds)) {
    let NextToken: string | undefined;
    do {
      const page = await awsCall('EC2.DescribeTags', batch.join(','), () =>
        ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: batch }], MaxResults: 1000, NextToken })),
      );
      for (const tag of page.Tags ?? []) {
        if (!tag.ResourceId || tag.Key === undefined) continue;
        const tags = byResource.get(tag.ResourceId) ?? {};
        tags[tag.Key] = tag.Value ?? '';
        byResource.set(tag.ResourceId, tags);
      }
      NextToken = page.NextToken;
    } while (NextToken);
  }
  return byResource;
}
