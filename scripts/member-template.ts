// `npm run member-template`: writes the member stack (scripts/member-stack.ts) to dist/member-stack.json,
// or with `--stdout` prints it. Deploy it as a StackSet to every account and region (README).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { memberStackTemplate } from './member-stack.js';

const json = `${JSON.stringify(memberStackTemplate(), null, 2)}\n`;
if (process.argv.includes('--stdout')) {
  process.stdout.write(json);
} else {
  const out = join(import.meta.dirname, '..', 'dist', 'member-stack.json');
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, json);
  process.stdout.write(`wrote ${out}\n`);
}
