import type { Actor } from '../events/schema.js';
import { asList, ec2Items, parseArn } from '../events/normalize.js';

/** EC2 accepts tag values of up to 256 Unicode characters (API reference, `Tag`). */
export const MAX_TAG_VALUE_LENGTH = 256;

/** The key trailguard adds next to the missing keys: when it tagged, from the event time. */
export const TAGGED_AT_KEY = 'trailguard:tagged-at';

/** A resource's tags by key; keys are case-sensitive, as EC2 compares them (`owner` ≠ `Owner`). */
export type TagMap = Readonly<Record<string, string>>;

/** Who launched the instances, as the `Owner` value and a sentence for the record. */
export interface Creator {
  /** The tag value: an ARN or service principal a person can search CloudTrail and IAM for. */
  readonly owner: string;
  /** `service`: an AWS service launched on the account's behalf (Auto Scaling, Spot, EKS/ECS capacity). */
  readonly kind: 'person' | 'service';
  /** For the record's reason: "IAM user arn:…", "AWS service autoscaling.amazonaws.com (…)". */
  readonly label: string;
  /** Set when the value had to be changed to be a portable tag value (characters replaced, cut to length). */
  readonly adjusted?: string;
}

// EC2 itself accepts any character in a tag value, but tags travel: Resource Groups Tagging API, tag
// policies, cost allocation and services that copy tags (Backup, DLM) allow only this set. STS session
// names may hold `,` and web-identity or SAML sessions carry whatever the IdP sent, so anything else
// becomes `_` rather than failing the write.
const PORTABLE_CHAR = /[\p{L}\p{Z}\p{N}_.:/=+\-@]/u;

/** Replaces characters outside the portable tag set with `_` (whole code points, so emoji stay one). */
export function sanitiseTagValue(value: string): string {
  return Array.from(value, (char) => (PORTABLE_CHAR.test(char) ? char : '_')).join('');
}

/**
 * A tag value made of a fixed head (an ARN prefix) and a variable tail (a session name): both sanitised,
 * and the tail cut so the whole stays within 256 characters. The head, which names the role, is kept.
 */
export function fitTagValue(head: string, tail = ''): { readonly value: string; readonly adjusted?: string } {
  const raw = head + tail;
  const cleanHead = Array.from(sanitiseTagValue(head)).slice(0, MAX_TAG_VALUE_LENGTH);
  const room = Math.max(0, MAX_TAG_VALUE_LENGTH - cleanHead.length);
  const cleanTail = Array.from(sanitiseTagValue(tail));
  const value = cleanHead.join('') + cleanTail.slice(0, room).join('');
  if (value === raw) return { value };
  const why = [
    sanitiseTagValue(raw) !== raw ? 'characters outside the portable tag set replaced by _' : '',
    cleanTail.length > room || Array.from(head).length > MAX_TAG_VALUE_LENGTH ? `cut to ${MAX_TAG_VALUE_LENGTH} characters` : '',
  ].filter(Boolean);
  return { value, adjusted: why.join('; ') };
}

function creator(owner: { value: string; adjusted?: string }, kind: Creator['kind'], label: string): Creator {
  return { owner: owner.value, kind, label, ...(owner.adjusted ? { adjusted: owner.adjusted } : {}) };
}

/** `role/aws-service-role/<principal>/<name>`: a service-linked role, the principal of the service behind it. */
function serviceLinkedPrincipal(roleArn: string | undefined): string | undefined {
  const resource = parseArn(roleArn ?? '')?.resource ?? '';
  const match = /^role\/aws-service-role\/([^/]+)\//.exec(resource);
  return match?.[1];
}

/**
 * The creator of a launch, or undefined when the record does not say who it was (redacted identity).
 * People get their own ARN: the IAM user ARN; for an assumed role the assumed-role ARN
 * `arn:…:sts::<account>:assumed-role/<role>/<session>`, which names role and session together and is
 * exactly the `userIdentity.arn` CloudTrail records for every call of that session, so one search finds
 * the person (an SSO session name is the user's name). Service-linked callers get the service-linked
 * role's ARN, which names the service principal, and `kind: 'service'`.
 */
export function creatorOf(actor: Actor): Creator | undefined {
  switch (actor.type) {
    case 'IAMUser': {
      if (!actor.arn) return undefined;
      // A user ARN holds the user's path (up to 512 characters); past 256 keep the name, which CloudTrail also records.
      const arn = parseArn(actor.arn);
      const head =
        arn && actor.userName && actor.arn.length > MAX_TAG_VALUE_LENGTH ? `arn:${arn.partition}:iam::${arn.account}:user/${actor.userName}` : actor.arn;
      return creator(fitTagValue(head), 'person', `IAM user ${actor.arn}`);
    }
    case 'AssumedRole': {
      const principal = serviceLinkedPrincipal(actor.roleArn);
      if (principal && actor.roleArn) {
        return creator(
          fitTagValue(actor.roleArn),
          'service',
          `AWS service ${principal} on the account's behalf (service-linked role ${actor.roleName ?? actor.roleArn})`,
        );
      }
      if (!actor.arn) return undefined;
      const session = actor.sessionName ?? '';
      const head = session ? actor.arn.slice(0, actor.arn.length - session.length) : actor.arn;
      return creator(fitTagValue(head, session), 'person', `role ${actor.roleName ?? 'unknown'} session ${session || '(none recorded)'}`);
    }
    case 'Root':
      return actor.arn ? creator(fitTagValue(actor.arn), 'person', `the account root user ${actor.arn}`) : undefined;
    case 'AWSService':
      return actor.invokedBy ? creator(fitTagValue(actor.invokedBy), 'service', `AWS service ${actor.invokedBy} on the account's behalf`) : undefined;
    case 'FederatedUser':
      return actor.arn ? creator(fitTagValue(actor.arn), 'person', `federated user ${actor.arn}`) : undefined;
    case 'other':
      return undefined;
  }
}

/** Tags as EC2 reports them in CloudTrail: `{key, value}` elements, in a plain list or an `{items}` wrapper. */
export function tagMapFromEvent(value: unknown): TagMap {
  const list = Array.isArray(value) ? value : ec2Items(value);
  return tagMapFrom(
    list.map((tag) => {
      const t = (tag ?? {}) as { key?: unknown; value?: unknown };
      return { Key: t.key, Value: t.value };
    }),
  );
}

/** Tags as the SDK returns them (`Key`/`Value`); entries without a string key are skipped. */
export function tagMapFrom(tags: readonly { readonly Key?: unknown; readonly Value?: unknown }[] | undefined): TagMap {
  const map: Record<string, string> = {};
  for (const tag of asList(tags)) {
    if (typeof tag.Key === 'string') map[tag.Key] = typeof tag.Value === 'string' ? tag.Value : '';
  }
  return map;
}

/** The required keys a resource lacks, compared exactly (EC2 tag keys are case-sensitive). */
export function missingKeys(required: readonly string[], tags: TagMap): string[] {
  return required.filter((key) => !Object.hasOwn(tags, key));
}

/** Present keys that differ from a missing key only in case (`owner` for `Owner`): worth telling a person. */
export function caseVariants(missing: readonly string[], tags: TagMap): string[] {
  return Object.keys(tags).filter((key) => missing.some((m) => m !== key && m.toLowerCase() === key.toLowerCase()));
}

/** The tags to add for the missing keys, and the missing keys no value is known for. Never a present key. */
export function tagsToAdd(
  missing: readonly string[],
  present: TagMap,
  values: { readonly owner: string | undefined; readonly defaults: TagMap; readonly taggedAt: string },
): { readonly tags: readonly { readonly Key: string; readonly Value: string }[]; readonly unfillable: readonly string[] } {
  const tags: { Key: string; Value: string }[] = [];
  const unfillable: string[] = [];
  for (const key of missing) {
    // `Owner` is always the creator, never a configured default: a guessed owner is worse than none.
    const value = key === 'Owner' ? values.owner : values.defaults[key];
    if (value === undefined) unfillable.push(key);
    else tags.push({ Key: key, Value: value });
  }
  if (tags.length > 0 && !Object.hasOwn(present, TAGGED_AT_KEY)) tags.push({ Key: TAGGED_AT_KEY, Value: values.taggedAt });
  return { tags, unfillable };
}
