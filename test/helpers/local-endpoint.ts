import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { vi } from 'vitest';

/** A local HTTP server standing in for an AWS endpoint: the SDK's real retry, timeout and connection code run against it. */
export interface LocalEndpoint {
  readonly url: string;
  readonly server: Server;
  /** Stops the server (ending the responses left unanswered on purpose) and the test credentials. */
  close(): Promise<void>;
}

/**
 * Starts one on a free loopback port, with test credentials in the environment (the clients read the env chain).
 * `hung` holds the responses a test leaves unanswered on purpose (a hung call): they are ended on close.
 */
export async function startLocalEndpoint(listener: RequestListener, hung: readonly ServerResponse[] = []): Promise<LocalEndpoint> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'testing');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'testing');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: async () => {
      vi.unstubAllEnvs();
      for (const response of hung) response.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
