import { ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import { orgAccountsReader, type AccountsPage, type OrgAccounts } from '../outside.js';
import { baseClientConfig, cachedClient, type ClientOptions } from './client-options.js';
import { awsCall } from './errors.js';
import { partitionOf } from './sts.js';

const clients = new Map<string, OrganizationsClient>();
const readers = new WeakMap<OrganizationsClient, () => Promise<OrgAccounts>>();

/** The Region Organizations answers in for a partition: it is a global service with one endpoint per partition. */
const GLOBAL_REGION = { aws: 'us-east-1', 'aws-cn': 'cn-northwest-1', 'aws-us-gov': 'us-gov-west-1' } as const;

/** Which account a call is made from: Organizations is always called with the function's own (central) credentials. */
export type OrganizationsOptions = Omit<ClientOptions, 'account'>;

/**
 * The Organizations client, with the function's own credentials (never a member role's: only the management
 * account or a delegated administrator may list accounts). One per partition, whatever the event's Region, so
 * every Region's events share one container cache of the organisation's accounts.
 */
export function organizationsClient(options: OrganizationsOptions): OrganizationsClient {
  const own: ClientOptions = {
    region: GLOBAL_REGION[partitionOf(options.region) as keyof typeof GLOBAL_REGION],
    endpoint: options.endpoint,
    readOnly: options.readOnly,
  };
  return cachedClient(clients, 'Organizations', own, () => new OrganizationsClient(baseClientConfig(own)));
}

/** One page of ListAccounts as ids; a malformed id is left out rather than trusted (it could match nothing real). */
async function listAccountsPage(client: OrganizationsClient, token: string | undefined): Promise<AccountsPage> {
  const page = await awsCall('Organizations.ListAccounts', 'organization', () => client.send(new ListAccountsCommand(token ? { NextToken: token } : {})));
  return { ids: (page.Accounts ?? []).flatMap((a) => (a.Id && /^\d{12}$/.test(a.Id) ? [a.Id] : [])), nextToken: page.NextToken || undefined };
}

/** The organisation's accounts (all pages of ListAccounts), cached per container by orgAccountsReader; a failure is `unread`, with why. */
export function organizationAccounts(options: OrganizationsOptions, now: () => number = Date.now): () => Promise<OrgAccounts> {
  const client = organizationsClient(options);
  let reader = readers.get(client);
  if (!reader) {
    reader = orgAccountsReader((token) => listAccountsPage(client, token), now);
    readers.set(client, reader);
  }
  return reader;
}

/** Forgets the cached clients and their accounts (tests only: each test starts with nothing read). */
export function resetOrganizationsClients(): void {
  clients.clear();
}
