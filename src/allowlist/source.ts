// Keeps the allowlist in force: loads it from a fetcher (local file or config repo), reloads on change,
// and never replaces a good version with a bad one ("last known good").
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { ReadinessReport } from "../http/health.js";
import type { RelayMetrics } from "../metrics.js";
import { formatIssue, parseAllowlist, type ParseOptions } from "./parse.js";
import { LEVELS, type Allowlist } from "./types.js";

export type FetchOutcome = { kind: "unchanged" } | { kind: "content"; text: string };

export interface AllowlistFetcher {
  readonly kind: "file" | "repo";
  /** Where the allowlist comes from, for logs and /readyz. */
  readonly description: string;
  /** File name used in `path:line:col` messages. */
  readonly displayPath: string;
  /** `ref` pins a commit (a push names the exact sha, avoiding a stale read of the branch). */
  fetch(ref?: string): Promise<FetchOutcome>;
  /** Calls `onChange` when the source may have changed; returns a stop function. */
  watch?(onChange: () => void): () => void;
}

export interface AllowlistStatus {
  source: string;
  loaded: boolean;
  version?: string;
  loadedAt?: string;
  lastCheckedAt?: string;
  lastError?: { at: string; message: string; issues: string[] };
}

export interface AllowlistSourceOptions {
  log: Logger;
  metrics: RelayMetrics;
  /** Periodic re-read, for sources that cannot be watched. */
  refreshSeconds: number;
  /** How the file is read (the pytorch profile: as torchci also reads it). */
  parse?: ParseOptions;
}

export class AllowlistSource {
  #allowlist: Allowlist | undefined;
  #version: string | undefined;
  #loadedAt: Date | undefined;
  #lastCheckedAt: Date | undefined;
  #lastError: AllowlistStatus["lastError"];
  #queue: Promise<void> = Promise.resolve();
  #queued: Promise<void> | undefined;
  #stops: Array<() => void> = [];
  #listeners: Array<(allowlist: Allowlist) => void> = [];

  constructor(
    private readonly fetcher: AllowlistFetcher,
    private readonly options: AllowlistSourceOptions,
  ) {}

  current(): Allowlist | undefined {
    return this.#allowlist;
  }

  /** Calls `listener` with every newly loaded version. */
  onLoaded(listener: (allowlist: Allowlist) => void): void {
    this.#listeners.push(listener);
  }

  /** Loads now and keeps the allowlist fresh (file watch or periodic refresh). Timers never hold the process open. */
  start(): Promise<void> {
    const refresh = () => void this.reload("change");
    if (this.fetcher.watch) {
      this.#stops.push(this.fetcher.watch(refresh));
    } else {
      const timer = setInterval(() => void this.reload("periodic"), this.options.refreshSeconds * 1000);
      timer.unref();
      this.#stops.push(() => clearInterval(timer));
    }
    return this.reload("startup");
  }

  stop(): void {
    for (const stop of this.#stops.splice(0)) stop();
  }

  /**
   * Re-reads the allowlist. Reloads run one at a time; while one runs, further requests collapse into a
   * single follow-up so a push that lands mid-read is still seen.
   */
  reload(reason: string, ref?: string): Promise<void> {
    if (this.#queued && ref === undefined) return this.#queued;
    const next = this.#queue.then(() => {
      if (this.#queued === next) this.#queued = undefined;
      return this.#load(reason, ref);
    });
    this.#queue = next;
    if (ref === undefined) this.#queued = next;
    return next;
  }

  status(): AllowlistStatus {
    return {
      source: this.fetcher.description,
      loaded: this.#allowlist !== undefined,
      ...(this.#version && { version: this.#version }),
      ...(this.#loadedAt && { loadedAt: this.#loadedAt.toISOString() }),
      ...(this.#lastCheckedAt && { lastCheckedAt: this.#lastCheckedAt.toISOString() }),
      ...(this.#lastError && { lastError: this.#lastError }),
    };
  }

  /** Not ready only while no valid allowlist was ever loaded; a later bad edit or failed read is degraded, not fatal. */
  readiness(): ReadinessReport {
    return { ready: this.#allowlist !== undefined, degraded: this.#lastError !== undefined, details: { ...this.status() } };
  }

  async #load(reason: string, ref?: string): Promise<void> {
    const { log, metrics } = this.options;
    const source = this.fetcher.kind;
    const at = new Date();
    let outcome: FetchOutcome;
    try {
      outcome = await this.fetcher.fetch(ref);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#lastError = { at: at.toISOString(), message, issues: [] };
      metrics.allowlistReloads.inc({ source, outcome: "error" });
      log.warn({ source: this.fetcher.description, reason, err: message }, "allowlist could not be read; keeping the version in force");
      return;
    }
    this.#lastCheckedAt = at;
    if (outcome.kind === "unchanged") {
      // Same bytes as the last read: a read failure is over, but an invalid version is still the newest.
      if (this.#lastError?.issues.length === 0) this.#lastError = undefined;
      this.#recordSuccess("unchanged");
      return;
    }
    const version = contentVersion(outcome.text);
    if (version === this.#version) {
      this.#lastError = undefined;
      this.#recordSuccess("unchanged");
      return;
    }
    const parsed = parseAllowlist(outcome.text, this.options.parse);
    if (!parsed.ok) {
      const issues = parsed.issues.map((issue) => formatIssue(issue, this.fetcher.displayPath));
      this.#lastError = {
        at: at.toISOString(),
        message: `invalid allowlist ${version}: ${issues.length} problem(s); ${this.#allowlist ? "keeping the last good version" : "no valid version loaded yet"}`,
        issues,
      };
      metrics.allowlistReloads.inc({ source, outcome: "invalid" });
      metrics.allowlistInvalidVersions.inc({ source });
      log.error({ source: this.fetcher.description, reason, version, issues }, this.#lastError.message);
      return;
    }
    this.#allowlist = parsed.allowlist;
    this.#version = version;
    this.#loadedAt = at;
    this.#lastError = undefined;
    this.#recordSuccess("loaded");
    for (const level of LEVELS) {
      metrics.allowlistBackends.set({ level }, parsed.allowlist.entries.filter((entry) => entry.level === level).length);
    }
    log.info({ source: this.fetcher.description, reason, version, backends: parsed.allowlist.entries.length }, "allowlist loaded");
    for (const listener of this.#listeners) listener(parsed.allowlist);
  }

  #recordSuccess(outcome: "loaded" | "unchanged"): void {
    this.options.metrics.allowlistReloads.inc({ source: this.fetcher.kind, outcome });
    if (!this.#lastError) this.options.metrics.allowlistLastSuccess.set(Date.now() / 1000);
  }
}

function contentVersion(text: string): string {
  return `sha256:${createHash("sha256").update(text).digest("hex").slice(0, 12)}`;
}
