import * as v from 'valibot';
import type { Config } from '../../shared/config.js';
import { alertRule } from '../../shared/alerts/alert-rule.js';
import { isConfigName, regionArg } from '../../shared/aws/names.js';
import { ParseError } from '../../shared/errors.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { alert, compliant, type EventContext, type ResourceRef } from '../../shared/rule.js';
import { awsCommand, checked } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

const Name = v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256)));
const ConfigRequest = v.looseObject({ configurationRecorderName: Name, deliveryChannelName: Name });

interface RecorderFacts {
  readonly resources: readonly [ResourceRef];
  readonly name: string;
}

type Settings = Config['rules']['config-recorder-stopped'];

/** What this rule reports: the AWS Config recorder stopped, the recorder deleted, the delivery channel deleted. */
export const FINDINGS = ['recorder-stopped', 'recorder-deleted', 'delivery-channel-deleted'] as const;
type Finding = (typeof FINDINGS)[number];

const BLIND = 'AWS Config records no resource changes from now on (and Config rules and Security Hub controls go stale)';

function parse({ record, event }: EventContext): RecorderFacts {
  const request = parseWith(ConfigRequest, record.requestParameters, 'detail.requestParameters', event.id);
  const channel = record.eventName === 'DeleteDeliveryChannel';
  const name = channel ? request.deliveryChannelName : request.configurationRecorderName;
  if (!name) throw new ParseError(`detail.requestParameters.${channel ? 'deliveryChannelName' : 'configurationRecorderName'}`, 'is missing', event.id);
  return { resources: [{ type: channel ? 'AWS::Config::DeliveryChannel' : 'AWS::Config::ConfigurationRecorder', id: name }], name };
}

/** The AWS Config recorder stopped or deleted, or its delivery channel deleted. */
export const configRecorderStopped = alertRule<RecorderFacts, undefined, Record<string, never>, Settings, Finding>({
  id: 'config-recorder-stopped',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  // Config.1 for the recorder and its channel, CloudWatch.9 for Config configuration changes.
  controls: { other: ['Config.1', 'CloudWatch.9'] },
  settings: (config: Config) => config.rules['config-recorder-stopped'],
  parse,
  decide: (facts, _state, _settings, { record }) => {
    switch (record.eventName) {
      case 'StopConfigurationRecorder':
        return alert(`AWS Config recorder ${facts.name} was stopped: ${BLIND}`, 'HIGH', facts.resources, 'recorder-stopped');
      case 'DeleteConfigurationRecorder':
        return alert(`AWS Config recorder ${facts.name} was deleted: ${BLIND}`, 'HIGH', facts.resources, 'recorder-deleted');
      case 'DeleteDeliveryChannel':
        return alert(
          `AWS Config delivery channel ${facts.name} was deleted: configuration snapshots and history are no longer delivered`,
          'HIGH',
          facts.resources,
          'delivery-channel-deleted',
        );
      default:
        return compliant(`AWS Config recorder ${facts.name} was started`, facts.resources);
    }
  },
  title: (record) =>
    `AWS Config ${record.eventName === 'DeleteDeliveryChannel' ? 'delivery channel deleted' : 'recorder stopped'}: ${record.resources[0]?.id ?? 'unknown'}`,
  checkNext: (record) => {
    const region = regionArg(record.region);
    const recorder = checked(record.resources[0]?.id, 'configuration recorder name', isConfigName);
    return [
      `state now: ${awsCommand('configservice', 'describe-configuration-recorder-status', { region })} and ${awsCommand('configservice', 'describe-delivery-channels', { region })}`,
      record.eventName === 'StopConfigurationRecorder'
        ? `if unintended: ${awsCommand('configservice', 'start-configuration-recorder', { configurationRecorderName: recorder, region })}`
        : 'if unintended: recreate it (put-configuration-recorder / put-delivery-channel), then start recording; changes made meanwhile are not in Config',
    ];
  },
});
