import { readFileSync } from 'node:fs';

// Tests replace `send` on SDK client classes: mockClient(S3Client) with a sinon stub on S3Client.prototype,
// bench/fake-aws.ts by assignment. The SDK's own `send` lives on the base class every client package exports as
// `__Client`, and no client class overrides it: an own `send` on a client class is always a replacement.
const SDK_SEND = Symbol.for('trailguard.test.sdkSend');
const registry = globalThis as { [SDK_SEND]?: unknown };

const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as Record<string, Record<string, string> | undefined>;
/** Every @aws-sdk/client-* package of package.json. */
export const CLIENT_PACKAGES = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies }).filter((name) => name.startsWith('@aws-sdk/client-'));

/**
 * Gives every client class of CLIENT_PACKAGES the SDK's own `send` back: restores a sinon stub, deletes an
 * assigned `send`, and puts back the base class's `send` as this process first saw it.
 */
export async function restoreSdkSend(): Promise<void> {
  for (const name of CLIENT_PACKAGES) {
    for (const [exported, value] of Object.entries((await import(name)) as Record<string, unknown>)) {
      const prototype = typeof value === 'function' ? (value.prototype as { send?: { restore?: () => void } } | undefined) : undefined;
      if (!prototype || !Object.hasOwn(prototype, 'send')) continue;
      if (exported === '__Client') {
        registry[SDK_SEND] ??= prototype.send;
        prototype.send = registry[SDK_SEND] as typeof prototype.send;
      } else {
        prototype.send?.restore?.();
        delete prototype.send;
      }
    }
  }
}
