/** An object or array parsed from JSON (or cloned from one), whose children a test reads and replaces by key. */
export type JsonContainer = Record<string | number, unknown>;

/** The object or array at `path` inside `root`; throws when a step does not lead to one. */
export function containerAt(root: unknown, path: readonly (string | number)[]): JsonContainer {
  let node = root;
  for (const key of path) node = (node as JsonContainer)[key];
  if (node === null || typeof node !== 'object') throw new Error(`no object or array at ${JSON.stringify(path)}`);
  return node as JsonContainer;
}
