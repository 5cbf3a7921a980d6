import { type AwsSecurityFinding, GetFindingsCommand, SecurityHubClient } from '@aws-sdk/client-securityhub';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { GET_LIMITS, getBatchWith } from '../../../shared/security-hub/confirm.js';

// The read-back before resolving: GetFindings by id (test/shared/security-hub/workflow.test.ts covers what it decides).
const PRODUCT = 'arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default';

describe('getBatchWith', () => {
  const hub = mockClient(SecurityHubClient);
  afterEach(() => hub.reset());

  it('asks for at most 20 ids per call (Id and ProductArn EQUALS), following pages', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => ({ Id: `f-${i}`, ProductArn: PRODUCT }));
    hub
      .on(GetFindingsCommand)
      .resolvesOnce({ Findings: [{ Id: 'f-0' } as AwsSecurityFinding], NextToken: 'page-2' })
      .resolvesOnce({ Findings: [{ Id: 'f-1' } as AwsSecurityFinding] });

    const found = await getBatchWith(new SecurityHubClient({ region: 'eu-west-1' }))(ids);

    expect(found.map((f) => f.Id)).toEqual(['f-0', 'f-1']);
    const inputs = hub.commandCalls(GetFindingsCommand).map((call) => call.args[0].input);
    expect(inputs).toHaveLength(2);
    expect(inputs[0]).toEqual({
      Filters: { Id: ids.map((i) => ({ Value: i.Id, Comparison: 'EQUALS' })), ProductArn: [{ Value: PRODUCT, Comparison: 'EQUALS' }] },
      MaxResults: GET_LIMITS.maxResults,
      NextToken: undefined,
    });
    expect(inputs[1]?.NextToken).toBe('page-2');
    expect(inputs[0]?.Filters?.Id).toHaveLength(GET_LIMITS.idsPerCall);
  });
});
