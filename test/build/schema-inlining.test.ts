import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const { treeShakeableSdkSchemas, noSdkEventStreams } = require('../../scripts/esbuild-plugins.cjs') as {
  treeShakeableSdkSchemas: esbuild.Plugin;
  noSdkEventStreams: esbuild.Plugin;
};
const ROOT = join(import.meta.dirname, '..', '..');

// Every command the rules send, serialised through a request handler that answers with canned bodies:
// the script prints each request on the wire and each parsed response.
const PROBE = `
import { EC2Client, RevokeSecurityGroupIngressCommand, DescribeSecurityGroupRulesCommand, CreateTagsCommand, DescribeTagsCommand } from '@aws-sdk/client-ec2';
import { S3Client, PutPublicAccessBlockCommand, GetBucketAclCommand, GetPublicAccessBlockCommand } from '@aws-sdk/client-s3';
import { CloudTrailClient, StartLoggingCommand, GetTrailStatusCommand } from '@aws-sdk/client-cloudtrail';
import { SNSClient, PublishCommand } from '@aws-sdk/client-sns';
const out = [];
const answer = (body, type) => ({ handle: async (req) => {
  out.push([req.method, req.path, JSON.stringify(req.query), String(req.body ?? '')].join(' '));
  return { response: { statusCode: 200, headers: { 'content-type': type }, body: Buffer.from(body) } };
} });
const credentials = { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'example' };
const ec2 = new EC2Client({ region: 'eu-west-1', credentials, requestHandler: answer('<R xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><securityGroupRuleSet><item><securityGroupRuleId>sgr-1</securityGroupRuleId><isEgress>false</isEgress><fromPort>22</fromPort><cidrIpv6>::/0</cidrIpv6><tagSet><item><key>k</key><value>v</value></item></tagSet></item></securityGroupRuleSet><tagSet><item><resourceId>i-1</resourceId><key>Owner</key><value>alice</value></item></tagSet><nextToken>n</nextToken></R>', 'text/xml') });
out.push(JSON.stringify(await ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: ['sg-1'] }], MaxResults: 100 }))));
await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: 'sg-1', SecurityGroupRuleIds: ['sgr-1', 'sgr-2'] }));
await ec2.send(new CreateTagsCommand({ Resources: ['i-1'], Tags: [{ Key: 'Owner', Value: 'role/alice@example.com' }] }));
out.push(JSON.stringify(await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: ['i-1', 'i-2'] }] }))));
const s3 = new S3Client({ region: 'eu-west-1', credentials, forcePathStyle: true, requestHandler: answer('<AccessControlPolicy><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant></AccessControlList><BlockPublicAcls>true</BlockPublicAcls></AccessControlPolicy>', 'application/xml') });
await s3.send(new PutPublicAccessBlockCommand({ Bucket: 'example', PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true }, ExpectedBucketOwner: '111122223333' }));
out.push(JSON.stringify((await s3.send(new GetBucketAclCommand({ Bucket: 'example' }))).Grants));
await s3.send(new GetPublicAccessBlockCommand({ Bucket: 'example' }));
const trail = new CloudTrailClient({ region: 'eu-west-1', credentials, requestHandler: answer('{"IsLogging":true,"LatestDeliveryTime":1.7E9}', 'application/x-amz-json-1.1') });
await trail.send(new StartLoggingCommand({ Name: 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/example' }));
out.push(JSON.stringify(await trail.send(new GetTrailStatusCommand({ Name: 'example' }))));
const sns = new SNSClient({ region: 'eu-west-1', credentials, requestHandler: answer('<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>', 'text/xml') });
out.push(JSON.stringify(await sns.send(new PublishCommand({ TopicArn: 'arn:aws:sns:eu-west-1:111122223333:t', Message: 'x', MessageAttributes: { rule: { DataType: 'String', StringValue: 'public-bucket' } } }))));
process.stdout.write(out.join('\\n'));
`;

async function bundleAndRun(plugins: esbuild.Plugin[]): Promise<{ output: string; bytes: number; inputs: string[] }> {
  const outfile = join(mkdtempSync(join(tmpdir(), 'trailguard-schemas-')), 'probe.mjs');
  const result = await esbuild.build({
    stdin: { contents: PROBE, resolveDir: ROOT },
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    mainFields: ['module', 'main'],
    outfile,
    plugins,
    logLevel: 'silent',
    metafile: true,
    banner: { js: "import { createRequire as __r } from 'module'; const require = __r(import.meta.url);" },
  });
  const output = execFileSync(process.execPath, [outfile], {
    env: { ...process.env, AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1' },
    timeout: 30_000,
  }).toString();
  const bundle = Object.values(result.metafile.outputs)[0];
  return { output, bytes: bundle?.bytes ?? 0, inputs: Object.keys(bundle?.inputs ?? {}) };
}

describe('inlining the SDK schema keys', () => {
  it('sends byte-identical requests and parses identical responses, in a much smaller bundle', async () => {
    const [plain, inlined] = await Promise.all([bundleAndRun([]), bundleAndRun([treeShakeableSdkSchemas])]);
    expect(inlined.output).toBe(plain.output);
    expect(inlined.output).toContain('SecurityGroupRuleId.1=sgr-1&SecurityGroupRuleId.2=sgr-2');
    expect(inlined.output).toContain('"URI":"http://acs.amazonaws.com/groups/global/AllUsers"');
    expect(inlined.bytes).toBeLessThan(plain.bytes * 0.6);
  }, 60_000);
});

describe('leaving the SDK event-stream codec out', () => {
  it('sends byte-identical requests and parses identical responses without it, and is smaller', async () => {
    const [inlined, stubbed] = await Promise.all([bundleAndRun([treeShakeableSdkSchemas]), bundleAndRun([treeShakeableSdkSchemas, noSdkEventStreams])]);
    expect(stubbed.output).toBe(inlined.output);
    expect(inlined.inputs.some((input) => input.includes('event-streams/eventstream-codec'))).toBe(true);
    expect(stubbed.inputs.some((input) => input.includes('event-streams/'))).toBe(false);
    expect(inlined.bytes - stubbed.bytes).toBeGreaterThan(10_000);
  }, 60_000);

  it('fails an event-stream operation loudly instead of sending it', async () => {
    const stub = (await import(pathToFileURL(join(ROOT, 'scripts', 'sdk-event-streams-stub.mjs')).href)) as {
      eventStreamSerdeProvider: () => { serialize: () => unknown };
      EventStreamSerde: new () => unknown;
    };
    expect(() => stub.eventStreamSerdeProvider().serialize()).toThrow(/event-stream operations are not bundled/);
    expect(() => new stub.EventStreamSerde()).toThrow(/not bundled/);
  });
});
