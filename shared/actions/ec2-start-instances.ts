/** EC2.StartInstances: starts an instance enforcement stopped (a person's reversal of EC2.StopInstances; undo never performs it). */
import { StartInstancesCommand } from '@aws-sdk/client-ec2';
import { instanceFlags, InstanceParams, instanceNow, StartPrevious } from '../ec2/tag-actions.js';
import { awsCommand } from '../shell.js';
import type { ActionType } from './action.js';

const STARTED = new Set(['pending', 'running']);

export const startInstances = {
  api: 'EC2.StartInstances',
  iam: 'ec2:StartInstances',
  clients: ['ec2'],
  params: InstanceParams,
  previous: StartPrevious,
  // A start is no launch: untagged-instance watches RunInstances only.
  retriggers: false,
  async perform({ params }, { ec2 }) {
    await ec2.send(new StartInstancesCommand({ InstanceIds: params.InstanceIds }));
  },
  async verify({ params }, { ec2 }) {
    const [id] = params.InstanceIds;
    const state = (await instanceNow(ec2, id))?.state ?? 'not found';
    return STARTED.has(state) ? { ok: true, detail: `${id} is ${state}` } : { ok: false, detail: `${id} is ${state} after StartInstances` };
  },
  reverse: () => ({ kind: 'none', why: 'a start made by a person: stopping it again is left to a person' }),
  command: (step) => awsCommand('ec2', 'start-instances', instanceFlags(step)),
  describe: ({ params }) => `start ${params.InstanceIds[0]} again`,
} as const satisfies ActionType<InstanceParams, StartPrevious, 'ec2'>;
