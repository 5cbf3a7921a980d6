import * as v from 'valibot';
import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { regionArg } from '../../shared/aws/names.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { actorLabel, parseWith, type CloudTrailRecord } from '../../shared/events/schema.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { alert, compliant, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const MODEL = 'AWS::Bedrock::FoundationModel';
const ACCOUNT = 'AWS::::Account';
// Foundation model ids such as `anthropic.claude-3-5-sonnet-20240620-v1:0`: provider, dot, name, optional version.
const MODEL_ID = /^[a-z0-9-]{1,63}\.[a-zA-Z0-9.:_-]{1,200}$/;

// CreateFoundationModelAgreement and PutFoundationModelEntitlement are logged with `modelId` (and `offerToken`);
// PutUseCaseForModelAccess carries only `formData`, a blob CloudTrail does not show (docs/cloudtrail-shapes.md#bedrock-model-access).
const ModelRequest = v.looseObject({ modelId: v.pipe(v.string(), v.regex(MODEL_ID, 'a foundation model id (provider.name)')) });

interface ModelFacts {
  readonly call: 'use-case' | 'agreement' | 'entitlement';
  readonly resources: readonly [ResourceRef];
}

type Settings = Config['rules']['model-access-enabled'];

/** Model access enabled: someone preparing to run models on this account's bill (LLMjacking's first step). */
export const FINDINGS = ['model-access-enabled'] as const;
type Finding = (typeof FINDINGS)[number];

function parse({ record, event }: EventContext): ModelFacts {
  if (record.eventName === 'PutUseCaseForModelAccess') {
    parseWith(v.nullish(v.looseObject({})), record.requestParameters, 'detail.requestParameters', event.id);
    return { call: 'use-case', resources: [{ type: ACCOUNT, id: event.account ?? 'unknown' }] };
  }
  const r = parseWith(ModelRequest, record.requestParameters, 'detail.requestParameters', event.id);
  return { call: record.eventName === 'PutFoundationModelEntitlement' ? 'entitlement' : 'agreement', resources: [{ type: MODEL, id: r.modelId }] };
}

const WHAT = {
  'use-case': 'submitted the Bedrock use case form (needed before Anthropic models can be invoked)',
  agreement: 'accepted the Marketplace agreement of Bedrock model',
  entitlement: 'enabled access to Bedrock model',
} as const;

function decide(facts: ModelFacts, _state: undefined, _settings: Settings, { record }: EventContext): Decision {
  const model = facts.call === 'use-case' ? '' : ` ${terminalValue(facts.resources[0].id)}`;
  return alert(
    `${terminalValue(actorLabel(record.actor))} ${WHAT[facts.call]}${model} in ${record.awsRegion}: someone may be preparing to run models on this account's bill (stolen keys are sold for this: LLMjacking)`,
    'MEDIUM',
    facts.resources,
    'model-access-enabled',
  );
}

// A failed call enabled nothing: compliant, with the error kept in the record (a denied attempt by stolen keys is evidence).
function failedCall(record: CloudTrailRecord, _settings: Settings, { event }: EventContext): Decision {
  const model = v.safeParse(ModelRequest, record.requestParameters);
  return compliant(
    `the ${record.eventName} call failed (${terminalValue(record.errorCode ?? 'error')}): no model access was enabled`,
    model.success ? [{ type: MODEL, id: model.output.modelId }] : [{ type: ACCOUNT, id: event.account ?? 'unknown' }],
  );
}

const titleOf = (record: RemediationRecord): string => {
  const resource = record.resources[0];
  return resource?.type === MODEL ? `Bedrock model access enabled: ${resource.id}` : 'Bedrock model access requested (use case submitted)';
};

function checkNext(record: RemediationRecord): readonly string[] {
  const region = regionArg(record.region);
  return [
    'whether a team asked for the model (a ticket, a project); the caller and its user agent are below',
    `whether models are being invoked, and how much: model invocation logging (${awsCommand('bedrock', 'get-model-invocation-logging-configuration', { region })}), the InvokeModel and Converse calls in CloudTrail and the Bedrock costs in Cost Explorer`,
    "if unintended: deny bedrock:InvokeModel* to the caller (or the account, by SCP), and rotate the caller's credentials",
  ];
}

/** Amazon Bedrock model access enabled: a use case, a model agreement or an entitlement. */
export const modelAccessEnabled = alertRule<ModelFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'model-access-enabled',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['model-access-enabled'],
  parse,
  decide,
  failedCall,
  title: titleOf,
  checkNext,
});
