import { vi } from 'vitest';
import { restoreSdkSend } from './sdk-send.js';

// The unit suite runs without isolation (vitest.config.ts: `isolate: false`): a worker runs its test files one
// after another in one process, keeping what they loaded. This setup file runs first, before each file, and
// leaves it what an isolated file would have: modules of our own evaluated afresh (so a helper's module-level
// mock or a client cache belongs to one file), no stubbed env or global, real timers, and every SDK client's
// own `send` (node_modules stay loaded: that is the time saved).
vi.resetModules();
vi.unstubAllEnvs();
vi.unstubAllGlobals();
vi.useRealTimers();
vi.restoreAllMocks();
await restoreSdkSend();
