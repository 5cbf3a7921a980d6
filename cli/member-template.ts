import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { memberStackTemplate } from '../scripts/member-stack.js';
import { consoleOut } from '../shared/log.js';
import { EXIT } from './replay.js';

/** Where `trailguard member-template` writes the stack unless asked for standard output. */
export const MEMBER_STACK_FILE = join(import.meta.dirname, '..', 'dist', 'member-stack.json');

/**
 * `trailguard member-template [--stdout]`: writes the member stack (scripts/member-stack.ts) to
 * dist/member-stack.json, or prints it. Deploy it as a StackSet to every member account and region.
 */
export function memberTemplate(toStdout: boolean, write: (text: string) => void = consoleOut.stdout, file = MEMBER_STACK_FILE): number {
  const json = `${JSON.stringify(memberStackTemplate(), null, 2)}\n`;
  if (toStdout) {
    // Only the template: `> member-stack.json` must be valid JSON.
    write(json);
    return EXIT.ok;
  }
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, json);
  write(`wrote ${file}\n`);
  return EXIT.ok;
}
