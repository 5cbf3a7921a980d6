import 'vitest';
import type { CustomMatcher } from 'aws-sdk-client-mock-vitest';

declare module 'vitest' {
  // biome-ignore lint/suspicious/noExplicitAny: a merged declaration repeats vitest's own, `Matchers<T = any>`, or it does not merge
  interface Matchers<T = any> extends CustomMatcher<T> {}
}
