import * as v from 'valibot';
import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { isEc2Id, regionArg } from '../../shared/aws/names.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { actorLabel, parseWith, type CloudTrailRecord } from '../../shared/events/schema.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { alert, compliant, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, checked, noCommand } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const IMAGE = 'AWS::EC2::Image';
const ImageId = v.pipe(v.string(), v.minLength(1), v.maxLength(64));
// `deleteAssociatedSnapshots` (DeregisterImage's DeleteAssociatedSnapshots) is absent from older records and calls.
const Request = v.looseObject({ imageId: ImageId, deleteAssociatedSnapshots: v.optional(v.unknown()) });
const isImageId = (value: string): boolean => value.startsWith('ami-') && isEc2Id(value);

interface ImageFacts {
  readonly image: string;
  /** The call asked for the image's snapshots to go too: the disk contents are gone, not only the image. */
  readonly snapshotsDeleted: boolean;
  readonly resources: readonly [ResourceRef];
}

type Settings = Config['rules']['image-deregistered'];

/** What this rule reports: an AMI deregistered. */
export const FINDINGS = ['image-deregistered'] as const;
type Finding = (typeof FINDINGS)[number];

const shown = (text: string): string => terminalValue(text.length > 100 ? `${text.slice(0, 100)}…` : text);

function parse({ record, event }: EventContext): ImageFacts {
  const request = parseWith(Request, record.requestParameters, 'detail.requestParameters', event.id);
  return {
    image: request.imageId,
    snapshotsDeleted: request.deleteAssociatedSnapshots === true || request.deleteAssociatedSnapshots === 'true',
    resources: [{ type: IMAGE, id: request.imageId }],
  };
}

function decide(facts: ImageFacts, _state: undefined, _settings: Settings, { record }: EventContext): Decision {
  const snapshots = facts.snapshotsDeleted
    ? ', and its snapshots were deleted with it: the disk contents are gone unless a Recycle Bin rule kept them'
    : '; its snapshots remain until deleted';
  return alert(
    `AMI ${shown(facts.image)} was deregistered by ${shown(actorLabel(record.actor))}: launch templates, Auto Scaling groups and accounts it was shared with can no longer launch from it${snapshots}`,
    'MEDIUM',
    facts.resources,
    'image-deregistered',
  );
}

// An image already gone (deregistered before, or never there): nothing changed. Any other failure (denied, throttled)
// is ignored like every failed call: no image was deregistered.
const ALREADY_GONE = new Set(['Client.InvalidAMIID.Unavailable', 'Client.InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable', 'InvalidAMIID.NotFound']);
function failedCall(record: CloudTrailRecord): Decision | undefined {
  if (!record.errorCode || !ALREADY_GONE.has(record.errorCode)) return undefined;
  const request = v.safeParse(Request, record.requestParameters);
  return compliant(
    `the DeregisterImage call failed (${shown(record.errorCode)}): the image was already gone, nothing changed`,
    request.success ? [{ type: IMAGE, id: request.output.imageId }] : [],
  );
}

const titleOf = (record: RemediationRecord): string => `AMI deregistered: ${record.resources[0]?.id ?? 'unknown'}`;

function checkNext(record: RemediationRecord): readonly string[] {
  const region = regionArg(record.region);
  const image = checked(record.resources[0]?.id, 'image id', isImageId);
  // The filter is built from the id only once it is a valid image id (and is quoted whole).
  const launched =
    'valid' in image ? awsCommand('ec2', 'describe-instances', { filters: `Name=image-id,Values=${image.valid}`, region }) : noCommand(image.invalid);
  return [
    'was it a planned clean-up (an image pipeline retiring old AMIs)? The actor and user agent are below',
    `what still launches from it: the instances running it (${launched}), and the launch templates and Auto Scaling groups that name it`,
    `if unintended: a Recycle Bin retention rule for AMIs may still hold it (${awsCommand('ec2', 'list-images-in-recycle-bin', { imageIds: image, region })}); restore it with ${awsCommand('ec2', 'restore-image-from-recycle-bin', { imageId: image, region })}`,
  ];
}

/** An AMI deregistered: what others launch from is gone, and with its snapshots, evidence. */
export const imageDeregistered = alertRule<ImageFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'image-deregistered',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['image-deregistered'],
  parse,
  decide,
  failedCall,
  title: titleOf,
  checkNext,
});
