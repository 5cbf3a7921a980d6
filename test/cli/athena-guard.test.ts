// The warehouse clients' guards, through the SDK's own middleware stack (no aws-sdk-client-mock here: it replaces
// `send`, and the guards live in the stack). A last middleware answers in place of the network.
import { AthenaClient, DeleteWorkGroupCommand, StartQueryExecutionCommand, StopQueryExecutionCommand } from '@aws-sdk/client-athena';
import { CancelQueryCommand, type CloudTrailClient, DeleteEventDataStoreCommand, StartQueryCommand } from '@aws-sdk/client-cloudtrail';
import { describe, expect, it } from 'vitest';
import { athenaClient } from '../../cli/athena.js';
import { lakeClient } from '../../cli/lake.js';
import { InputProblem } from '../../cli/usage.js';
import { AwsCallError } from '../../shared/errors.js';

/** A last middleware that answers every command that passed the guards with an empty output, and records its name. */
function answerer(sent: string[]) {
  return {
    middleware: (_next: unknown, context: { commandName?: string }) => async () => {
      sent.push(String(context.commandName));
      return { output: { $metadata: {} }, response: {} };
    },
    options: { step: 'initialize', name: 'testAnswer', priority: 'low' } as const,
  };
}

function answering(client: AthenaClient): { client: AthenaClient; sent: string[] };
function answering(client: CloudTrailClient): { client: CloudTrailClient; sent: string[] };
function answering(client: AthenaClient | CloudTrailClient) {
  const sent: string[] = [];
  const { middleware, options } = answerer(sent);
  if (client instanceof AthenaClient) client.middlewareStack.add(middleware as never, options);
  else client.middlewareStack.add(middleware as never, options);
  return { client, sent };
}

describe('the Athena client of a backtest', () => {
  it('starts and stops a SELECT, and refuses every write and any other statement before it is sent', async () => {
    const { client, sent } = answering(athenaClient('eu-west-1', 'http://127.0.0.1:9'));
    await client.send(new StartQueryExecutionCommand({ QueryString: 'SELECT eventname FROM trail' }));
    await client.send(new StopQueryExecutionCommand({ QueryExecutionId: 'q-1' }));
    await expect(client.send(new DeleteWorkGroupCommand({ WorkGroup: 'primary' }))).rejects.toThrow(AwsCallError);
    await expect(client.send(new StartQueryExecutionCommand({ QueryString: 'DROP TABLE trail' }))).rejects.toThrow(InputProblem);
    await expect(client.send(new StartQueryExecutionCommand({ QueryString: 'CREATE TABLE x AS SELECT 1' }))).rejects.toThrow(
      'StartQueryExecutionCommand: refused a query that is not a single SELECT',
    );
    expect(sent).toEqual(['StartQueryExecutionCommand', 'StopQueryExecutionCommand']);
  });
});

describe('the CloudTrail Lake client of a backtest', () => {
  it('starts and cancels a SELECT, and refuses every write and any other statement', async () => {
    const { client, sent } = answering(lakeClient('eu-west-1', 'http://127.0.0.1:9'));
    await client.send(new StartQueryCommand({ QueryStatement: 'select eventName from eds' }));
    await client.send(new CancelQueryCommand({ QueryId: 'lq-1' }));
    await expect(client.send(new DeleteEventDataStoreCommand({ EventDataStore: 'eds' }))).rejects.toThrow(AwsCallError);
    await expect(client.send(new StartQueryCommand({ QueryStatement: 'INSERT INTO eds VALUES (1)' }))).rejects.toThrow(InputProblem);
    expect(sent).toEqual(['StartQueryCommand', 'CancelQueryCommand']);
  });
});
