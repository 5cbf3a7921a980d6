import type { Context } from 'aws-lambda';
import { type ExporterConfig, processExporterConfig } from '../../shared/config.js';
import { logger } from '../../shared/log.js';
import { getBatchWith } from '../../shared/security-hub/confirm.js';
import { exportLogEvents, hubTargetOf } from '../../shared/security-hub/exporter.js';
import { importBatchWith, securityHubClient } from '../../shared/security-hub/import.js';
import { updateBatchWith } from '../../shared/security-hub/workflow.js';

// Parsed once per container, on the first invocation (no work at import time).
let config: ExporterConfig | undefined;

/** CloudWatch Logs subscription → Security Hub findings. A throw fails the invocation: Lambda retries, then the on-failure queue keeps it. */
export const handler = async (event: unknown, context: Pick<Context, 'invokedFunctionArn'>) => {
  config ??= processExporterConfig();
  const target = hubTargetOf(context.invokedFunctionArn);
  const client = securityHubClient({ region: target.region, endpoint: config.endpoint, readOnly: false });
  const calls = { importBatch: importBatchWith(client), getBatch: getBatchWith(client), updateBatch: updateBatchWith(client) };
  const summary = await exportLogEvents(event, target, calls, (message, fields) => logger.warn(message, fields));
  logger.info('security hub export', { ...summary, tooLarge: summary.tooLarge.length });
  return summary;
};
