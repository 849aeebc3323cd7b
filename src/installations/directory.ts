// Which allowlisted repos have the App installed, and with which installation. Kept in the store,
// updated from `installation`/`installation_repositories` events, and looked up (App JWT) when unknown.
// With a downstream App (docs/security.md "Two Apps") the directory is keyed by (App, repo): downstream
// repos are looked up with, and recorded for, the downstream App; the upstream and config repos the primary App.
import type { Logger } from "pino";
import { httpStatus } from "../github/client.js";
import type { DownstreamApp } from "./downstream-app.js";
import { routedInstallationClients, type InstallationClients } from "../github/installation-clients.js";
import { parseRepoSlug } from "../github/repo-name.js";
import type { Store, StoreTx } from "../store/store.js";

type RepoRef = { full_name?: string };

interface InstallationPayload {
  action: string;
  /** `app_id` names the App the event is for (both Apps may deliver to the relay). */
  installation: { id: number; app_id?: number };
  repositories?: RepoRef[];
  repositories_added?: RepoRef[];
  repositories_removed?: RepoRef[];
}

export interface InstallationDirectoryOptions {
  log: Logger;
  recheckMs: number;
  now?: () => number;
  /** Acts on downstream repos instead of the primary App. */
  downstream?: DownstreamApp | undefined;
}

/** What the store knew of some repos' installations at one moment, answered without further reads. */
export interface InstallationSnapshot {
  known(repo: string): boolean | undefined;
  cachedId(repo: string): number | undefined;
}

/** The App serving a repo: its store key for the repo and its clients for lookups. */
interface Side {
  key: string;
  clients: InstallationClients;
}

export class InstallationDirectory {
  readonly #lookups = new Map<string, Promise<number | undefined>>();

  constructor(
    private readonly store: Store,
    private readonly clients: InstallationClients,
    private readonly options: InstallationDirectoryOptions,
  ) {}

  /**
   * true when the App is installed; false when a recent check found it absent; undefined when never
   * checked or the absence is older than the recheck interval (then dispatching looks again).
   */
  async known(repo: string): Promise<boolean | undefined> {
    const record = await this.#record(repo);
    if (record?.installationId !== undefined) return true;
    if (record && this.#now() - record.checkedAt < this.options.recheckMs) return false;
    return undefined;
  }

  /** The recorded installation id, without any lookup. */
  async cachedId(repo: string): Promise<number | undefined> {
    return (await this.#record(repo))?.installationId;
  }

  /** known() and cachedId() of each repo, read once (a plan looks at every allowlisted repo). */
  async snapshot(repos: readonly string[]): Promise<InstallationSnapshot> {
    const entries = await Promise.all(repos.map(async (repo) => [repo.toLowerCase(), { known: await this.known(repo), id: await this.cachedId(repo) }] as const));
    const byRepo = new Map(entries);
    return { known: (repo) => byRepo.get(repo.toLowerCase())?.known, cachedId: (repo) => byRepo.get(repo.toLowerCase())?.id };
  }

  /** The repo's installation id, looked up and recorded when not known (or known absent but stale). */
  async resolve(repo: string): Promise<number | undefined> {
    const record = await this.#record(repo);
    if (record?.installationId !== undefined) return record.installationId;
    if (record && this.#now() - record.checkedAt < this.options.recheckMs) return undefined;
    return this.lookup(repo);
  }

  /** Looks the repo up now (deduplicating concurrent lookups of the same repo). */
  lookup(repo: string): Promise<number | undefined> {
    const key = this.#side(repo).key.toLowerCase();
    let pending = this.#lookups.get(key);
    if (!pending) {
      pending = this.#fetch(repo).finally(() => this.#lookups.delete(key));
      this.#lookups.set(key, pending);
    }
    return pending;
  }

  /** Re-checks repos never seen, or seen without the App longer ago than the recheck interval. */
  async refresh(repos: readonly string[]): Promise<void> {
    const stale: string[] = [];
    for (const repo of repos) {
      const record = await this.#record(repo);
      if (!record || (record.installationId === undefined && this.#now() - record.checkedAt >= this.options.recheckMs)) stale.push(repo);
    }
    await this.#lookupAll(stale);
  }

  /** Looks up now every repo among `repos` recorded as not installed (e.g. after an installation appeared). */
  async recheckMissing(repos: readonly string[]): Promise<void> {
    await this.#lookupAll(await this.notInstalled(repos));
  }

  async #lookupAll(repos: readonly string[]): Promise<void> {
    for (const repo of repos) {
      try {
        await this.lookup(repo);
      } catch (error) {
        this.options.log.warn({ repo, err: String(error) }, "installation lookup failed; will retry");
      }
    }
  }

  /** Forget what is known about a repo (e.g. a dispatch answered 404): the next dispatch looks it up again. */
  forget(repo: string, writer: Pick<StoreTx, "setInstallation"> = this.store): Promise<void> {
    return writer.setInstallation(this.#side(repo).key, undefined, 0);
  }

  /** Applies an `installation` or `installation_repositories` event of either App. */
  async apply(event: string, payload: InstallationPayload): Promise<void> {
    const id = payload.installation.id;
    const now = this.#now();
    const { downstream } = this.options;
    const key = downstream && payload.installation.app_id === downstream.appId ? (repo: string) => downstreamKey(downstream, repo) : (repo: string) => repo;
    const set = async (repos: RepoRef[] | undefined, installationId: number | undefined) => {
      for (const { full_name } of repos ?? []) if (full_name) await this.store.setInstallation(key(full_name), installationId, now);
    };
    if (event === "installation") {
      if (payload.action === "deleted" || payload.action === "suspend") await this.store.dropInstallation(id, now);
      else await set(payload.repositories, id);
    } else {
      await set(payload.repositories_added, id);
      await set(payload.repositories_removed, undefined);
    }
  }

  /**
   * Applies an installation event, then, when the App gained repos, looks again at `allowlisted` repos
   * recorded without it: payloads do not always list the repos (e.g. unsuspend). The lookups run in the
   * background, so the webhook answer never waits on them.
   */
  async follow(event: string, payload: InstallationPayload, allowlisted: readonly string[]): Promise<void> {
    await this.apply(event, payload);
    const gained = event === "installation_repositories" || ["created", "unsuspend", "new_permissions_accepted"].includes(payload.action);
    if (gained) void this.recheckMissing(allowlisted);
  }

  /** Repos recorded without the App (however long ago). */
  async notInstalled(repos: readonly string[]): Promise<string[]> {
    const missing: string[] = [];
    for (const repo of repos) {
      const record = await this.#record(repo);
      if (record !== undefined && record.installationId === undefined) missing.push(repo);
    }
    return missing;
  }

  /** Whether an installation id is the downstream App's (ids are unique across Apps; its records say). */
  async isDownstream(installationId: number): Promise<boolean> {
    const { downstream } = this.options;
    if (!downstream) return false;
    const prefix = downstreamKey(downstream, "").toLowerCase();
    return (await this.store.listInstallations()).some((record) => record.installationId === installationId && record.repo.toLowerCase().startsWith(prefix));
  }

  async #fetch(repo: string): Promise<number | undefined> {
    const { owner, repo: name } = parseRepoSlug(repo);
    const side = this.#side(repo);
    const app = await side.clients.app();
    let installationId: number | undefined;
    try {
      const { data } = await app.request("GET /repos/{owner}/{repo}/installation", { owner, repo: name });
      // A suspended installation cannot act; treat it as absent until it is unsuspended.
      installationId = data.suspended_at ? undefined : data.id;
    } catch (error) {
      if (httpStatus(error) !== 404) throw error;
    }
    await this.store.setInstallation(side.key, installationId, this.#now());
    return installationId;
  }

  #record(repo: string) {
    return this.store.getInstallation(this.#side(repo).key);
  }

  #side(repo: string): Side {
    const { downstream } = this.options;
    return downstream?.serves(repo) ? { key: downstreamKey(downstream, repo), clients: downstream.clients } : { key: repo, clients: this.clients };
  }

  #now(): number {
    return (this.options.now ?? Date.now)();
  }
}

/**
 * The downstream App's records live under their own key, so the other App's installation on the same repo
 * never overwrites them; the primary App keeps the plain repo name (records from before stay valid).
 */
function downstreamKey(app: DownstreamApp, repo: string): string {
  return `app-${app.appId}:${repo}`;
}

/** The directory and the clients to act with: the primary App's, or both Apps' picked per installation. */
export function appInstallations(
  store: Store,
  primary: InstallationClients,
  options: InstallationDirectoryOptions,
): { installations: InstallationDirectory; clients: InstallationClients } {
  const installations = new InstallationDirectory(store, primary, options);
  const { downstream } = options;
  const clients = downstream ? routedInstallationClients(primary, downstream.clients, (id) => installations.isDownstream(id)) : primary;
  return { installations, clients };
}
