import { describe, expect, it } from 'vitest';
import { Logger, type LogLevel } from '../../shared/log.js';
import { RECORD_MESSAGE, writeRecordTo, type RemediationRecord } from '../../shared/remediation-log.js';

describe('the remediation log', () => {
  it.each<LogLevel>(['DEBUG', 'INFO', 'WARN', 'ERROR'])('writes every record at log level %s, while diagnostics follow the level', (level) => {
    const lines: string[] = [];
    const logger = new Logger(level, (line) => lines.push(line));
    writeRecordTo(logger)({ rule: 'public-bucket', outcome: 'remediated', eventId: 'e-1' } as unknown as RemediationRecord);
    logger.info('a diagnostic');
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed.filter((line) => line.message === RECORD_MESSAGE)).toEqual([
      expect.objectContaining({ level: 'INFO', outcome: 'remediated', eventId: 'e-1' }),
    ]);
    expect(parsed.some((line) => line.message === 'a diagnostic')).toBe(level === 'DEBUG' || level === 'INFO');
  });
});
