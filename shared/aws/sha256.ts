import { createHash, createHmac, type Hash as NodeHash, type Hmac } from 'node:crypto';
import type { SourceData } from '@smithy/types';

const bytesOf = (data: SourceData): string | Uint8Array =>
  typeof data === 'string' ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

/**
 * SHA-256 (HMAC with a key) in the constructor shape SignatureV4 takes, on node:crypto (smaller than @smithy's Hash):
 * the hand-signed callers (shared/live-config/ssm-reader.ts, shared/aws/rolesanywhere.ts) share it.
 */
export class Sha256 {
  private readonly hash: NodeHash | Hmac;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}
