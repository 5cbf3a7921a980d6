// The SDK floor's derivation (bench/sdk-floor.ts): which clients and commands a bundle holds, read from its esbuild
// metafile, and the floor built from them, which must hold exactly the same and be able to make the calls; and
// the cold-init child's timeout and peak-RSS line (bench/cold.ts).
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureCold, nodeFloorScript, timeNode } from '../../bench/cold.js';
import { buildLike, floorKey, floorSource, lambdaBuildOptions, sdkClientsOf, stubModule, type FloorEvent } from '../../bench/sdk-floor.js';

// Two clients, one command each, plus an imported command the code never uses (tree-shaken: not in the floor).
const FIXTURE = `
import { GetBucketAclCommand, PutBucketAclCommand, S3Client } from '@aws-sdk/client-s3';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
void PutBucketAclCommand;
export async function handler() {
  await new S3Client({ region: 'us-east-1' }).send(new GetBucketAclCommand({ Bucket: 'fixture' }));
  await new SNSClient({ region: 'us-east-1' }).send(new PublishCommand({ TopicArn: 'arn:aws:sns:us-east-1:111122223333:t', Message: 'm' }));
}
`;

const input = (bytesInOutput: number) => ({ bytesInOutput });
const metafileOf = (inputs: Record<string, number>): Metafile => ({
  inputs: {},
  outputs: { 'out/handler.mjs': { bytes: 1, inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, input(v)])), imports: [], exports: [] } },
});

describe('sdkClientsOf (a metafile → the SDK clients and commands in the output)', () => {
  it('counts only modules that put bytes into the output, in either path style', () => {
    const clients = sdkClientsOf(
      metafileOf({
        'node_modules/@aws-sdk/client-s3/dist-es/S3Client.js': 900,
        'node_modules/@aws-sdk/client-s3/dist-es/commands/GetBucketAclCommand.js': 120,
        'node_modules/@aws-sdk/client-s3/dist-es/commands/PutBucketAclCommand.js': 0,
        'node_modules/@aws-sdk/client-s3/dist-es/models/errors.js': 400,
        'node_modules\\@aws-sdk\\client-sns\\dist-es\\commands\\PublishCommand.js': 80,
        'node_modules\\@aws-sdk\\client-sns\\dist-es\\SNSClient.js': 700,
        'node_modules/@smithy/core/dist-es/index.js': 5000,
        'functions/public-bucket/rule.ts': 300,
      }),
    );
    expect(clients).toEqual([
      { package: '@aws-sdk/client-s3', client: 'S3Client', commands: ['GetBucketAclCommand'] },
      { package: '@aws-sdk/client-sns', client: 'SNSClient', commands: ['PublishCommand'] },
    ]);
  });

  it('refuses a client package whose code it cannot read: its CommonJS build, one index.js', () => {
    const cjs = { 'node_modules/@aws-sdk/client-sns/dist-cjs/index.js': 9000, 'node_modules/@aws-sdk/client-s3/dist-es/S3Client.js': 900 };
    expect(() => sdkClientsOf(metafileOf({ ...cjs, 'node_modules/@aws-sdk/client-s3/dist-es/commands/GetBucketAclCommand.js': 120 }))).toThrow(
      /^@aws-sdk\/client-sns: code in the bundle but no client class nor command module/,
    );
    // Tree-shaken away entirely, it is not in the output: nothing to read.
    expect(sdkClientsOf(metafileOf({ 'node_modules/@aws-sdk/client-sns/dist-cjs/index.js': 0 }))).toEqual([]);
  });

  it('refuses a command without its client, and a client without a command', () => {
    expect(() => sdkClientsOf(metafileOf({ 'node_modules/@aws-sdk/client-ec2/dist-es/commands/CreateTagsCommand.js': 40 }))).toThrow(/no client class/);
    expect(() => sdkClientsOf(metafileOf({ 'node_modules/@aws-sdk/client-ec2/dist-es/EC2Client.js': 400 }))).toThrow(/no command/);
  });

  it('gives equal keys to equal sets only', () => {
    const a = [{ package: '@aws-sdk/client-sns', client: 'SNSClient', commands: ['PublishCommand'] }];
    const b = [{ package: '@aws-sdk/client-sns', client: 'SNSClient', commands: ['PublishBatchCommand', 'PublishCommand'] }];
    expect(floorKey(a)).toBe(floorKey([{ ...a[0] } as (typeof a)[0]]));
    expect(floorKey(a)).not.toBe(floorKey(b));
  });
});

describe("lambdaBuildOptions (serverless.yml's custom.esbuild, as serverless-esbuild passes it)", () => {
  it("keeps esbuild's options, loads the plugins and drops serverless-esbuild's own", () => {
    const options = lambdaBuildOptions();
    expect(options).toMatchObject({ bundle: true, minify: true, format: 'esm', platform: 'node', target: 'node22', outExtension: { '.js': '.mjs' } });
    expect(options.alias).toHaveProperty('@aws-sdk/credential-provider-node');
    expect(options.banner?.js).toContain('createRequire');
    expect(options.plugins?.map((p) => p.name)).toContain('project-only-source-maps');
    expect(options).not.toHaveProperty('outputFileExtension');
    expect(options).not.toHaveProperty('exclude');
  });
});

describe('an SDK floor built from a fixture bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sdk-floor-test-'));
  let server: Server;
  let endpoint = '';
  const requests: string[] = [];
  let fixtureClients: ReturnType<typeof sdkClientsOf> = [];
  let floorPath = '';

  beforeAll(async () => {
    // SNS's query protocol: a Publish answer, enough for the SDK to parse.
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        requests.push(body);
        response.writeHead(200, { 'content-type': 'text/xml' });
        response.end(
          '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>',
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    fixtureClients = sdkClientsOf(await buildLike(FIXTURE, join(dir, 'fixture', 'handler.mjs')));
    floorPath = join(dir, 'floor', 'handler.mjs');
    await buildLike(floorSource(fixtureClients), floorPath);
  }, 60_000);

  afterAll(() => {
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("finds the fixture's two clients and the commands it uses, not the unused one", () => {
    expect(fixtureClients.map((c) => c.client)).toEqual(['S3Client', 'SNSClient']);
    const s3 = fixtureClients[0];
    expect(s3?.commands).toContain('GetBucketAclCommand');
    expect(s3?.commands).not.toContain('PutBucketAclCommand');
    // Any other S3 command in the output is one the client itself pulls in (S3 Express sessions), not the fixture's.
    expect(s3?.commands.filter((c) => c !== 'GetBucketAclCommand')).toEqual(['CreateSessionCommand']);
    expect(fixtureClients[1]?.commands).toEqual(['PublishCommand']);
  });

  it('holds exactly the clients and commands it was built from', async () => {
    const again = sdkClientsOf(await buildLike(floorSource(fixtureClients), join(dir, 'floor-again', 'handler.mjs')));
    expect(again).toEqual(fixtureClients);
  }, 60_000);

  it('exports a handler that does nothing without steps and sends the calls it is given', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'AKIAEXAMPLEFLOORTEST';
    process.env.AWS_SECRET_ACCESS_KEY = 'floor-test-not-a-secret';
    try {
      const floor = (await import(pathToFileURL(floorPath).href)) as { handler: (event?: FloorEvent) => Promise<unknown[]> };
      expect(await floor.handler()).toEqual([]);
      const event: FloorEvent = {
        region: 'us-east-1',
        endpoint,
        steps: [[{ client: 'SNSClient', command: 'PublishCommand', input: { TopicArn: 'arn:aws:sns:us-east-1:111122223333:alerts', Message: 'hello' } }]],
      };
      const [published] = (await floor.handler(event)) as { MessageId?: string }[];
      expect(published?.MessageId).toBe('m-1');
      expect(requests.at(-1)).toContain('Action=Publish');
      await expect(floor.handler({ steps: [[{ client: 'SNSClient', command: 'DeleteTopicCommand', input: {} }]] })).rejects.toThrow(
        /holds no SNSClient.DeleteTopicCommand/,
      );
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  }, 30_000);

  it('stubModule leaves a client out of a bundle that still imports', async () => {
    const stubbed = sdkClientsOf(
      await buildLike(FIXTURE, join(dir, 'stubbed', 'handler.mjs'), [stubModule('@aws-sdk/client-sns', ['SNSClient', 'PublishCommand'])]),
    );
    expect(stubbed.map((c) => c.client)).toEqual(['S3Client']);
    expect(typeof ((await import(pathToFileURL(join(dir, 'stubbed', 'handler.mjs')).href)) as { handler: unknown }).handler).toBe('function');
  }, 60_000);
});

describe('timeNode (one cold start, bench/cold.ts)', () => {
  it("returns the child's peak RSS with its time", () => {
    const sample = timeNode(nodeFloorScript());
    expect(sample.ms).toBeGreaterThan(0);
    // KiB: a Node process holds more than 10 MiB and, doing nothing, far less than 1 GiB.
    expect(sample.maxRssKiB).toBeGreaterThan(10 * 1024);
    expect(sample.maxRssKiB).toBeLessThan(1024 * 1024);
  });

  it('kills a child that does not exit in time, and says so', () => {
    expect(() => timeNode('setTimeout(() => {}, 60_000)', 500)).toThrow(/no exit after 500 ms, killed/);
  });

  it('reports a child that fails', () => {
    expect(() => timeNode(`${nodeFloorScript()}; process.exit(4)`)).toThrow(/exited 4/);
  });
});

describe('measureCold (interleaved rounds, bench/cold.ts)', () => {
  it('imports the naive build in its measured rounds and the last warm-up round only', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cold-rounds-'));
    try {
      const imports = join(dir, 'imports.log');
      const moduleFor = (name: string) => {
        const path = join(dir, `${name}.mjs`);
        writeFileSync(
          path,
          `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(imports)}, '${name}\\n');\nexport const handler = () => 0;\n`,
        );
        return path;
      };
      const [result] = measureCold([{ name: 'f', sdkFloor: moduleFor('floor'), bundled: moduleFor('bundled'), naive: moduleFor('naive') }], {
        rounds: 3,
        warmup: 2,
        naiveRounds: 2,
      });
      const counts: Record<string, number> = {};
      for (const name of readFileSync(imports, 'utf8').trim().split('\n')) counts[name] = (counts[name] ?? 0) + 1;
      expect(counts).toEqual({ floor: 5, bundled: 5, naive: 3 });
      expect(result?.naive?.ms.median).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
