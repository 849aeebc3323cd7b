// Installation clients for the outbox: Probot's Octokit (GHE-aware, its auth and token cache) minus
// Probot's throttling and retry plugins. The outbox owns pacing and retries: Probot's write throttle
// spaces writes a second apart per client id and does not retry secondary rate limits, which would both
// hide the relay's real budget and make a slow GitHub look like a lost request.
import type { Probot } from "probot";
import type { RelayMetrics } from "../metrics.js";
import { httpStatus, type GitHubClient } from "./client.js";

export interface InstallationClients {
  get(installationId: number): Promise<GitHubClient>;
  /** The App itself (JWT): installation lookups and webhook delivery APIs. */
  app(): Promise<GitHubClient>;
}

/** The primary App's clients, from Probot's App-authenticated Octokit. */
export function installationClients(probot: Probot, metrics: RelayMetrics): InstallationClients {
  return appInstallationClients(() => probot.auth(), metrics);
}

/** Installation clients of the App `appClient` authenticates as (its JWT client). */
export function appInstallationClients(appClient: () => Promise<GitHubClient>, metrics: RelayMetrics): InstallationClients {
  const clients = new Map<number, Promise<GitHubClient>>();
  let jwtClient: Promise<GitHubClient> | undefined;

  const create = async (installationId: number): Promise<GitHubClient> => {
    const appOctokit = await appClient();
    const client = (await appOctokit.auth({
      type: "installation",
      installationId,
      // Same construction as Probot's own installation clients (probot/lib/octokit/get-authenticated-octokit.js),
      // with throttling and retries turned off.
      factory: ({ octokit, octokitOptions, ...authOptions }: FactoryOptions) =>
        new (octokit.constructor as new (options: unknown) => GitHubClient)({
          ...octokitOptions,
          throttle: { enabled: false },
          retry: { enabled: false },
          auth: { ...octokitOptions.auth, ...authOptions, installationId },
        }),
    })) as GitHubClient;
    countRequests(client, metrics);
    return client;
  };

  return {
    get(installationId) {
      let client = clients.get(installationId);
      if (!client) {
        client = create(installationId);
        clients.set(installationId, client);
        // A failed creation must not be cached forever.
        client.catch(() => clients.delete(installationId));
      }
      return client;
    },
    app() {
      jwtClient ??= appClient().then((client) => {
        countRequests(client, metrics);
        return client;
      });
      return jwtClient;
    },
  };
}

/**
 * Both Apps' clients behind one InstallationClients: an installation id picks its App (ids are unique
 * across Apps), so callers that hold an id need not know which side it is on. `app()` is the primary App.
 */
export function routedInstallationClients(
  primary: InstallationClients,
  downstream: InstallationClients,
  isDownstream: (installationId: number) => Promise<boolean>,
): InstallationClients {
  return {
    get: async (installationId) => ((await isDownstream(installationId)) ? downstream : primary).get(installationId),
    app: () => primary.app(),
  };
}

interface FactoryOptions {
  octokit: { constructor: unknown };
  octokitOptions: { auth?: Record<string, unknown> } & Record<string, unknown>;
  [key: string]: unknown;
}

function countRequests(client: GitHubClient, metrics: RelayMetrics): void {
  client.hook.wrap("request", async (request, options) => {
    // The route template, not the URL: a bounded label (a full URL, as in pagination links, is "other").
    const route = `${options.method} ${options.url.includes("://") ? "other" : options.url}`;
    const timer = metrics.githubRequestSeconds.startTimer({ route });
    try {
      const response = await request(options);
      metrics.githubRequests.inc({ method: options.method, status: String(response.status) });
      timer({ status: String(response.status) });
      return response;
    } catch (error) {
      const status = String(httpStatus(error) ?? "error");
      metrics.githubRequests.inc({ method: options.method, status });
      timer({ status });
      throw error;
    }
  });
}
