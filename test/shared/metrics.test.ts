import { describe, expect, it } from 'vitest';
import { Logger } from '../../shared/log.js';
import { metricFields } from '../../shared/metrics.js';
import { METRIC_MESSAGE, writeRecordTo } from '../../shared/remediation-log.js';
import { record } from '../helpers/records.js';

describe('alarm metrics as embedded metric format', () => {
  it('makes a line a metric datum of the stack namespace, with no dimensions', () => {
    expect(metricFields('ConfigRejected', 2, 1_700_000_000_000, 'trailguard-prod')).toEqual({
      _aws: {
        Timestamp: 1_700_000_000_000,
        CloudWatchMetrics: [{ Namespace: 'trailguard-prod', Dimensions: [[]], Metrics: [{ Name: 'ConfigRejected', Unit: 'Count' }] }],
      },
      ConfigRejected: 2,
    });
  });

  it('adds nothing outside Lambda (no namespace: the CLI, tests)', () => {
    expect(metricFields('NotificationFailed', 1, 0, undefined)).toEqual({});
    expect(metricFields('NotificationFailed', 1, 0, '')).toEqual({});
  });

  it('writes a NotificationFailed line beside a record whose notification failed, and only then', () => {
    const lines: string[] = [];
    const previous = process.env.TRAILGUARD_METRICS_NAMESPACE;
    process.env.TRAILGUARD_METRICS_NAMESPACE = 'trailguard-test';
    try {
      const write = writeRecordTo(new Logger('INFO', (line) => lines.push(line)));
      write(record({ eventId: 'evt-sent', notification: { status: 'sent', messageId: 'm-1' } }));
      write(
        record({
          eventId: 'evt-lost',
          notification: { status: 'failed', error: { kind: 'transient', code: 'Throttling', api: 'SNS.Publish', message: 'x' } } as never,
        }),
      );
    } finally {
      if (previous === undefined) delete process.env.TRAILGUARD_METRICS_NAMESPACE;
      else process.env.TRAILGUARD_METRICS_NAMESPACE = previous;
    }
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(parsed.map((l) => l.message)).toEqual(['trailguard remediation', 'trailguard remediation', METRIC_MESSAGE]);
    expect(parsed[0]).not.toHaveProperty('_aws');
    expect(parsed[2]).toMatchObject({ eventId: 'evt-lost', NotificationFailed: 1, _aws: { CloudWatchMetrics: [{ Namespace: 'trailguard-test' }] } });
  });
});
