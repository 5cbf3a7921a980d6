// `npm run member-template`: the same as `trailguard member-template` (cli/member-template.ts), kept so the
// npm script and the docs that name it keep working.
import { memberTemplate } from '../cli/member-template.js';

process.exitCode = memberTemplate(process.argv.includes('--stdout'));
