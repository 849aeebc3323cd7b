// Which allowlisted repos have the App installed, and with which installation. Kept in the store,
// updated from `installation`/`installation_repositories` events, and looked up (App JWT) when unknown.
import type { Logger } from "pino";
import { httpStatus } from "../github/client.js";
import type { InstallationClients } from "../github/installation-clients.js";
import { parseRepoSlug } from "../github/repo-name.js";
import type { Store } from "../store/store.js";

type RepoRef = { full_name?: string };

interface InstallationPayload {
  action: string;
  installation: { id: number };
  repositories?: RepoRef[];
  repositories_added?: RepoRef[];
  repositories_removed?: RepoRef[];
}

export class InstallationDirectory {
  readonly #lookups = new Map<string, Promise<number | undefined>>();

  constructor(
    private readonly store: Store,
    private readonly clients: InstallationClients,
    private readonly options: { log: Logger; recheckMs: number; now?: () => number },
  ) {}

  /**
   * true when the App is installed; false when a recent check found it absent; undefined when never
   * checked or the absence is older than the recheck interval (then dispatching looks again).
   */
  known(repo: string): boolean | undefined {
    const record = this.store.getInstallation(repo);
    if (record?.installationId !== undefined) return true;
    if (record && this.#now() - record.checkedAt < this.options.recheckMs) return false;
    return undefined;
  }

  /** The recorded installation id, without any lookup. */
  cachedId(repo: string): number | undefined {
    return this.store.getInstallation(repo)?.installationId;
  }

  /** The repo's installation id, looked up and recorded when not known (or known absent but stale). */
  async resolve(repo: string): Promise<number | undefined> {
    const record = this.store.getInstallation(repo);
    if (record?.installationId !== undefined) return record.installationId;
    if (record && this.#now() - record.checkedAt < this.options.recheckMs) return undefined;
    return this.lookup(repo);
  }

  /** Looks the repo up now (deduplicating concurrent lookups of the same repo). */
  lookup(repo: string): Promise<number | undefined> {
    const key = repo.toLowerCase();
    let pending = this.#lookups.get(key);
    if (!pending) {
      pending = this.#fetch(repo).finally(() => this.#lookups.delete(key));
      this.#lookups.set(key, pending);
    }
    return pending;
  }

  /** Re-checks repos never seen, or seen without the App longer ago than the recheck interval. */
  async refresh(repos: readonly string[]): Promise<void> {
    const stale = repos.filter((repo) => {
      const record = this.store.getInstallation(repo);
      return !record || (record.installationId === undefined && this.#now() - record.checkedAt >= this.options.recheckMs);
    });
    await this.#lookupAll(stale);
  }

  /** Looks up now every repo among `repos` recorded as not installed (e.g. after an installation appeared). */
  async recheckMissing(repos: readonly string[]): Promise<void> {
    await this.#lookupAll(this.notInstalled(repos));
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
  forget(repo: string): void {
    this.store.setInstallation(repo, undefined, 0);
  }

  /** Applies an `installation` or `installation_repositories` event. */
  apply(event: string, payload: InstallationPayload): void {
    const id = payload.installation.id;
    const now = this.#now();
    const set = (repos: RepoRef[] | undefined, installationId: number | undefined) => {
      for (const { full_name } of repos ?? []) if (full_name) this.store.setInstallation(full_name, installationId, now);
    };
    if (event === "installation") {
      if (payload.action === "deleted" || payload.action === "suspend") this.store.dropInstallation(id, now);
      else set(payload.repositories, id);
    } else {
      set(payload.repositories_added, id);
      set(payload.repositories_removed, undefined);
    }
  }

  /** Repos recorded without the App (however long ago). */
  notInstalled(repos: readonly string[]): string[] {
    return repos.filter((repo) => {
      const record = this.store.getInstallation(repo);
      return record !== undefined && record.installationId === undefined;
    });
  }

  async #fetch(repo: string): Promise<number | undefined> {
    const { owner, repo: name } = parseRepoSlug(repo);
    const app = await this.clients.app();
    let installationId: number | undefined;
    try {
      const { data } = await app.request("GET /repos/{owner}/{repo}/installation", { owner, repo: name });
      // A suspended installation cannot act; treat it as absent until it is unsuspended.
      installationId = data.suspended_at ? undefined : data.id;
    } catch (error) {
      if (httpStatus(error) !== 404) throw error;
    }
    this.store.setInstallation(repo, installationId, this.#now());
    return installationId;
  }

  #now(): number {
    return (this.options.now ?? Date.now)();
  }
}
