/**
 * Refuses to run without an endpoint: an end-to-end suite that silently passes or skips proves nothing.
 * Throwing here fails `npm run test:e2e` before any test, with the commands that start one.
 */
const HOW = `start the local AWS-compatible endpoint and point the SDK at it:
  bash ../shared/emulator/moto-up.sh
  export AWS_ENDPOINT_URL=http://127.0.0.1:5000 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  npm run test:e2e
(stop it afterwards with: bash ../shared/emulator/moto-down.sh)`;

export default async function setup(): Promise<void> {
  const endpoint = process.env.AWS_ENDPOINT_URL?.trim();
  if (!endpoint) throw new Error(`test:e2e needs AWS_ENDPOINT_URL; none is set. To run the end-to-end tests, ${HOW}`);
  if (!process.env.AWS_REGION || !process.env.AWS_ACCESS_KEY_ID || !process.env.AWS_SECRET_ACCESS_KEY) {
    throw new Error(`test:e2e needs AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY next to AWS_ENDPOINT_URL (any values work on the emulator). ${HOW}`);
  }
  // The suite resets the endpoint between tests (POST /moto-api/reset): refuse anything that is not moto.
  const answer = await fetch(new URL('/moto-api/', endpoint)).catch((error: unknown) => {
    throw new Error(`AWS_ENDPOINT_URL=${endpoint} does not answer (${(error as Error).message}). To run the end-to-end tests, ${HOW}`);
  });
  if (!answer.ok) throw new Error(`AWS_ENDPOINT_URL=${endpoint} is not a moto server (GET /moto-api/ answered ${answer.status}); the suite resets all state between tests, so it only runs against the emulator. ${HOW}`);
}
