/**
 * What an IAM policy document in a CloudTrail record grants, read without ever returning or logging the
 * document (it can name principals, accounts and keys). CloudTrail shows `policyDocument` as a JSON string,
 * URL-encoded when the call came through the Query API (`%7B%22Version%22…`, `+` for spaces).
 */
export type PolicyReading =
  | { readonly kind: 'admin'; readonly grant: string }
  | { readonly kind: 'limited' }
  | { readonly kind: 'unreadable'; readonly why: string };

const ADMIN_ACTIONS = new Set(['*', '*:*', 'iam:*']);

/** A field that is one value or a list of them (`"Action": "s3:*"` or `"Action": ["s3:*"]`). */
function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

function decoded(text: string): string {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) return trimmed;
  // Form encoding: '+' is a space; a literal '+' would be %2B.
  return decodeURIComponent(trimmed.replace(/\+/g, ' '));
}

/** A policy document as logged: a parsed object, a JSON string or a URL-encoded one; undefined when it is none of them. */
export function documentOf(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(decoded(raw)) as unknown;
  } catch {
    // Not URL-encoded JSON (URIError or SyntaxError): the reader says so; the text is never echoed.
    return undefined;
  }
}

/** Whether the document allows `*`, `*:*` or `iam:*` on Resource `*` in any statement. */
export function readPolicyDocument(raw: unknown): PolicyReading {
  const document = documentOf(raw);
  if (document === null || typeof document !== 'object') return { kind: 'unreadable', why: 'the policy document is not JSON, nor URL-encoded JSON' };
  const statements = asList((document as { Statement?: unknown }).Statement);
  for (const statement of statements) {
    if (statement === null || typeof statement !== 'object') continue;
    const { Effect, Action, Resource } = statement as { Effect?: unknown; Action?: unknown; Resource?: unknown };
    if (Effect !== 'Allow' || !asList(Resource).includes('*')) continue;
    const action = asList(Action).find((a): a is string => typeof a === 'string' && ADMIN_ACTIONS.has(a.toLowerCase()));
    if (action) return { kind: 'admin', grant: `"Action": "${action}" on "Resource": "*"` };
  }
  return { kind: 'limited' };
}
