// The weekly exemption notice (jobs/exemption-expiry/function.yml): wiring only. The SSM client reads the store
// recursively (the rule functions' small reader reads one folder); it and SNS are this bundle's only clients.
import { SSMClient } from '@aws-sdk/client-ssm';
import { baseClientConfig } from '../../shared/aws/client-options.js';
import { processConfig } from '../../shared/config.js';
import { parseArn } from '../../shared/events/normalize.js';
import { storedExemptions } from '../../shared/exemption-store.js';
import { exemptionsRoot } from '../../shared/live-config/layout.js';
import { logger } from '../../shared/log.js';
import { snsNotifier } from '../../shared/notifier.js';
import { runExpiryJob, type ExpiryJobResult } from './job.js';

export async function handler(_event: unknown, context: { readonly invokedFunctionArn: string }): Promise<ExpiryJobResult> {
  const config = processConfig();
  logger.setLevel(config.logLevel);
  const arn = parseArn(context.invokedFunctionArn);
  const region = config.region ?? arn?.region ?? 'us-east-1';
  const prefix = config.parameterPrefix;
  const ssm = prefix === undefined ? undefined : new SSMClient(baseClientConfig({ region, endpoint: config.endpoint, readOnly: true }));
  return runExpiryJob({
    readStore: ssm && prefix !== undefined ? () => storedExemptions(ssm, prefix) : undefined,
    deployed: config.exemptions,
    notify: config.topicArn ? snsNotifier(config.topicArn, config.endpoint) : undefined,
    now: Date.now,
    log: logger,
    account: arn?.account || null,
    region,
    storePath: prefix === undefined ? undefined : exemptionsRoot(prefix),
  });
}
