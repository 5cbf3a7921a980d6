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
 * Many distinct secrets read by one principal within a window (`secrets-read-burst`); a BatchGetSecretValue that
 * picks secrets by filter (`secrets-read-by-filter`: whatever matches is read, secrets made later included); and,
 * without a state store, each read uncounted.
 */
export const FINDINGS = ['secrets-read-burst', 'secret-read-uncounted', 'secrets-read-by-filter'] as const;
type Finding = (typeof FINDINGS)[number];

// A secret is named by its name or ARN (up to 2,048 characters); a batch names up to 20, or filters.
const SecretId = v.pipe(v.string(), v.minLength(1), v.maxLength(2048));
const GetRequest = v.looseObject({ secretId: SecretId });
const Filter = v.looseObject({ key: v.optional(v.string()), values: v.optional(v.nullable(v.array(v.string()))) });
const BatchRequest = v.looseObject({
  secretIdList: v.optional(v.nullable(v.pipe(v.array(SecretId), v.maxLength(20)))),
  filters: v.optional(v.nullable(v.array(Filter))),
});

/** A secret by its name: an ARN's name part less the six random characters Secrets Manager appends, so both forms count once. */
export function secretName(id: string): string {
  const arn = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)-[A-Za-z0-9]{6}$/.exec(id);
  return arn?.[1] ?? id;
}

function count({ record, event }: EventContext): Counted {
  if (record.eventName === 'GetSecretValue') {
    const { secretId } = parseWith(GetRequest, record.requestParameters, 'detail.requestParameters', event.id);
    return { kind: 'items', items: [secretName(secretId)] };
  }
  const batch = parseWith(BatchRequest, record.requestParameters, 'detail.requestParameters', event.id);
  const filters = batch.filters ?? [];
  if (filters.length === 0) {
    // Each secret of a batch by id is logged as its own GetSecretValue entry, and counted there.
    return {
      kind: 'decided',
      decision: (resources) => compliant('a BatchGetSecretValue by id: each secret it read is logged as a GetSecretValue entry, counted there', resources),
    };
  }
  const shown = filters
    .map((f) => `${terminalValue(f.key ?? '?')}=${(f.values ?? []).map((value) => terminalValue(value.slice(0, 100))).join('|') || '(any)'}`)
    .join(', ');
  return {
    kind: 'decided',
    decision: (resources) =>
      alert(
        `secrets read by filter (${shown}): BatchGetSecretValue reads every secret the filter matches, secrets created later included; the values are in the caller's hands`,
        'HIGH',
        resources,
        'secrets-read-by-filter',
      ),
  };
}

/** N distinct secrets read by one principal within a window (default 15 in 10 min), once per window; any read by filter. */
export const secretsBulkRead = countingRule({
  id: 'secrets-bulk-read',
  pattern: pattern as EventPattern,
  findings: FINDINGS,
  settings: (config: Config) => config.rules['secrets-bulk-read'],
  count,
  noun: 'secrets read',
  severity: 'HIGH',
  title: (finding: Finding | undefined) =>
    finding === 'secrets-read-by-filter' ? 'Secrets read by filter' : finding === 'secrets-read-burst' ? 'Many secrets read by one principal' : 'Secret read',
  checkNext: (finding, principal) => [
    `what else ${terminalValue(principal)} did: CloudTrail Event history, filtered by its access key or user name`,
    `whether the values of those secrets must be rotated: ${awsCommand('secretsmanager', 'rotate-secret', { secretId: placeholder('<secret>') })}`,
    ...(finding === 'secret-read-uncounted' ? [] : ['if it is automation that reads many secrets on purpose, exempt its role by ARN (never by name alone)']),
  ],
});
