// The HUD's views: ClickHouse reads (queries/) assembled with the allowlist by the pure modules.
import { collectsResults } from "../allowlist/policy.js";
import type { Allowlist } from "../allowlist/types.js";
import type { HudConnection, HudDatabase } from "./clickhouse.js";
import { backendJobColumn, GRID_PAGE_ROWS, gridPage, historyGrid, jobColumn, NEWEST, type GridOptions, type PageRequest } from "./grid.js";
import { backendHealth, healthTrend, healthView, summaryView, type WindowInputs } from "./health.js";
import { needsTrunkBaseline, prView } from "./pr-view.js";
import { dailySeries } from "./queries/daily.js";
import { dispatchLogRows, gridRowKeys, jobRows, trunkRows, type GridScope } from "./queries/rows.js";
import { inWindow, windowParams, type Window } from "./queries/sql.js";
import { dispatchCounts, jobCounts, prTimes } from "./queries/stats.js";
import type { BackendView, HealthTrendView, HealthView, HistoryGrid, PrView, SummaryView, TimeWindow, TrunkView } from "./views.js";
import { firstDayOf, signalCounts, utcDay, type CallbackOutcomeCount } from "../domain/callback-audit.js";

export interface HudServiceOptions {
  connection: HudConnection;
  allowlist: () => Allowlist | undefined;
  /** The upstream repo the relay serves; PR numbers on the HUD are its PRs. */
  upstreamRepo: string;
  /** The callback audit's counts from a UTC day on (the store's), for signal validity; none: not measured. */
  callbackOutcomes?: (fromDay: string) => Promise<CallbackOutcomeCount[]>;
  now?: () => number;
}

/** The most job (and dispatch) rows read for one grid page or one PR head. */
const GRID_JOB_LIMIT = 5000;
const SHAS_PER_PR = 20;
const DAY_MS = 86_400_000;
/** How far back the PR view looks for a job's latest trunk result: older ones say little about trunk today. */
const TRUNK_BASELINE_DAYS = 14;


/** The audit's days of a window: the N UTC days ending with the window's last (the audit counts per day). */
function inDays(window: Window): (row: CallbackOutcomeCount) => boolean {
  const first = firstDayOf(Math.round((window.to - window.from) / DAY_MS), window.to - 1);
  const last = utcDay(window.to - 1);
  return (row) => row.day >= first && row.day <= last;
}

export class HudService {
  constructor(private readonly options: HudServiceOptions) {}

  async summary(days: number): Promise<SummaryView> {
    const { inputs, span } = await this.#inputs(days);
    return summaryView(this.options.allowlist(), inputs, span);
  }

  /** Every backend against its level and the next (`cross-repo-ci-relay health`, and the allowlist check's figures). */
  async health(days: number): Promise<HealthView> {
    const { inputs, span } = await this.#inputs(days);
    return healthView(this.options.allowlist(), inputs, span);
  }

  /** Each backend's verdicts and main figures for each of the `weeks` weeks (oldest first) up to `end` (default now). */
  async healthByWeek(weeks: number, end = (this.options.now ?? Date.now)()): Promise<HealthTrendView> {
    const spans = Array.from({ length: weeks }, (_, index) => this.#window(7, end - (weeks - 1 - index) * 7 * DAY_MS));
    // The callback audit is read once for all the weeks, not once per week.
    const audit = await this.#audit(spans[0]!.window.from, end);
    const inputs = await Promise.all(spans.map(({ window }) => this.#inputsOver(window, undefined, audit)));
    return healthTrend(this.options.allowlist(), spans.map(({ span }, index) => ({ window: span, inputs: inputs[index]! })));
  }

  async #inputs(days: number): Promise<{ inputs: WindowInputs; span: TimeWindow }> {
    const { window, span } = this.#window(days);
    return { inputs: await this.#inputsOver(window), span };
  }

  /** `audit`: the callback audit's rows covering the window, when already read (see #audit). */
  async #inputsOver(window: Window, repo?: string, audit?: readonly CallbackOutcomeCount[]): Promise<WindowInputs> {
    const db = await this.options.connection.get();
    const [jobs, dispatches, times, rows] = await Promise.all([
      jobCounts(db, window, repo),
      dispatchCounts(db, window, repo),
      prTimes(db, window, repo),
      audit ?? this.#audit(window.from, window.to),
    ]);
    return { jobs, dispatches, prTimes: times, signal: signalCounts(rows.filter(inDays(window))) };
  }

  /** The callback audit's rows (per UTC day) from the day of the window starting at `from` to `to`'s; none without an audit. */
  async #audit(from: number, to: number): Promise<CallbackOutcomeCount[]> {
    const read = this.options.callbackOutcomes;
    return read ? read(firstDayOf(Math.round((to - from) / DAY_MS), to - 1)) : [];
  }

  /**
   * How the pages write a downstream repo: as the allowlist spells it (GitHub names are case-insensitive,
   * so the data, the URLs and the allowlist may differ in case); else lower case, as the data keeps it.
   */
  repoName(repo: string): string {
    return this.options.allowlist()?.byRepo.get(repo.toLowerCase())?.repo ?? repo.toLowerCase();
  }

  /** undefined when the repo is neither in the allowlist nor in the data of the window. `page`: which page of the history grid. */
  async backend(repo: string, days: number, page: PageRequest = NEWEST): Promise<BackendView | undefined> {
    const key = repo.toLowerCase();
    const { window, span } = this.#window(days);
    const db = await this.options.connection.get();
    const filter = { ...windowParams(window), repo: key };
    const scope = { jobs: `downstream_repo = {repo:String} AND ${inWindow("first_report_at")}`, dispatches: `downstream_repo = {repo:String} AND ${inWindow("created_at")}` };
    // Over the same window as the grid and the plots.
    const [inputs, daily, history] = await Promise.all([
      this.#inputsOver(window, key),
      dailySeries(db, window, key),
      this.#grid(db, scope, filter, page, { column: jobColumn }),
    ]);
    const allowlist = this.options.allowlist();
    const entry = allowlist?.byRepo.get(key);
    const [jobs] = inputs.jobs;
    const [dispatches] = inputs.dispatches;
    if (!entry && !jobs && !dispatches) return undefined;
    return {
      window: span,
      health: backendHealth(allowlist, key, { jobs, dispatches, prTimes: inputs.prTimes[0], signal: inputs.signal.get(key) }),
      daily,
      history,
      oncalls: entry?.oncalls ?? [],
    };
  }

  /** The PR's newest head sha (or `sha`, an older head of the same PR). */
  async pr(prNumber: number, sha?: string): Promise<PrView> {
    const db = await this.options.connection.get();
    // The data keeps repo names in lower case; the view shows the upstream as configured, like every page.
    const upstreamRepo = this.options.upstreamRepo.toLowerCase();
    const params = { upstream: upstreamRepo, pr: prNumber };
    const [recent, reported] = await Promise.all([
      dispatchLogRows(db, "upstream_repo = {upstream:String} AND pr_number = {pr:UInt32}", params, SHAS_PER_PR * 20),
      jobRows(db, "upstream_repo = {upstream:String} AND pr_number = {pr:UInt32}", params, 1),
    ]);
    const shas = [...new Set([...recent.map((row) => row.headSha), ...reported.map((row) => row.headSha)])].slice(0, SHAS_PER_PR);
    const headSha = sha ?? shas[0] ?? null;
    const onSha = { ...params, sha: headSha ?? "" };
    const [jobs, dispatches] =
      headSha === null
        ? [[], []]
        : await Promise.all([
            jobRows(db, "upstream_repo = {upstream:String} AND pr_number = {pr:UInt32} AND head_sha = {sha:String}", onSha, GRID_JOB_LIMIT),
            dispatchLogRows(db, "upstream_repo = {upstream:String} AND pr_number = {pr:UInt32} AND head_sha = {sha:String}", onSha, GRID_JOB_LIMIT),
          ]);
    // Trunk results only of backends with a failed job, over a bounded window: one narrow read, or none.
    const repos = [...new Set(jobs.filter((job) => needsTrunkBaseline(job.cell)).map((job) => job.downstreamRepo))];
    const onTrunk = { ...windowParams(this.#window(TRUNK_BASELINE_DAYS).window), upstream: upstreamRepo, repos };
    const trunk =
      repos.length === 0
        ? []
        : await trunkRows(
            db,
            `upstream_repo = {upstream:String} AND event_type = 'push' AND has({repos:Array(String)}, downstream_repo) AND ${inWindow("first_report_at")}`,
            onTrunk,
            GRID_JOB_LIMIT,
          );
    return prView({ upstreamRepo: this.options.upstreamRepo, prNumber, headSha, shas, jobs, dispatches, trunk, allowlist: this.options.allowlist() });
  }

  /** Upstream commits tested outside PRs (pushes, nightly self-reports); `level` keeps the allowlist's backends of that level. */
  async trunk(days: number, level?: string, page: PageRequest = NEWEST): Promise<TrunkView> {
    const { window, span } = this.#window(days);
    const db = await this.options.connection.get();
    const repos = level === undefined ? [] : (this.options.allowlist()?.entries.filter((entry) => entry.level === level).map((entry) => entry.key) ?? []);
    const params = { ...windowParams(window), upstream: this.options.upstreamRepo.toLowerCase(), repos, byRepo: level !== undefined };
    const scope = "upstream_repo = {upstream:String} AND (NOT {byRepo:Bool} OR has({repos:Array(String)}, downstream_repo))";
    const history = await this.#grid(
      db,
      { jobs: `${scope} AND event_type != 'pull_request' AND ${inWindow("first_report_at")}`, dispatches: `${scope} AND event_type = 'push' AND ${inWindow("created_at")}` },
      params,
      page,
      { column: backendJobColumn },
    );
    return { window: span, level: level ?? null, history };
  }

  /** One page of a history grid: its row keys (one read past the page), then only those rows' jobs and dispatches. */
  async #grid(db: HudDatabase, scope: GridScope, params: Record<string, unknown>, request: PageRequest, options: Pick<GridOptions, "column">): Promise<HistoryGrid> {
    const read = (from: PageRequest) => gridRowKeys(db, scope, params, from, GRID_PAGE_ROWS + 1);
    const page = gridPage(await read(request), request) ?? gridPage(await read(NEWEST), NEWEST)!;
    const rows = { ...params, shas: [...new Set(page.keys.map((key) => key.headSha))] };
    const onRows = "has({shas:Array(String)}, head_sha)";
    const [jobs, dispatches] =
      page.keys.length === 0
        ? [[], []]
        : await Promise.all([
            jobRows(db, `${scope.jobs} AND ${onRows}`, rows, GRID_JOB_LIMIT),
            dispatchLogRows(db, `${scope.dispatches} AND ${onRows}`, rows, GRID_JOB_LIMIT),
          ]);
    return historyGrid(page, jobs, dispatches, { ...options, collectsResults: this.#collectsResults() });
  }

  /** Backends not in the allowlist (any more) are judged as reporting ones. */
  #collectsResults(): (downstreamRepo: string) => boolean {
    const allowlist = this.options.allowlist();
    return (repo) => {
      const entry = allowlist?.byRepo.get(repo.toLowerCase());
      return entry === undefined || collectsResults(entry.policy);
    };
  }

  #window(days: number, to = (this.options.now ?? Date.now)()): { window: Window; span: TimeWindow } {
    const from = to - days * DAY_MS;
    return { window: { from, to }, span: { days, from: new Date(from).toISOString(), to: new Date(to).toISOString() } };
  }
}
