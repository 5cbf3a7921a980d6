/** EC2.StopInstances: stops (never terminates) an instance still missing a required tag after the grace period (untagged-instance enforcement). */
import { StopInstancesCommand } from '@aws-sdk/client-ec2';
import { instanceFlags, InstanceParams, instanceNow, StopPrevious } from '../ec2/tag-actions.js';
import { AwsCallError } from '../errors.js';
import { awsCommand } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';
import { startInstances } from './ec2-start-instances.js';

const STOPPED = new Set(['stopping', 'stopped']);

/** Only the enforcement check stops instances: a stop by any other role of trailguard's is not its own. */
export const stopInstancesSignature = {
  api: 'EC2.StopInstances',
  eventName: 'StopInstances',
  isOwnWrite: (_request, caller) => caller.enforces,
} as const satisfies SelfSignature;

export const stopInstances = {
  // A literal, not `stopInstancesSignature.api`: a property read at module level keeps esbuild from dropping this object (and
  // its SDK commands) from the bundles that import only the signature.
  api: 'EC2.StopInstances',
  iam: 'ec2:StopInstances',
  clients: ['ec2'],
  params: InstanceParams,
  previous: StopPrevious,
  retriggers: false,
  signature: stopInstancesSignature,
  async perform({ api, params, previous }, { ec2 }) {
    const [id] = params.InstanceIds;
    // Never stop on tags that were not read: a tag added since could not be told apart.
    if (!previous) throw new AwsCallError(api, id, 'invalid', 'NoPreviousTags', 'the tags it was decided on are not known: not stopped');
    // A person may have tagged the instance since inspect: then this run ends transient, and the retry decides again.
    const appeared = Object.keys((await instanceNow(ec2, id))?.tags ?? {}).filter((key) => !Object.hasOwn(previous.Tags, key));
    if (appeared.length > 0) throw new AwsCallError(api, id, 'transient', 'TagAddedSinceInspect', appeared.join(', '));
    await ec2.send(new StopInstancesCommand({ InstanceIds: params.InstanceIds }));
  },
  async verify({ params }, { ec2 }) {
    const [id] = params.InstanceIds;
    const state = (await instanceNow(ec2, id))?.state ?? 'not found';
    return STOPPED.has(state) ? { ok: true, detail: `${id} is ${state}` } : { ok: false, detail: `${id} is ${state} after StopInstances` };
  },
  reverse({ params, resource, region }): Reversal {
    return {
      kind: 'manual',
      why: 'starting it again is left to a person: it was stopped for lacking required tags, tag it first',
      steps: [reverseStepOf(startInstances, { ...resource, region }, { InstanceIds: params.InstanceIds }, { State: 'stopped' })],
    };
  },
  command: (step) => awsCommand('ec2', 'stop-instances', instanceFlags(step)),
  describe: ({ params }) => `stop ${params.InstanceIds[0]} (never terminate: its disks and data are kept)`,
} as const satisfies ActionType<InstanceParams, StopPrevious, 'ec2'>;
