import { S3Client } from '@aws-sdk/client-s3';
import { baseClientConfig, cachedClient, type ClientOptions } from './client-options.js';

const clients = new Map<string, S3Client>();

/** The S3 client for a region; path-style addressing when a custom endpoint is set (bucket.localhost does not resolve). */
export function s3Client(options: ClientOptions): S3Client {
  return cachedClient(clients, 'S3', options, () => new S3Client({ ...baseClientConfig(options), forcePathStyle: options.endpoint !== undefined }));
}
