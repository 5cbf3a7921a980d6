import * as v from 'valibot';
import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { regionArg } from '../../shared/aws/names.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { actorLabel, parseWith } from '../../shared/events/schema.js';
import type { RemediationRecord } from '../../shared/remediation-log.js';
import { alert, compliant, type Decision, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, checked } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const NOTEBOOK = 'AWS::SageMaker::NotebookInstance';
const LIFECYCLE = 'AWS::SageMaker::NotebookInstanceLifecycleConfig';
// Notebook instance and lifecycle configuration names: 1-63 of letters, digits and hyphens, not starting with one.
const SAGEMAKER_NAME = /^[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}$/;
const isSageMakerName = (value: string): boolean => SAGEMAKER_NAME.test(value);
const Name = v.pipe(v.string(), v.regex(SAGEMAKER_NAME, 'a SageMaker name (1-63 of letters, digits and hyphens)'));

// Logged in camelCase: UpdateNotebookInstance `notebookInstanceName`, `lifecycleConfigName`, `disassociateLifecycleConfig`;
// UpdateNotebookInstanceLifecycleConfig `notebookInstanceLifecycleConfigName`, `onStart`, `onCreate` (base64 scripts,
// never shown) (docs/cloudtrail-shapes.md#sagemaker-notebook-lifecycle).
const UpdateNotebook = v.looseObject({ notebookInstanceName: Name, lifecycleConfigName: v.optional(v.nullable(Name)) });
const UpdateConfig = v.looseObject({ notebookInstanceLifecycleConfigName: Name });

type NotebookFacts =
  | { readonly kind: 'attached'; readonly config: string; readonly resources: readonly [ResourceRef] }
  | { readonly kind: 'other-change'; readonly resources: readonly [ResourceRef] }
  | { readonly kind: 'scripts-changed'; readonly resources: readonly [ResourceRef] };

type Settings = Config['rules']['notebook-lifecycle-attached'];

/** A lifecycle configuration attached to a notebook instance, or the scripts of one changed: code that runs as root at each start. */
export const FINDINGS = ['lifecycle-config-attached', 'lifecycle-config-changed'] as const;
type Finding = (typeof FINDINGS)[number];

const shown = (text: string): string => terminalValue(text);

function parse({ record, event }: EventContext): NotebookFacts {
  if (record.eventName === 'UpdateNotebookInstanceLifecycleConfig') {
    const r = parseWith(UpdateConfig, record.requestParameters, 'detail.requestParameters', event.id);
    return { kind: 'scripts-changed', resources: [{ type: LIFECYCLE, id: r.notebookInstanceLifecycleConfigName }] };
  }
  const r = parseWith(UpdateNotebook, record.requestParameters, 'detail.requestParameters', event.id);
  const resources = [{ type: NOTEBOOK, id: r.notebookInstanceName }] as const;
  return r.lifecycleConfigName ? { kind: 'attached', config: r.lifecycleConfigName, resources } : { kind: 'other-change', resources };
}

function decide(facts: NotebookFacts, _state: undefined, _settings: Settings, { record }: EventContext): Decision {
  const who = shown(actorLabel(record.actor));
  const target = facts.resources[0].id;
  switch (facts.kind) {
    case 'other-change':
      return compliant(`notebook instance ${target} updated without a lifecycle configuration attached`, facts.resources);
    case 'attached':
      return alert(
        `${who} attached lifecycle configuration ${facts.config} to notebook instance ${target}: its script runs as root on the instance at every start, with the instance's role`,
        'HIGH',
        facts.resources,
        'lifecycle-config-attached',
      );
    case 'scripts-changed':
      return alert(
        `${who} changed the scripts of lifecycle configuration ${target}: every notebook instance using it runs the new code as root at its next start`,
        'HIGH',
        facts.resources,
        'lifecycle-config-changed',
      );
  }
}

const titleOf = (record: RemediationRecord, finding: Finding | undefined): string =>
  finding === 'lifecycle-config-changed'
    ? `Notebook lifecycle configuration changed: ${record.resources[0]?.id ?? 'unknown'}`
    : `Lifecycle configuration attached to notebook instance ${record.resources[0]?.id ?? 'unknown'}`;

function checkNext(record: RemediationRecord, finding: Finding | undefined): readonly string[] {
  const region = regionArg(record.region);
  const name = checked(record.resources[0]?.id, 'SageMaker name', isSageMakerName);
  if (finding === 'lifecycle-config-changed')
    return [
      `the scripts now (base64): ${awsCommand('sagemaker', 'describe-notebook-instance-lifecycle-config', { notebookInstanceLifecycleConfigName: name, region })}`,
      `the notebook instances that use it: ${awsCommand('sagemaker', 'list-notebook-instances', { notebookInstanceLifecycleConfigNameContains: name, region })}; stop them before their next start if the scripts are not yours`,
    ];
  return [
    `which configuration and role it runs with: ${awsCommand('sagemaker', 'describe-notebook-instance', { notebookInstanceName: name, region })}, then read the scripts with describe-notebook-instance-lifecycle-config`,
    `if unintended: stop the instance and detach the configuration (${awsCommand('sagemaker', 'update-notebook-instance', { notebookInstanceName: name, disassociateLifecycleConfig: true, region })})`,
  ];
}

/** SageMaker notebook lifecycle configurations: code that runs as root on a notebook instance at each start. */
export const notebookLifecycleAttached = alertRule<NotebookFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'notebook-lifecycle-attached',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['notebook-lifecycle-attached'],
  parse,
  decide,
  title: titleOf,
  checkNext,
});
