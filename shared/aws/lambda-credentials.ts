import { fromEnv } from '@aws-sdk/credential-provider-env';

/**
 * Stands in for `@aws-sdk/credential-provider-node` in the Lambda bundles only (esbuild `alias` in
 * serverless.yml). Lambda always hands the execution role's credentials over as environment variables,
 * so the SSO/INI/IMDS/web-identity chain (and the STS/SSO clients it embeds, ~95 KB minified) is dead
 * weight on every cold start. The CLI and the tests keep the SDK's full chain.
 */
export const defaultProvider = (): ReturnType<typeof fromEnv> => fromEnv();
