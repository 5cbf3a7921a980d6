// An in-memory SSM Parameter Store behind aws-sdk-client-mock, with what the CLI relies on: versions, history
// (`name:N` selectors), LastModifiedDate from the (faked) clock, LastModifiedUser, Overwrite, paging, non-recursive reads.
import {
  DeleteParameterCommand,
  DescribeParametersCommand,
  type DescribeParametersCommandInput,
  GetParameterCommand,
  GetParametersByPathCommand,
  type GetParametersByPathCommandInput,
  GetParametersCommand,
  PutParameterCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';

export const awsError = (name: string, status = 400) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

interface Version {
  readonly value: string;
  readonly version: number;
  readonly modified: Date;
  readonly user: string;
}

export class FakeStore {
  readonly ssm = mockClient(SSMClient);
  private readonly history = new Map<string, Version[]>();
  /** Who the next write is by (DescribeParameters' LastModifiedUser). */
  writer = 'arn:aws:sts::111122223333:assumed-role/SecurityOps/alice';

  /** Sets up the answers; call after `ssm.reset()`. */
  install(): this {
    const ssm = this.ssm;
    ssm.on(PutParameterCommand).callsFake(({ Name, Value, Overwrite }) => {
      if (this.history.has(Name) && !Overwrite) throw awsError('ParameterAlreadyExists');
      return { Version: this.set(Name, Value).version, Tier: 'Standard' };
    });
    ssm.on(GetParameterCommand).callsFake(({ Name }) => {
      const current = this.current(Name);
      if (!current) throw awsError('ParameterNotFound');
      return { Parameter: this.wire(Name, current) };
    });
    ssm.on(GetParametersCommand).callsFake(({ Names }: { Names: string[] }) => {
      const found = Names.flatMap((selector) => {
        const [name = '', n] = selector.split(':');
        const at = n === undefined ? this.current(name) : this.history.get(name)?.find((v) => v.version === Number(n));
        return at ? [this.wire(name, at)] : [];
      });
      return { Parameters: found, InvalidParameters: Names.filter((s) => !found.some((p) => p.Name === s.split(':')[0])) };
    });
    ssm.on(DeleteParameterCommand).callsFake(({ Name }) => {
      if (!this.history.delete(Name)) throw awsError('ParameterNotFound');
      return {};
    });
    ssm.on(GetParametersByPathCommand).callsFake(({ Path, Recursive, MaxResults, NextToken }: GetParametersByPathCommandInput) => {
      const under = this.names().filter((name) => name.startsWith(`${Path}/`) && (Recursive || !name.slice((Path ?? '').length + 1).includes('/')));
      const { page, next } = this.page(under, NextToken, MaxResults ?? 10);
      return { Parameters: page.map((name) => this.wire(name, this.current(name) as Version)), ...(next ? { NextToken: next } : {}) };
    });
    ssm.on(DescribeParametersCommand).callsFake(({ ParameterFilters, MaxResults, NextToken }: DescribeParametersCommandInput) => {
      const path = ParameterFilters?.find((f) => f.Key === 'Path')?.Values?.[0] ?? '/';
      const { page, next } = this.page(
        this.names().filter((name) => name.startsWith(`${path}/`)),
        NextToken,
        MaxResults ?? 10,
      );
      return {
        Parameters: page.map((name) => {
          const v = this.current(name) as Version;
          return { Name: name, Type: 'String', Version: v.version, LastModifiedDate: v.modified, LastModifiedUser: v.user };
        }),
        ...(next ? { NextToken: next } : {}),
      };
    });
    return this;
  }

  /** Writes a value (a new version, now, by `writer`); JSON-encodes anything but a string. */
  set(name: string, value: unknown): Version {
    const versions = this.history.get(name) ?? [];
    const next = { value: typeof value === 'string' ? value : JSON.stringify(value), version: versions.length + 1, modified: new Date(), user: this.writer };
    this.history.set(name, [...versions, next]);
    return next;
  }

  get(name: string): string | undefined {
    return this.current(name)?.value;
  }

  keys(): string[] {
    return this.names();
  }

  get size(): number {
    return this.history.size;
  }

  has(name: string): boolean {
    return this.history.has(name);
  }

  clear(): void {
    this.history.clear();
  }

  private current(name: string): Version | undefined {
    return this.history.get(name)?.at(-1);
  }

  private names(): string[] {
    return [...this.history.keys()].sort();
  }

  private page(names: string[], token: string | undefined, size: number): { page: string[]; next: string | undefined } {
    const from = Number(token ?? 0);
    const page = names.slice(from, from + size);
    return { page, next: from + page.length < names.length ? String(from + page.length) : undefined };
  }

  private wire(name: string, v: Version) {
    return { Name: name, Value: v.value, Version: v.version, Type: 'String' as const, LastModifiedDate: v.modified };
  }
}
