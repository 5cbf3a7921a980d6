/** The CLI's exit codes: 0 done, 1 a remediation failed, 2 bad input (usage, config, an unreadable input). */
export const EXIT = { ok: 0, remediationFailed: 1, badInput: 2 } as const;

/**
 * A usage problem (a bad option value, a missing argument): `main` prints it and exits 2, with the command's
 * usage when the command line itself was malformed (`withUsage`), else with a pointer to its --help.
 */
export class UsageProblem extends Error {
  constructor(
    message: string,
    readonly withUsage = false,
  ) {
    super(message);
  }
}

/** Edit distance (insert, delete, substitute, swap two neighbours) between two short words. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number) => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The known word closest to a typo, when it is close enough to be what was meant: one edit per four letters,
 * at least one, at most three ("repaly" → replay; "deploy" is two edits from replay, and no typo of it).
 */
export function closest(typo: string, known: readonly string[]): string | undefined {
  const word = typo.toLowerCase();
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 4)));
  const ranked = known.map((name) => ({ name, distance: editDistance(word, name) })).sort((x, y) => x.distance - y.distance);
  const best = ranked[0];
  if (!best || best.distance > limit) return undefined;
  // Two equally close names: no guess (the person picks from the list).
  return ranked[1]?.distance === best.distance ? undefined : best.name;
}

/** Comma-separated values (`CRITICAL,HIGH`), each checked against the known ones; case-insensitive when asked. */
export function listOption<T extends string>(option: string, text: string, known: readonly T[], { caseInsensitive = false } = {}): T[] {
  const values = text
    .split(',')
    .map((value) => value.trim())
    .filter((value) => value !== '');
  if (values.length === 0) throw new UsageProblem(`${option} needs one or more of ${known.join(', ')}`);
  return [
    ...new Set(
      values.map((value) => {
        const found = known.find((name) => (caseInsensitive ? name.toLowerCase() === value.toLowerCase() : name === value));
        if (found) return found;
        const guess = closest(value, known);
        throw new UsageProblem(`${option}: unknown value "${value}"${guess ? ` (did you mean ${guess}?)` : ''}; one of ${known.join(', ')}`);
      }),
    ),
  ];
}

/** An input source could not be read at all (an AWS call refused, say): `main` prints it, naming the call, and exits 2. */
export class InputProblem extends Error {}
