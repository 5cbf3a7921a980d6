import type { TagMap } from '../../shared/ec2/tags.js';
import type { ResourceRef } from '../../shared/rule.js';

// Services that replace an instance they find stopped: an Auto Scaling group marks it unhealthy, terminates it
// and launches another; a maintained Spot or EC2 Fleet does the same; EKS nodes are Auto Scaling or Karpenter
// instances. Stopping one breaks "stop, never terminate", so enforcement alerts instead. Evidence is a tag the
// service itself sets (`aws:` keys cannot be set by users). `aws:ec2launchtemplate:id` is not evidence: any
// launch from a template carries it, and nothing replaces such an instance.
const MANAGERS = [
  {
    tag: 'aws:autoscaling:groupName',
    service: 'Auto Scaling group',
    type: 'AWS::AutoScaling::AutoScalingGroup',
    fix: 'add the missing tags to the Auto Scaling group with PropagateAtLaunch (aws autoscaling create-or-update-tags) or to its launch template, then tag its running instances',
  },
  {
    tag: 'aws:ec2spot:fleet-request-id',
    service: 'Spot Fleet request',
    type: 'AWS::EC2::SpotFleet',
    fix: "add the missing tags to the Spot Fleet request's TagSpecifications or its launch template, then tag its running instances",
  },
  {
    tag: 'aws:ec2:fleet-id',
    service: 'EC2 Fleet',
    type: 'AWS::EC2::EC2Fleet',
    fix: "add the missing tags to the EC2 Fleet's TagSpecifications or its launch template, then tag its running instances",
  },
  ...['aws:eks:cluster-name', 'eks:cluster-name', 'eks:eks-cluster-name'].map((tag) => ({
    tag,
    service: 'EKS cluster',
    type: 'AWS::EKS::Cluster',
    fix: "add the missing tags to the node group's launch template (or the Karpenter EC2NodeClass tags), then tag its running nodes",
  })),
] as const;

/** The service that manages an instance and replaces it when stopped, named by the tag that shows it. */
export interface InstanceManager {
  /** The managing resource, for the record's `resources`: `{ type: 'AWS::AutoScaling::AutoScalingGroup', id: 'example-web-asg' }`. */
  readonly ref: ResourceRef;
  /** "Auto Scaling group", for sentences. */
  readonly service: string;
  /** The tag that is the evidence. */
  readonly tag: string;
  /** What a person should do instead of a stop. */
  readonly fix: string;
}

/** The first manager the instance's tags show (an EKS node group's Auto Scaling group before its cluster), or undefined. */
export function managerOf(tags: TagMap): InstanceManager | undefined {
  const found = MANAGERS.find((m) => Object.hasOwn(tags, m.tag) && tags[m.tag] !== '');
  return found && { ref: { type: found.type, id: tags[found.tag] ?? '' }, service: found.service, tag: found.tag, fix: found.fix };
}
