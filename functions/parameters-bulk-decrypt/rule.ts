import * as v from 'valibot';
import { countingRule, type Counted } from '../../shared/alerts/counting.js';
import type { Config } from '../../shared/config.js';
import type { EventPattern } from '../../shared/events/pattern.js';
import { parseWith } from '../../shared/events/schema.js';
import { alert, compliant, type EventContext } from '../../shared/rule.js';
import { terminalValue } from '../../shared/safe-text.js';
import { awsCommand, placeholder } from '../../shared/shell.js';
import pattern from './pattern.json' with { type: 'json' };

/**
 * Many distinct parameters decrypted by one principal within a window (`parameters-decrypt-burst`); a decrypting read
 * of the whole hierarchy (`parameters-decrypted-from-root`: `GetParametersByPath` of `/`, recursive); and, without a
 * state store, each decrypting read uncounted.
 */
export const FINDINGS = ['parameters-decrypt-burst', 'parameter-decrypt-uncounted', 'parameters-decrypted-from-root'] as const;
type Finding = (typeof FINDINGS)[number];

// A parameter name or ARN (up to 2,048 characters with its path); GetParameters names up to 10.
const Name = v.pipe(v.string(), v.minLength(1), v.maxLength(2048));
const GetRequest = v.looseObject({ name: Name });
const GetManyRequest = v.looseObject({ names: v.pipe(v.array(Name), v.minLength(1), v.maxLength(10)) });
const ByPathRequest = v.looseObject({ path: Name, recursive: v.optional(v.nullable(v.boolean())) });

/**
 * A parameter by its name: the ARN form (`arn:…:parameter/x/y` names `/x/y`) and a version or label selector
 * (`name:3`, `name:prod`) read the same parameter, so each form counts once.
 */
export function parameterName(raw: string): string {
  const arn = /^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter(\/.+)$/.exec(raw);
  const name = arn?.[1] ?? raw;
  const selector = name.lastIndexOf(':');
  return selector > 0 ? name.slice(0, selector) : name;
}

// AWS's public parameters (latest AMI ids, Regions, service endpoints) hold nothing of the account's: SDKs and
// CloudFormation read them with decryption on. `/aws/reference/secretsmanager/…` is a secret read through SSM: counted.
const isPublicAwsParameter = (name: string) => name.startsWith('/aws/service/');

/** The account's own parameters among those read; a call reading only public ones counts nothing. */
function accountParameters(names: readonly string[]): Counted {
  const own = names.map(parameterName).filter((name) => !isPublicAwsParameter(name));
  return own.length > 0
    ? { kind: 'items', items: own }
    : { kind: 'decided', decision: (resources) => compliant("only AWS's public parameters (/aws/service/…) read: nothing of the account's", resources) };
}

function count({ record, event }: EventContext): Counted {
  const field = 'detail.requestParameters';
  switch (record.eventName) {
    case 'GetParameter':
      return accountParameters([parseWith(GetRequest, record.requestParameters, field, event.id).name]);
    case 'GetParameters':
      return accountParameters(parseWith(GetManyRequest, record.requestParameters, field, event.id).names);
    default: {
      const { path, recursive } = parseWith(ByPathRequest, record.requestParameters, field, event.id);
      if (isPublicAwsParameter(`${path.replace(/\/$/, '')}/`)) return accountParameters([path]);
      if (path === '/' && recursive === true)
        return {
          kind: 'decided',
          decision: (resources) =>
            alert(
              'every parameter of the Region decrypted: GetParametersByPath of "/", recursive, with decryption',
              'HIGH',
              resources,
              'parameters-decrypted-from-root',
            ),
        };
      // The names read are not logged: the path stands for the parameters under it, counted as one.
      return { kind: 'items', items: [`${terminalValue(path)} (by path${recursive ? ', recursive' : ''})`] };
    }
  }
}

/** N distinct parameters decrypted by one principal within a window (default 20 in 10 min), once per window; a read of every parameter. */
export const parametersBulkDecrypt = countingRule({
  id: 'parameters-bulk-decrypt',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['parameters-bulk-decrypt'],
  count,
  noun: 'parameters decrypted',
  severity: 'HIGH',
  title: (finding: Finding | undefined) =>
    finding === 'parameters-decrypted-from-root'
      ? 'Every SSM parameter decrypted'
      : finding === 'parameters-decrypt-burst'
        ? 'Many SSM parameters decrypted by one principal'
        : 'SSM parameter decrypted',
  checkNext: (finding, principal) => [
    `what else ${terminalValue(principal)} did: CloudTrail Event history, filtered by its access key or user name`,
    `which SecureString parameters it could read, and rotate the credentials they hold (${awsCommand('ssm', 'get-parameter-history', { name: placeholder('<parameter>') })})`,
    ...(finding === 'parameter-decrypt-uncounted'
      ? []
      : ['if it is automation that reads many parameters on purpose, exempt its role by ARN (never by name alone)']),
  ],
});
