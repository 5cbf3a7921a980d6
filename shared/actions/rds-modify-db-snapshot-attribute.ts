/**
 * RDS.ModifyDBSnapshotAttribute and RDS.ModifyDBClusterSnapshotAttribute of the `restore` attribute: remove the
 * accounts (or `all`) a manual DB or cluster snapshot was shared with outside (shared-db-snapshot), and, for undo,
 * add back exactly the ones removed. The two APIs differ only in names, so one builder makes both action types.
 */
import {
  DescribeDBClusterSnapshotAttributesCommand,
  DescribeDBSnapshotAttributesCommand,
  ModifyDBClusterSnapshotAttributeCommand,
  ModifyDBSnapshotAttributeCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import * as v from 'valibot';
import { isAccountId, regionArg } from '../aws/names.js';
import { awsCommand, checked } from '../shell.js';
import { reverseStepOf, type ActionType, type Reversal, type SelfSignature } from './action.js';

/** A manual snapshot's name: a letter, then letters, digits and hyphens, at most 255 (RDS compares them case-insensitively). */
const DB_SNAPSHOT_NAME = /^[A-Za-z][A-Za-z0-9-]{0,254}$/;
export const isDbSnapshotName = (value: string): boolean => DB_SNAPSHOT_NAME.test(value);
const SnapshotName = v.pipe(v.string(), v.regex(DB_SNAPSHOT_NAME, 'a manual DB snapshot name (a letter, then letters, digits, hyphens)'));
/** An account id or `all` (public): the only values the `restore` attribute holds. */
const RestoreValue = v.union([v.literal('all'), v.pipe(v.string(), v.check(isAccountId, 'a 12-digit account id'))]);
const Values = v.pipe(v.array(RestoreValue), v.minLength(1, 'at least one account id or all'));

export const DbSnapshotSharingPrevious = v.strictObject({ RestoreValues: v.array(RestoreValue) });
export type DbSnapshotSharingPrevious = v.InferOutput<typeof DbSnapshotSharingPrevious>;

/** What tells the two apart: the SDK's field names, CloudTrail's, the CLI's and the words a person reads. */
const KINDS = {
  instance: {
    api: 'RDS.ModifyDBSnapshotAttribute',
    iam: 'rds:ModifyDBSnapshotAttribute',
    eventName: 'ModifyDBSnapshotAttribute',
    idKey: 'DBSnapshotIdentifier',
    cli: 'modify-db-snapshot-attribute',
    cliId: 'dbSnapshotIdentifier',
    noun: 'DB snapshot',
  },
  cluster: {
    api: 'RDS.ModifyDBClusterSnapshotAttribute',
    iam: 'rds:ModifyDBClusterSnapshotAttribute',
    eventName: 'ModifyDBClusterSnapshotAttribute',
    idKey: 'DBClusterSnapshotIdentifier',
    cli: 'modify-db-cluster-snapshot-attribute',
    cliId: 'dbClusterSnapshotIdentifier',
    noun: 'DB cluster snapshot',
  },
} as const;
export type DbSnapshotKind = keyof typeof KINDS;

/** The values of the `restore` attribute now: the accounts (and `all`) that may copy or restore the snapshot. */
export async function restoreValues(rds: RDSClient, kind: DbSnapshotKind, id: string): Promise<readonly string[]> {
  const attributes =
    kind === 'instance'
      ? (await rds.send(new DescribeDBSnapshotAttributesCommand({ DBSnapshotIdentifier: id }))).DBSnapshotAttributesResult?.DBSnapshotAttributes
      : (await rds.send(new DescribeDBClusterSnapshotAttributesCommand({ DBClusterSnapshotIdentifier: id }))).DBClusterSnapshotAttributesResult
          ?.DBClusterSnapshotAttributes;
  return (attributes ?? []).filter((a) => a.AttributeName === 'restore').flatMap((a) => a.AttributeValues ?? []);
}

/** `all` as RDS compares it (it answers `all` for any casing it took). */
const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * A call that only removes (no `valuesToAdd`) narrows who may restore the snapshot: any such call by trailguard's
 * roles is its own. An add, in any casing CloudTrail logs it, is not.
 */
function signatureOf(kind: DbSnapshotKind): SelfSignature {
  return {
    api: KINDS[kind].api,
    eventName: KINDS[kind].eventName,
    isOwnWrite: (request) => {
      if (typeof request !== 'object' || request === null) return false;
      const adds = Object.entries(request).filter(([key]) => key.toLowerCase() === 'valuestoadd');
      return adds.every(([, value]) => value === null || (Array.isArray(value) && value.length === 0));
    },
  };
}
export const modifyDBSnapshotAttributeSignature = /* @__PURE__ */ signatureOf('instance');
export const modifyDBClusterSnapshotAttributeSignature = /* @__PURE__ */ signatureOf('cluster');

type Params<K extends DbSnapshotKind> = { readonly AttributeName: 'restore'; readonly ValuesToAdd?: string[]; readonly ValuesToRemove?: string[] } & Record<
  (typeof KINDS)[K]['idKey'],
  string
>;

function paramsSchema<K extends DbSnapshotKind>(kind: K) {
  return v.pipe(
    v.strictObject({
      [KINDS[kind].idKey]: SnapshotName,
      AttributeName: v.literal('restore'),
      ValuesToAdd: v.optional(Values),
      ValuesToRemove: v.optional(Values),
    }),
    // One direction per call: a remove is trailguard's, an add is undo's; never both at once.
    v.check((p) => (p.ValuesToAdd === undefined) !== (p.ValuesToRemove === undefined), 'exactly one of ValuesToAdd or ValuesToRemove'),
  ) as unknown as v.GenericSchema<unknown, Params<K>>;
}

function actionOf<K extends DbSnapshotKind>(kind: K, signature: SelfSignature): ActionType<Params<K>, DbSnapshotSharingPrevious, 'rds'> {
  const names = KINDS[kind];
  const idOf = (p: Params<K>): string => (p as Record<string, string>)[names.idKey] as string;
  const self: ActionType<Params<K>, DbSnapshotSharingPrevious, 'rds'> = {
    api: names.api,
    iam: names.iam,
    clients: ['rds'],
    params: paramsSchema(kind),
    previous: DbSnapshotSharingPrevious,
    // Undo's add is a share shared-db-snapshot acts on: it would be removed again unless exempted.
    retriggers: true,
    // The exported signature itself: the loop guard holds the same object (test/shared/runner/self-calls.test.ts).
    signature,
    async perform({ params }, { rds }) {
      if (kind === 'instance') await rds.send(new ModifyDBSnapshotAttributeCommand(params as never));
      else await rds.send(new ModifyDBClusterSnapshotAttributeCommand(params as never));
    },
    async verify({ params }, { rds }) {
      const id = idOf(params);
      const now = await restoreValues(rds, kind, id);
      const held = (value: string) => now.some((n) => same(n, value));
      const removing = params.ValuesToRemove !== undefined;
      const wanted = params.ValuesToRemove ?? params.ValuesToAdd ?? [];
      const wrong = removing ? wanted.filter(held) : wanted.filter((value) => !held(value));
      if (wrong.length === 0) return { ok: true, detail: `${id} reads back ${removing ? 'without' : 'with'} ${wanted.join(', ')}` };
      return { ok: false, detail: `${id} ${removing ? 'is still shared with' : 'lacks'} ${wrong.join(', ')}` };
    },
    reverse({ params, previous, resource, region }): Reversal {
      if (params.ValuesToAdd !== undefined)
        return { kind: 'none', why: "an operator's undo: to remediate again, remove its exemption and replay the event with --mode live" };
      if (!previous || previous.RestoreValues.length === 0)
        return { kind: 'none', why: 'the record has no removed values in previous.RestoreValues: nothing known to add back' };
      const add = { [names.idKey]: idOf(params), AttributeName: 'restore', ValuesToAdd: [...previous.RestoreValues] } as unknown as Params<K>;
      return { kind: 'steps', steps: [reverseStepOf(self, { ...resource, region }, add, { RestoreValues: [] })] };
    },
    command: ({ params, region }) =>
      awsCommand('rds', names.cli, {
        region: regionArg(region),
        [names.cliId]: checked(idOf(params), 'snapshot name', isDbSnapshotName),
        attributeName: 'restore',
        valuesToAdd: params.ValuesToAdd?.map((value) => checked(value, 'account id or all', (x) => x === 'all' || isAccountId(x))),
        valuesToRemove: params.ValuesToRemove?.map((value) => checked(value, 'account id or all', (x) => x === 'all' || isAccountId(x))),
      }),
    describe: ({ params }) =>
      params.ValuesToRemove !== undefined
        ? `stop sharing ${names.noun} ${idOf(params)} with ${params.ValuesToRemove.join(', ')}`
        : `share ${names.noun} ${idOf(params)} again with ${(params.ValuesToAdd ?? []).join(', ')}`,
  };
  return self;
}

export type ModifyDBSnapshotAttributeParams = Params<'instance'>;
export type ModifyDBClusterSnapshotAttributeParams = Params<'cluster'>;
// Pure: a bundle that only needs the signatures (every rule's loop guard) leaves these, and the RDS SDK, out.
export const modifyDBSnapshotAttribute = /* @__PURE__ */ actionOf('instance', modifyDBSnapshotAttributeSignature);
export const modifyDBClusterSnapshotAttribute = /* @__PURE__ */ actionOf('cluster', modifyDBClusterSnapshotAttributeSignature);
