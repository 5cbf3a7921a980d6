import type { AnyRule } from '../shared/rule.js';
import { openSecurityGroup } from './open-security-group/rule.js';
import { publicBucket } from './public-bucket/rule.js';
import { trailLogging } from './trail-logging/rule.js';
import { untaggedInstance } from './untagged-instance/rule.js';

/** Every rule, for the CLI and the invariant tests. No Lambda imports this file: each bundle holds one rule. */
export const RULES: readonly AnyRule[] = [publicBucket, openSecurityGroup, untaggedInstance, trailLogging];
