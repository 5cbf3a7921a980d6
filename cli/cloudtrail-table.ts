/**
 * The standard Athena CloudTrail table (AWS docs: "Create the table for CloudTrail logs in Athena using partition
 * projection") and the CloudTrail Lake event data store, as data: which columns a backtest selects, how a column
 * name and a struct field map back to the record's camelCase names, and the DDL docs/athena.md shows. Athena and
 * Lake give struct field names in lower case; CloudTrail writes `sourceIPAddress`, `requestID`, resources' `ARN`.
 */

import { terminalValue } from '../shared/safe-text.js';
import { InputProblem } from './usage.js';

/** A struct's fields by their lower-case name: the CloudTrail name, and the nested struct (or `map`: keys kept as given). */
export interface StructShape {
  readonly [lower: string]: readonly [name: string, inner?: StructShape | 'map'];
}

const field = (name: string, inner?: StructShape | 'map') => [name, inner] as const;

const ISSUER: StructShape = {
  type: field('type'),
  principalid: field('principalId'),
  arn: field('arn'),
  accountid: field('accountId'),
  username: field('userName'),
};

/** `useridentity` as the AWS DDL declares it (fields it leaves out are listed in docs/athena.md). */
export const USER_IDENTITY: StructShape = {
  type: field('type'),
  principalid: field('principalId'),
  arn: field('arn'),
  accountid: field('accountId'),
  invokedby: field('invokedBy'),
  accesskeyid: field('accessKeyId'),
  username: field('userName'),
  onbehalfof: field('onBehalfOf', { userid: field('userId'), identitystorearn: field('identityStoreArn') }),
  sessioncontext: field('sessionContext', {
    attributes: field('attributes', { mfaauthenticated: field('mfaAuthenticated'), creationdate: field('creationDate') }),
    sessionissuer: field('sessionIssuer', ISSUER),
    ec2roledelivery: field('ec2RoleDelivery'),
    webidfederationdata: field('webIdFederationData', { federatedprovider: field('federatedProvider'), attributes: field('attributes', 'map') }),
  }),
};

/** Lake's `userIdentity`: the Athena fields and a few more ("Supported SQL schemas for event data stores"). */
export const LAKE_USER_IDENTITY: StructShape = {
  ...USER_IDENTITY,
  identityprovider: field('identityProvider'),
  inscopeof: field('inScopeOf', {
    sourcearn: field('sourceArn'),
    sourceaccount: field('sourceAccount'),
    issuertype: field('issuerType'),
    credentialsissuedto: field('credentialsIssuedTo'),
  }),
  sessioncontext: field('sessionContext', {
    ...(USER_IDENTITY.sessioncontext as readonly [string, StructShape])[1],
    sourceidentity: field('sourceIdentity'),
    ec2issuedinvpc: field('ec2IssuedInVpc'),
  }),
};

export const RESOURCE: StructShape = { arn: field('ARN'), accountid: field('accountId'), type: field('type') };
export const LAKE_RESOURCE: StructShape = { ...RESOURCE, arnprefix: field('ARNPrefix') };

export const TLS_DETAILS: StructShape = {
  tlsversion: field('tlsVersion'),
  ciphersuite: field('cipherSuite'),
  clientprovidedhostheader: field('clientProvidedHostHeader'),
};

export const ADDENDUM: StructShape = {
  reason: field('reason'),
  updatedfields: field('updatedFields'),
  originalrequestid: field('originalRequestID'),
  originaleventid: field('originalEventID'),
};

/**
 * How a selected column becomes a record field: `text` as is, `json` parsed (CloudTrail wrote an object the table
 * keeps as JSON text), `struct`/`structs` JSON of the struct (`json_format(CAST(… AS JSON))`) with keys renamed,
 * `boolean` 'true'/'false' back to the boolean CloudTrail writes; `lake-map` a Lake map<string,string> as JSON, its
 * values text (a value holding a JSON object or array is read back as one).
 */
export type ColumnKind = { readonly kind: 'text' | 'json' | 'lake-map' | 'boolean' } | { readonly kind: 'struct' | 'structs'; readonly shape: StructShape };

export interface TableColumn {
  /** The column name in the Athena table (lower case). */
  readonly athena: string;
  /** The record's field name (CloudTrail's spelling, which is also the Lake column name). */
  readonly name: string;
  readonly type: ColumnKind;
}

const text = { kind: 'text' } as const;
const json = { kind: 'json' } as const;

/** Every column of the AWS DDL, in its order: what a backtest selects to rebuild the record. */
export const ATHENA_COLUMNS: readonly TableColumn[] = [
  { athena: 'eventversion', name: 'eventVersion', type: text },
  { athena: 'useridentity', name: 'userIdentity', type: { kind: 'struct', shape: USER_IDENTITY } },
  { athena: 'eventtime', name: 'eventTime', type: text },
  { athena: 'eventsource', name: 'eventSource', type: text },
  { athena: 'eventname', name: 'eventName', type: text },
  { athena: 'awsregion', name: 'awsRegion', type: text },
  { athena: 'sourceipaddress', name: 'sourceIPAddress', type: text },
  { athena: 'useragent', name: 'userAgent', type: text },
  { athena: 'errorcode', name: 'errorCode', type: text },
  { athena: 'errormessage', name: 'errorMessage', type: text },
  { athena: 'requestparameters', name: 'requestParameters', type: json },
  { athena: 'responseelements', name: 'responseElements', type: json },
  { athena: 'additionaleventdata', name: 'additionalEventData', type: json },
  { athena: 'requestid', name: 'requestID', type: text },
  { athena: 'eventid', name: 'eventID', type: text },
  { athena: 'readonly', name: 'readOnly', type: { kind: 'boolean' } },
  { athena: 'resources', name: 'resources', type: { kind: 'structs', shape: RESOURCE } },
  { athena: 'eventtype', name: 'eventType', type: text },
  { athena: 'apiversion', name: 'apiVersion', type: text },
  { athena: 'recipientaccountid', name: 'recipientAccountId', type: text },
  { athena: 'serviceeventdetails', name: 'serviceEventDetails', type: json },
  { athena: 'sharedeventid', name: 'sharedEventID', type: text },
  { athena: 'vpcendpointid', name: 'vpcEndpointId', type: text },
  { athena: 'vpcendpointaccountid', name: 'vpcEndpointAccountId', type: text },
  { athena: 'eventcategory', name: 'eventCategory', type: text },
  { athena: 'addendum', name: 'addendum', type: { kind: 'struct', shape: ADDENDUM } },
  { athena: 'sessioncredentialfromconsole', name: 'sessionCredentialFromConsole', type: text },
  { athena: 'edgedevicedetails', name: 'edgeDeviceDetails', type: json },
  { athena: 'tlsdetails', name: 'tlsDetails', type: { kind: 'struct', shape: TLS_DETAILS } },
];

/** Top-level record fields the AWS DDL has no column for: a backtest on Athena never sees them (no rule reads them). */
export const ATHENA_DROPPED_FIELDS: readonly string[] = ['managementEvent', 'insightDetails', 'annotation'];

/**
 * Which partitions the table has: `account` (region, day: one account's trail, every region), `organization`
 * (account, region, day: an organization trail) or `region` (day only, one region fixed in LOCATION: the AWS docs'
 * own partition-projection example).
 */
export type TableLayout = 'account' | 'organization' | 'region';

const TABLE_NAME = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?$/;
const BACKQUOTED = /^`[A-Za-z0-9_-]+`(\.`[A-Za-z0-9_-]+`)?$/;

/** An Athena table name for FROM: `db.table` of word characters, or each part backquoted; anything else is refused. */
export function athenaTableName(table: string): string {
  if (TABLE_NAME.test(table)) return table;
  if (BACKQUOTED.test(table)) {
    // Trino quotes identifiers with double quotes; a backquoted name (Hive's DDL style) is the same name.
    return table
      .split('.')
      .map((part) => `"${part.slice(1, -1)}"`)
      .join('.');
  }
  throw new InputProblem(`--athena: "${terminalValue(table)}" is not a table name (letters, digits and _, optionally database.table)`);
}

const EDS_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/;
const EDS_ARN = /^arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:\d{12}:eventdatastore\/([A-Za-z0-9][A-Za-z0-9-]{0,127})$/;

/** A CloudTrail Lake event data store for FROM: its id, or the id part of its ARN (Lake's FROM takes the id). */
export function lakeEventDataStoreId(store: string): string {
  const arn = EDS_ARN.exec(store);
  if (arn) return arn[1] as string;
  if (EDS_ID.test(store)) return store;
  throw new InputProblem(`--lake: "${terminalValue(store)}" is not an event data store id or ARN`);
}

/** The CREATE TABLE statement for the layout (docs/athena.md shows each); placeholders in braces. */
export function athenaDdl(layout: TableLayout): string {
  const partitions = {
    account: '`region` string, `timestamp` string',
    organization: '`accountid` string, `region` string, `timestamp` string',
    region: '`timestamp` string',
  }[layout];
  const folder = {
    account: 's3://{bucket}/AWSLogs/{account-id}/CloudTrail/',
    organization: 's3://{bucket}/AWSLogs/{organization-id}/',
    region: 's3://{bucket}/AWSLogs/{account-id}/CloudTrail/{region}/',
  }[layout];
  const template = {
    account: `${folder}\${region}/\${timestamp}`,
    organization: `${folder}\${accountid}/CloudTrail/\${region}/\${timestamp}`,
    region: `${folder}\${timestamp}`,
  }[layout];
  const projections = [
    ...(layout === 'organization' ? [`'projection.accountid.type'='enum'`, `'projection.accountid.values'='{account-id},{account-id}'`] : []),
    ...(layout === 'region' ? [] : [`'projection.region.type'='enum'`, `'projection.region.values'='{region},{region}'`]),
  ]
    .map((line) => `  ${line},\n`)
    .join('');
  return `CREATE EXTERNAL TABLE cloudtrail_logs_pp(
  eventversion STRING,
  useridentity STRUCT<
    type: STRING, principalid: STRING, arn: STRING, accountid: STRING, invokedby: STRING, accesskeyid: STRING, username: STRING,
    onbehalfof: STRUCT<userid: STRING, identitystorearn: STRING>,
    sessioncontext: STRUCT<
      attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
      sessionissuer: STRUCT<type: STRING, principalid: STRING, arn: STRING, accountid: STRING, username: STRING>,
      ec2roledelivery: STRING,
      webidfederationdata: STRUCT<federatedprovider: STRING, attributes: MAP<STRING,STRING>>>>,
  eventtime STRING, eventsource STRING, eventname STRING, awsregion STRING, sourceipaddress STRING, useragent STRING,
  errorcode STRING, errormessage STRING,
  requestparameters STRING, responseelements STRING, additionaleventdata STRING,
  requestid STRING, eventid STRING, readonly STRING,
  resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
  eventtype STRING, apiversion STRING, recipientaccountid STRING, serviceeventdetails STRING, sharedeventid STRING,
  vpcendpointid STRING, vpcendpointaccountid STRING, eventcategory STRING,
  addendum STRUCT<reason: STRING, updatedfields: STRING, originalrequestid: STRING, originaleventid: STRING>,
  sessioncredentialfromconsole STRING, edgedevicedetails STRING,
  tlsdetails STRUCT<tlsversion: STRING, ciphersuite: STRING, clientprovidedhostheader: STRING>
)
PARTITIONED BY (${partitions})
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '${folder}'
TBLPROPERTIES (
  'projection.enabled'='true',
${projections}  'projection.timestamp.type'='date',
  'projection.timestamp.format'='yyyy/MM/dd',
  'projection.timestamp.interval'='1',
  'projection.timestamp.interval.unit'='DAYS',
  'projection.timestamp.range'='{yyyy}/{MM}/{dd},NOW',
  'storage.location.template'='${template}'
);`;
}
