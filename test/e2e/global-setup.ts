/**
 * Finds the emulator before any test, and refuses to run without one: an end-to-end suite that silently passes
 * or skips proves nothing. Throwing here fails `npm run test:e2e` before any test, with the commands that start one.
 *
 * The endpoint is AWS_ENDPOINT_URL, or else the local moto server on MOTO_PORT (5000 when unset), the port
 * ../shared/emulator/moto-up.sh also reads. Region and keys default to the emulator's (any values work on it).
 * What is settled here goes into process.env, which the test workers, started after this, inherit.
 */
const DEFAULT_MOTO_PORT = '5000';

const how = (port: string) => `start the local AWS-compatible endpoint, then run the suite:
  ${port === DEFAULT_MOTO_PORT ? '' : `MOTO_PORT=${port} `}bash ../shared/emulator/moto-up.sh
  ${port === DEFAULT_MOTO_PORT ? '' : `MOTO_PORT=${port} `}npm run test:e2e
(the suite finds it on MOTO_PORT, ${DEFAULT_MOTO_PORT} when unset, unless AWS_ENDPOINT_URL names another; stop it afterwards with: bash ../shared/emulator/moto-down.sh)`;

export default async function setup(): Promise<void> {
  const port = process.env.MOTO_PORT?.trim() || DEFAULT_MOTO_PORT;
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65_535) {
    throw new Error(`MOTO_PORT=${JSON.stringify(port)} is not a port number (1-65535). To run the end-to-end tests, ${how(DEFAULT_MOTO_PORT)}`);
  }
  const endpoint = process.env.AWS_ENDPOINT_URL?.trim() || `http://127.0.0.1:${port}`;
  process.env.AWS_ENDPOINT_URL = endpoint;
  process.env.AWS_REGION ||= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ||= 'testing';
  process.env.AWS_SECRET_ACCESS_KEY ||= 'testing';
  // The suite resets the endpoint between tests (POST /moto-api/reset): refuse anything that is not moto.
  const answer = await fetch(new URL('/moto-api/', endpoint), { signal: AbortSignal.timeout(10_000) }).catch((error: unknown) => {
    throw new Error(`nothing answers at ${endpoint} (${(error as Error).message}). To run the end-to-end tests, ${how(port)}`);
  });
  if (!answer.ok)
    throw new Error(
      `${endpoint} is not a moto server (GET /moto-api/ answered ${answer.status}); the suite resets all state between tests, so it only runs against the emulator. ${how(port)}`,
    );
}
