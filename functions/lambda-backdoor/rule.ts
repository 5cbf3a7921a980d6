import * as v from 'valibot';
import { functionRefOf, isFunctionName } from '../../shared/actions/lambda-names.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { regionArg } from '../../shared/aws/names.js';
import type { Config } from '../../shared/config.js';
import { ParseError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { actorLabel, parseWith, type Actor } from '../../shared/events/schema.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { alert, compliant, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, checked } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const FUNCTION = 'AWS::Lambda::Function';
// `arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>`: the only form a function's Layers take.
const LAYER_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:(\d{12}):layer:[A-Za-z0-9_-]{1,140}:\d{1,10}$/;

interface Layer {
  readonly arn: string;
  readonly account: string;
}

type BackdoorFacts =
  | { readonly kind: 'layers'; readonly resources: readonly [ResourceRef]; readonly layers: readonly Layer[] | undefined }
  | { readonly kind: 'code'; readonly resources: readonly [ResourceRef]; readonly source: string; readonly dryRun: boolean };

type Settings = Config['rules']['lambda-backdoor'] & {
  /** Accounts never alerted as a layer's owner: trustedLayerAccounts, trustedAccounts and the central account. */
  readonly layerAccounts: ReadonlySet<string>;
};

/** A layer of another account added to a function; code updated by someone not configured as a deployer (or by anyone, none configured). */
export const FINDINGS = ['foreign-layer', 'code-updated-outside-deployers', 'code-updated'] as const;
type Finding = (typeof FINDINGS)[number];

const shown = (text: string): string => terminalValue(text.length > 200 ? `${text.slice(0, 200)}…` : text);
const Text = v.pipe(v.string(), v.maxLength(2048));
const ConfigurationRequest = v.looseObject({ functionName: v.string(), layers: v.optional(v.nullable(v.array(v.unknown()))) });
// UpdateFunctionCode: CloudTrail logs the code's S3 location or image URI; an uploaded zip file is never logged.
const CodeRequest = v.looseObject({
  functionName: v.string(),
  s3Bucket: v.optional(v.nullable(Text)),
  s3Key: v.optional(v.nullable(Text)),
  s3ObjectVersion: v.optional(v.nullable(Text)),
  imageUri: v.optional(v.nullable(Text)),
  dryRun: v.optional(v.nullable(v.union([v.boolean(), v.picklist(['true', 'false'])]))),
});

function functionOf(raw: string, ownAccount: string | undefined, eventId: string | null): readonly [ResourceRef] {
  const field = 'detail.requestParameters.functionName';
  const ref = functionRefOf(raw);
  if (!ref) throw new ParseError(field, 'expected a function name, partial ARN or ARN', eventId);
  if (ref.account !== undefined && ownAccount !== undefined && ref.account !== ownAccount)
    throw new ParseError(field, "names another account's function", eventId);
  return [{ type: FUNCTION, id: ref.name }];
}

function layersOf(list: readonly unknown[], eventId: string | null): Layer[] {
  return list.map((raw, i) => {
    // A layer may be logged as its ARN, or as an object holding it (`{ "arn": … }`, as the response writes them).
    const arn = typeof raw === 'string' ? raw : typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).arn : undefined;
    const account = typeof arn === 'string' ? LAYER_ARN.exec(arn)?.[1] : undefined;
    if (typeof arn !== 'string' || account === undefined) throw new ParseError(`detail.requestParameters.layers.${i}`, 'expected a layer version ARN', eventId);
    return { arn, account };
  });
}

function sourceOf(r: v.InferOutput<typeof CodeRequest>): string {
  if (r.imageUri) return `the container image ${shown(r.imageUri)}`;
  if (r.s3Bucket && r.s3Key) return `s3://${shown(r.s3Bucket)}/${shown(r.s3Key)}${r.s3ObjectVersion ? ` (version ${shown(r.s3ObjectVersion)})` : ''}`;
  return 'a zip file uploaded with the call (its content is not logged)';
}

function parse({ record, event }: EventContext): BackdoorFacts {
  const own = typeof record.recipientAccountId === 'string' ? record.recipientAccountId : undefined;
  if (record.eventName.startsWith('UpdateFunctionCode')) {
    const r = parseWith(CodeRequest, record.requestParameters, 'detail.requestParameters', event.id);
    return { kind: 'code', resources: functionOf(r.functionName, own, event.id), source: sourceOf(r), dryRun: String(r.dryRun) === 'true' };
  }
  const r = parseWith(ConfigurationRequest, record.requestParameters, 'detail.requestParameters', event.id);
  return { kind: 'layers', resources: functionOf(r.functionName, own, event.id), layers: r.layers ? layersOf(r.layers, event.id) : undefined };
}

/** A deployer pattern as a regular expression: `*` matches any run of characters, everything else itself. */
const globOf = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );

/** The ARNs a caller is known by: its own (user, assumed-role session) and, for a role session, the role's. */
function callerArns(actor: Actor): string[] {
  const arns = [actor.arn];
  if (actor.type === 'AssumedRole') arns.push(actor.roleArn);
  return arns.filter((arn): arn is string => typeof arn === 'string');
}

function decide(facts: BackdoorFacts, _state: undefined, settings: Settings, { record, event }: EventContext): Decision {
  const fn = `Lambda function ${facts.resources[0].id}`;
  const who = shown(actorLabel(record.actor));
  if (facts.kind === 'layers') {
    if (!facts.layers) return compliant(`${fn}: the configuration change sets no layers`, facts.resources);
    const own = record.recipientAccountId ?? event.account;
    const foreign = facts.layers.filter((layer) => layer.account !== own && !settings.layerAccounts.has(layer.account));
    if (foreign.length === 0)
      return compliant(`${fn}: its layers (${facts.layers.length}) are the account's own or of trusted layer accounts`, facts.resources);
    const listed = foreign.map((layer) => `${shown(layer.arn)} (account ${layer.account})`).join(', ');
    return alert(
      `${who} added to ${fn} the layer${foreign.length > 1 ? 's' : ''} ${listed}, of another account: a layer's code runs inside every invocation, with the function's role and its secrets`,
      'HIGH',
      facts.resources,
      'foreign-layer',
    );
  }
  if (facts.dryRun) return compliant(`${fn}: a dry run of UpdateFunctionCode by ${who} changed no code`, facts.resources);
  if (settings.deployers.length === 0)
    return alert(
      `${who} replaced the code of ${fn} with ${facts.source}. No deployers are configured (lambda-backdoor.deployers), so every code update is reported, LOW; name the CI roles there to hear only of the others, MEDIUM`,
      'LOW',
      facts.resources,
      'code-updated',
    );
  const arns = callerArns(record.actor);
  const deployer = settings.deployers.find((pattern) => arns.some((arn) => globOf(pattern).test(arn)));
  if (deployer) return compliant(`${fn}: code updated by the deployer ${who} (matches ${shown(deployer)}) with ${facts.source}`, facts.resources);
  return alert(
    `${who}, not one of the configured deployers, replaced the code of ${fn} with ${facts.source}: a known way to plant a backdoor that runs with the function's role`,
    'MEDIUM',
    facts.resources,
    'code-updated-outside-deployers',
  );
}

const titleOf = (record: RemediationRecord, finding: Finding | undefined): string => {
  const fn = record.resources[0]?.id ?? 'unknown';
  if (finding === 'foreign-layer') return `Layer from another account added to Lambda function ${fn}`;
  if (finding === 'code-updated-outside-deployers') return `Lambda function ${fn} code updated outside the deployers`;
  return `Lambda function ${fn} code updated`;
};

function checkNext(record: RemediationRecord, finding: Finding | undefined): readonly string[] {
  const region = regionArg(record.region);
  const functionName = checked(record.resources[0]?.id, 'function name', isFunctionName);
  if (finding === 'foreign-layer')
    return [
      `the layers of the function now, and whose they are: ${awsCommand('lambda', 'get-function-configuration', { region, functionName, query: 'Layers' })}`,
      'whether the layer account is a vendor you use (then add it to lambda-backdoor.trustedLayerAccounts); if not, remove the layer (update-function-configuration --layers with the others) and rotate what the function role can reach',
    ];
  return [
    `the code now (its CodeSha256 and a link to download it): ${awsCommand('lambda', 'get-function', { region, functionName })}`,
    'whether the caller deploys this function; if not, roll back to the last published version and review what the function role did since',
  ];
}

/** Lambda backdoors: a layer of another account, or code replaced by someone other than the deployers. */
export const lambdaBackdoor = alertRule<BackdoorFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'lambda-backdoor',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => {
    const own = config.rules['lambda-backdoor'];
    const central = config.organization?.centralAccountId;
    return { ...own, layerAccounts: new Set([...own.trustedLayerAccounts, ...config.trustedAccounts, ...(central ? [central] : [])]) };
  },
  parse,
  decide,
  title: titleOf,
  checkNext,
});
