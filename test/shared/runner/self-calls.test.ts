import { describe, expect, it } from 'vitest';
import { RULES } from '../../../functions/rules.js';
import { untaggedInstanceEnforce } from '../../../functions/untagged-instance/enforce.js';
import { isReadCommand } from '../../../shared/aws/client-options.js';
import { SELF_WRITE_EVENT_NAMES } from '../../../shared/runner/self-calls.js';

describe('the calls trailguard makes (shared/runner/self-calls.ts)', () => {
  it('list every write of every rule and check, so that its own fixes are recognised', () => {
    const writes = [...RULES, untaggedInstanceEnforce]
      .flatMap((rule) => Object.keys(rule.permissions))
      .filter((api) => !isReadCommand(`${api.split('.')[1]}Command`));
    expect(writes.length).toBeGreaterThan(4);
    for (const api of writes) expect(SELF_WRITE_EVENT_NAMES, api).toHaveProperty([api]);
  });

  it('lists no read: a read by a look-alike role would never be ignored anyway, and patterns match writes', () => {
    for (const api of Object.keys(SELF_WRITE_EVENT_NAMES)) expect(isReadCommand(`${api.split('.')[1]}Command`), api).toBe(false);
  });
});
