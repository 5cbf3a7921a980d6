import type { AttributeValue, UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';

// The state table's conditions and update expressions, evaluated as DynamoDB would, for the table doubles of the
// tests that run the real DynamoDB store (over aws-sdk-client-mock, or a local HTTP endpoint).

export type Item = Record<string, AttributeValue>;
/** What a condition reads of an attribute: its string or number value (SDK-typed or as on the wire). */
type Scalars = Readonly<Record<string, { readonly S?: string; readonly N?: string }>>;

/** The store's conditions, evaluated on the item as it is. */
export function holds(condition: string | undefined, old: Scalars | undefined, values: Scalars): boolean {
  const now = Number(values[':now']?.N);
  switch (condition) {
    case undefined:
      return true;
    case 'attribute_not_exists(pk)':
      return old === undefined;
    case 'attribute_not_exists(pk) OR lockedUntil < :now':
      return old === undefined || Number(old.lockedUntil?.N) < now;
    case 'attribute_not_exists(pk) OR #status = :retryable OR (#status = :inProgress AND lockedUntil < :now)':
      return old === undefined || old.status?.S === 'retryable' || (old.status?.S === 'in-progress' && Number(old.lockedUntil?.N) < now);
    case 'attribute_not_exists(pk) OR #status = :retryable OR (#status = :inProgress AND (lockedUntil < :now OR #invocation = :invocation))':
      return (
        old === undefined
        || old.status?.S === 'retryable'
        || (old.status?.S === 'in-progress' && (Number(old.lockedUntil?.N) < now || old.invocation?.S === values[':invocation']?.S))
      );
    case 'claimToken = :token':
      return old?.claimToken?.S === values[':token']?.S;
    case '#status = :inProgress AND claimToken = :token':
      return old?.status?.S === 'in-progress' && old.claimToken?.S === values[':token']?.S;
    case '#owner = :owner':
      return old?.owner?.S === values[':owner']?.S;
    default:
      throw new Error(`the table double does not know the condition ${condition}`);
  }
}

/** `SET a = :x, #b = :y REMOVE c, #d` and `ADD #n :v SET …`, applied to an item as DynamoDB does. */
export function updated(old: Item | undefined, input: UpdateItemCommandInput): Item {
  const names = input.ExpressionAttributeNames ?? {};
  const values = input.ExpressionAttributeValues ?? {};
  const name = (token: string) => names[token] ?? token;
  const item: Item = { ...old, pk: input.Key?.pk as AttributeValue };
  for (const [, verb, body] of String(input.UpdateExpression).matchAll(/(SET|REMOVE|ADD)\s+(.*?)(?=\s+(?:SET|REMOVE|ADD)\s|$)/g)) {
    for (const part of String(body)
      .split(',')
      .map((p) => p.trim())) {
      if (verb === 'REMOVE') delete item[name(part)];
      else if (verb === 'SET') {
        const [target = '', value = ''] = part.split('=').map((p) => p.trim());
        item[name(target)] = values[value] as AttributeValue;
      } else {
        const [target = '', value = ''] = part.split(/\s+/);
        item[name(target)] = { N: String(Number(item[name(target)]?.N ?? 0) + Number(values[value]?.N)) };
      }
    }
  }
  return item;
}
