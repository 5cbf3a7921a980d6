import { vi } from 'vitest';
import { consoleOut } from '../../shared/log.js';

/** Captures what the CLI writes to stdout and stderr (restore with vi.restoreAllMocks). */
export function captureConsole(): { out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(consoleOut, 'stdout').mockImplementation((text) => void out.push(text));
  vi.spyOn(consoleOut, 'stderr').mockImplementation((text) => void err.push(text));
  return { out: () => out.join(''), err: () => err.join('') };
}
