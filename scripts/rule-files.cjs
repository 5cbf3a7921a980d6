// The rule folders' own deployment files, found rather than listed, so that a new rule touches its folder and
// its registry line only (docs/rules.md, "Adding a rule"). serverless.yml takes from here, through `${file(...)}`:
// - `functions`: every function file of every rule folder (functions/<rule>/*.yml but resources.yml), then every
//   stack job's (jobs/<job>/function.yml: functions of no rule, such as the weekly exemption notice);
// - `resources`: every rule folder's resources.yml (CloudFormation resources by logical id, merged);
// - `selfRoles`: TRAILGUARD_SELF_ROLES, the exact role names of the functions whose roles may write;
// - `actingFunctions`: the functions that may assume the member role (scripts/member-stack.ts decides, from
//   the rules' permissions through functions/rules.ts).
// scripts/member-stack.ts and the tests read the same files through functionFiles() and functionsOf().
const { execFileSync } = require('node:child_process');
const { readdirSync, readFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');
const YAML = require('yaml');

const ROOT = join(__dirname, '..');
const FUNCTIONS = join(ROOT, 'functions');
const JOBS = join(ROOT, 'jobs');
/** The one file of a rule folder that holds CloudFormation resources, not functions. */
const RESOURCES_FILE = 'resources.yml';

/** The rule folders: functions/<rule>/ with a rule.ts, by name. */
function ruleFolders() {
  return readdirSync(FUNCTIONS, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(FUNCTIONS, entry.name, 'rule.ts')))
    .map((entry) => entry.name)
    .sort();
}

/** A rule folder's .yml files, function.yml first, as paths relative to the repository (`functions/<rule>/<file>`). */
function ymlFilesOf(folder) {
  return readdirSync(join(FUNCTIONS, folder))
    .filter((file) => file.endsWith('.yml'))
    .sort((a, b) => (a === 'function.yml' ? -1 : b === 'function.yml' ? 1 : a.localeCompare(b)))
    .map((file) => `functions/${folder}/${file}`);
}

/** Every function file (functions/<rule>/*.yml but resources.yml), relative to the repository. */
function functionFiles() {
  return ruleFolders()
    .flatMap(ymlFilesOf)
    .filter((file) => !file.endsWith(`/${RESOURCES_FILE}`));
}

/** Every rule folder's resources.yml, relative to the repository. */
function resourceFiles() {
  return ruleFolders()
    .flatMap(ymlFilesOf)
    .filter((file) => file.endsWith(`/${RESOURCES_FILE}`));
}

/** A YAML file of the repository, parsed (`${…}` variables stay strings); a file that does not parse throws. */
function parseFile(file) {
  const document = YAML.parseDocument(readFileSync(join(ROOT, file), 'utf8'), { prettyErrors: true });
  if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0].message}`);
  return document.toJS() ?? {};
}

/**
 * Every function of the function files: its key, its file, its rule id (`environment.TRAILGUARD_RULE`), what
 * invokes it (`event`: an EventBridge pattern; `sweep`: a schedule; `check`: nothing of the stack's own, as
 * Scheduler's one-time schedules invoke the enforcement check) and its definition. A key defined twice throws.
 */
function functionsOf() {
  const found = [];
  for (const file of functionFiles()) {
    for (const [key, definition] of Object.entries(parseFile(file))) {
      if (found.some((fn) => fn.key === key)) throw new Error(`${file}: function ${key} is defined twice`);
      const rule = definition?.environment?.TRAILGUARD_RULE;
      if (typeof rule !== 'string') throw new Error(`${file}: function ${key} names no rule (environment.TRAILGUARD_RULE)`);
      const events = definition.events ?? [];
      const kind =
        events.length === 0 ? 'check' : events.every((event) => event.eventBridge) ? 'event' : events.every((event) => event.schedule) ? 'sweep' : undefined;
      if (!kind) throw new Error(`${file}: function ${key} mixes events or has one that is neither eventBridge nor schedule`);
      found.push({ key, file, rule, kind, definition });
    }
  }
  return found;
}

/** An IAM action that reads (Get*, Describe*, List*), or passes a role (not itself a change to the account). */
const readsOnly = (action) => /^[\w-]+:(Get|Describe|List)[A-Z]/.test(action) || action === 'iam:PassRole';

/**
 * The functions whose roles may write: one of their own statements (not the stack's shared `${self:custom…}`
 * ones) allows an action that is not a read. Their calls are the ones the loop guard may call trailguard's.
 */
function writers() {
  return functionsOf().filter(({ definition }) =>
    (definition.iamRoleStatements ?? [])
      .filter((statement) => typeof statement === 'object' && statement !== null)
      .some((statement) => [statement.Action].flat().some((action) => !readsOnly(action))),
  );
}

/** TRAILGUARD_SELF_ROLES: each writer's `iamRoleStatementsName` (`${self:service}-${sls:stage}-<key>-role`), comma-separated. */
function selfRoles() {
  return writers()
    .map(({ key, file, definition }) => {
      const name = definition.iamRoleStatementsName;
      if (typeof name !== 'string' || !name.endsWith(`-${key}-role`))
        throw new Error(`${file}: ${key} writes, so its role needs an exact name ending -${key}-role (iamRoleStatementsName)`);
      return name;
    })
    .join(',');
}

/** The stack jobs' function files (jobs/<job>/function.yml), relative to the repository. */
function jobFiles() {
  if (!existsSync(JOBS)) return [];
  return readdirSync(JOBS, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(JOBS, entry.name, 'function.yml')))
    .map((entry) => `jobs/${entry.name}/function.yml`)
    .sort();
}

/** Every job function: its key, its file, its job (`environment.TRAILGUARD_JOB`) and its definition. */
function jobsOf() {
  return jobFiles().flatMap((file) =>
    Object.entries(parseFile(file)).map(([key, definition]) => {
      const job = definition?.environment?.TRAILGUARD_JOB;
      if (typeof job !== 'string') throw new Error(`${file}: function ${key} names no job (environment.TRAILGUARD_JOB)`);
      if (definition.environment.TRAILGUARD_RULE !== undefined) throw new Error(`${file}: function ${key} is a job, not a rule's: no TRAILGUARD_RULE`);
      return { key, file, job, definition };
    }),
  );
}

/** serverless.yml `functions`: each function file, read by serverless itself (its parser, its variables). */
function functions() {
  return [...functionFiles(), ...jobFiles()].map((file) => `\${file(./${file})}`);
}

/** serverless.yml `resources`: every rule folder's resources, by logical id. A logical id defined twice throws. */
function resources() {
  const merged = {};
  for (const file of resourceFiles()) {
    // Each resource is read by serverless itself (its parser, its variables), by logical id.
    for (const id of Object.keys(parseFile(file))) {
      if (Object.hasOwn(merged, id)) throw new Error(`${file}: resource ${id} is defined twice`);
      merged[id] = `\${file(./${file}):${id}}`;
    }
  }
  return { Resources: merged };
}

/**
 * serverless.yml `custom.organization.actingFunctions`: decided from the rules' permissions by scripts/member-stack.ts
 * (TypeScript: run through tsx in a child process, as `npm run member-template` runs it), so the central roles
 * that may assume the member role and the roles the member role trusts are one list.
 */
let acting;
async function actingFunctions({ resolveVariable } = {}) {
  // Single-account mode (no organizationId, scripts/organization.cjs reads none): spare the child process.
  if (resolveVariable && String((await resolveVariable('param:organizationId')) ?? '').trim() === '') return [];
  acting ??= actingFunctionsNow();
  return acting;
}

function actingFunctionsNow() {
  const script = "import { actingFunctions } from './scripts/member-stack.ts'; process.stdout.write(JSON.stringify(actingFunctions().map(({ key }) => key)));";
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  const keys = JSON.parse(out);
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string')) throw new Error(`scripts/member-stack.ts gave no list of function keys: ${out}`);
  return keys;
}

module.exports = {
  ruleFolders,
  functionFiles,
  resourceFiles,
  functionsOf,
  jobFiles,
  jobsOf,
  writers,
  selfRoles,
  functions,
  resources,
  actingFunctions,
  RESOURCES_FILE,
};
