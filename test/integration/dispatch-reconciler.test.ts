// The dispatch reconciler (src/upstream/dispatch-reconciler.ts): open PR heads that no webhook dispatched
// are dispatched from GitHub's list of open pull requests, and nothing is ever dispatched twice, in either
// order with the webhook path. End to end through the relay's server (a pass runs at startup) against the
// GitHub stand-in, and pass by pass on the reconciler itself for paging, ETags and the per-pass bound.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import type { Allowlist } from "../../src/allowlist/types.js";
import { loadConfig } from "../../src/config.js";
import { installationClients } from "../../src/github/installation-clients.js";
import { InstallationDirectory } from "../../src/installations/directory.js";
import { createMetrics } from "../../src/metrics.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { dispatchReconciler } from "../../src/upstream/dispatch-reconciler.js";
import { applyPullRequest } from "../../src/state/pull-requests.js";
import { stateContextOf } from "../../src/state/settings.js";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { testLog, testProbot } from "../helpers/probot.js";
import { deliver, startRelayAgainst, tempDir, type RunningRelay } from "../helpers/server.js";

const UPSTREAM = "Codertocat/Hello-World";
const TPU = "beta/tpu-backend";
const NPU = "acme/npu-backend";
const ONE_BACKEND = `L4:\n  - ${TPU}: "@tpu-oncall"\n`;
const TWO_BACKENDS = `L4:\n  - ${TPU}: "@tpu-oncall"\n  - ${NPU}: "@npu-oncall"\n`;

let github: GitHubStandIn;
let relay: RunningRelay | undefined;
let dataDir: string;
let webhookPr: Payload;

/** A PR as "list pull requests" returns it (the webhook example's pull_request object), updated `ageMs` ago. */
function openPull(number: number, sha: string, fields: Record<string, unknown> = {}, ageMs = 60_000): Record<string, unknown> {
  const pull = structuredClone(webhookPr.pull_request) as Record<string, unknown> & { head: { sha: string } };
  pull.head.sha = sha;
  return { ...pull, number, author_association: "MEMBER", labels: [], draft: false, updated_at: new Date(Date.now() - ageMs).toISOString(), ...fields };
}

const sha = (digit: number) => String(digit).repeat(40);
const dispatchesTo = (repo: string) => github.find("POST", `/repos/${repo}/dispatches`).filter((request) => request.status === 204);
const payloadOf = (request: { body: unknown }) => (request.body as { client_payload: { head_sha: string; event: { action: string } } }).client_payload;

/** Reconciler passes the running relay finished (its own metric). */
async function passesDone(): Promise<number> {
  const text = await (await fetch(`${relay!.url}/metrics`)).text();
  return Number(/^relay_reconciler_passes_total\{outcome="done"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** The outbox sent everything stored. */
async function drained(): Promise<void> {
  await expect.poll(async () => (await relay?.dispatch?.readiness())?.details.outbox, { timeout: 10_000, interval: 50 }).toMatchObject({ pending: 0 });
}

/** Starts the relay on this test's DATA_DIR and waits for its first reconciler pass and the dispatches it stored. */
async function startWith(allowlist: string): Promise<RunningRelay> {
  await relay?.stop();
  relay = await startRelayAgainst(github, allowlist, { UPSTREAM_REPO: UPSTREAM, DATA_DIR: dataDir, RELAY_RECONCILE_MINUTES: "60" });
  await expect.poll(passesDone, { timeout: 10_000, interval: 50 }).toBeGreaterThan(0);
  await drained();
  return relay;
}

beforeEach(async () => {
  github = await startGitHubStandIn();
  github.install(1, [UPSTREAM]);
  github.install(12, [TPU]);
  github.install(13, [NPU]);
  dataDir = tempDir("relay-reconciler-");
  webhookPr = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
  webhookPr.pull_request.author_association = "MEMBER";
});
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
  await github.close();
});

describe("the reconciler through the relay's server", () => {
  it("dispatches an open PR whose webhook never arrived, shows its check run, and does not dispatch it again after a restart", async () => {
    github.setOpenPulls(UPSTREAM, [openPull(7, sha(1))]);
    await startWith(ONE_BACKEND);
    expect(dispatchesTo(TPU)).toHaveLength(1);
    expect(payloadOf(dispatchesTo(TPU)[0]!)).toMatchObject({ head_sha: sha(1), event: { action: "reconciled" } });
    const aggregate = [...github.checkRuns.values()].find((run) => run.name === "oot / tpu-backend");
    expect(aggregate).toMatchObject({ head_sha: sha(1), status: "queued" });

    await startWith(ONE_BACKEND);
    expect(github.find("GET", `/repos/${UPSTREAM}/pulls`)).toHaveLength(2);
    expect(dispatchesTo(TPU)).toHaveLength(1);
  });

  it("leaves heads the webhook dispatched alone, and a late webhook does not dispatch what the reconciler sent", async () => {
    await startWith(ONE_BACKEND);
    // Webhook first: the reconciler finds the head dispatched.
    expect((await deliver(relay!, "pull_request", webhookPr, "opened-1")).status).toBe(200);
    await drained();
    expect(dispatchesTo(TPU)).toHaveLength(1);
    github.setOpenPulls(UPSTREAM, [openPull(webhookPr.pull_request.number as number, webhookPr.pull_request.head.sha as string)]);
    await startWith(ONE_BACKEND);
    expect(dispatchesTo(TPU)).toHaveLength(1);

    // Reconciler first: the webhook, redelivered late, dispatches nothing more.
    const late = structuredClone(webhookPr);
    late.action = "synchronize";
    late.pull_request.head.sha = sha(2);
    // Pushed after the relay saw the PR opened: GitHub's updated_at is newer than the head the relay knows.
    github.setOpenPulls(UPSTREAM, [openPull(late.pull_request.number as number, sha(2), {}, 0)]);
    await startWith(ONE_BACKEND);
    expect(dispatchesTo(TPU)).toHaveLength(2);
    expect((await deliver(relay!, "pull_request", late, "synchronize-late")).status).toBe(200);
    await drained();
    expect(dispatchesTo(TPU)).toHaveLength(2);
  });

  it("dispatches an open head to a backend added to the allowlist, and only to it", async () => {
    await startWith(ONE_BACKEND);
    expect((await deliver(relay!, "pull_request", webhookPr, "opened-1")).status).toBe(200);
    await drained();
    github.setOpenPulls(UPSTREAM, [openPull(webhookPr.pull_request.number as number, webhookPr.pull_request.head.sha as string)]);
    await startWith(TWO_BACKENDS);
    expect(dispatchesTo(TPU)).toHaveLength(1);
    expect(dispatchesTo(NPU)).toHaveLength(1);
    expect(payloadOf(dispatchesTo(NPU)[0]!).head_sha).toBe(webhookPr.pull_request.head.sha);
  });

  it("skips PRs updated before the lookback window, untrusted authors and drafts, as the webhook path would", async () => {
    github.setOpenPulls(UPSTREAM, [
      openPull(1, sha(1), { author_association: "CONTRIBUTOR" }),
      openPull(2, sha(2), { draft: true }),
      openPull(3, sha(3), {}, 8 * 86_400_000),
    ]);
    await startWith(ONE_BACKEND);
    expect(dispatchesTo(TPU)).toHaveLength(0);
  });
});

describe("a reconciler pass", () => {
  let store: Store;
  let allowlist: Allowlist;
  let wakeUps: number;

  beforeEach(async () => {
    store = openSqliteStore(tempDir("relay-reconciler-pass-"));
    const parsed = parseAllowlist(ONE_BACKEND);
    if (!parsed.ok) throw new Error("test allowlist does not parse");
    allowlist = parsed.allowlist;
    wakeUps = 0;
    await store.setInstallation(UPSTREAM, 1, Date.now());
    await store.setInstallation(TPU, 12, Date.now());
  });
  afterEach(async () => {
    await store.close();
  });

  function reconcilerDeps(env: Record<string, string> = {}) {
    const metrics = createMetrics({ defaultMetrics: false });
    const clients = installationClients(testProbot({ baseUrl: github.apiUrl }), metrics);
    return {
      config: loadConfig({ UPSTREAM_REPO: UPSTREAM, ...env }),
      allowlist: (): Allowlist | undefined => allowlist,
      store,
      installations: new InstallationDirectory(store, clients, { log: testLog, recheckMs: 3_600_000 }),
      clients,
      metrics,
      log: testLog,
      onWork: () => wakeUps++,
    };
  }

  const reconciler = (env: Record<string, string> = {}) => dispatchReconciler(reconcilerDeps(env));

  it("reads page after page, asks again with the pages' ETags, and dispatches at most the per-pass bound", async () => {
    // Page 1: two trusted PRs and 98 untrusted ones, all recent; page 2: one more trusted PR, then PRs
    // updated before the lookback window.
    const untrusted = Array.from({ length: 98 }, (_, i) => openPull(10 + i, (100 + i).toString(16).padStart(40, "0"), { author_association: "CONTRIBUTOR" }));
    const old = Array.from({ length: 49 }, (_, i) => openPull(200 + i, (1000 + i).toString(16).padStart(40, "0"), {}, 30 * 86_400_000));
    github.setOpenPulls(UPSTREAM, [openPull(1, sha(1)), openPull(2, sha(2)), ...untrusted, openPull(3, sha(3)), ...old]);
    const bounded = reconciler({ RELAY_RECONCILE_HEADS_PER_PASS: "2" });
    const pass = () => bounded.pass();

    expect(await pass()).toEqual({ looked: 2, heads: 2, dispatches: 2, unchangedPages: 0 });
    expect(wakeUps).toBe(1);
    expect(await pass()).toEqual({ looked: 101, heads: 1, dispatches: 1, unchangedPages: 1 });
    expect(await pass()).toEqual({ looked: 101, heads: 0, dispatches: 0, unchangedPages: 2 });
    expect(wakeUps).toBe(2);

    const reads = github.find("GET", `/repos/${UPSTREAM}/pulls`);
    expect(reads.map((read) => [read.query.page, read.status])).toEqual([
      ["1", 200],
      ["1", 304],
      ["2", 200],
      ["1", 304],
      ["2", 304],
    ]);
    expect(reads[1]!.headers["if-none-match"]).toMatch(/^"[0-9a-f]{40}"$/);
    expect(reads.every((read) => read.query.state === "open" && read.query.sort === "updated" && read.query.direction === "desc")).toBe(true);
    expect(await store.backendHead({ upstreamRepo: UPSTREAM, headSha: sha(3), downstreamRepo: TPU })).toMatchObject({ level: "L4" });
  });

  it("leaves a PR alone when a webhook made another head open after the list's last update, and repairs one the list is newer than", async () => {
    const now = Date.now();
    // PR 7: a webhook made head sha(8) open just now; the list (PR updated 10 minutes ago) still says sha(7).
    const change = { upstreamRepo: UPSTREAM, prNumber: 7, headSha: sha(8), labels: [], closed: false };
    await store.transaction((tx) => applyPullRequest(tx, change, stateContextOf(loadConfig({}), allowlist)));
    // PR 9: the relay's open head sha(6) is older than the list's update, which says sha(9).
    await store.transaction((tx) =>
      tx.putHead({ upstreamRepo: UPSTREAM, headSha: sha(6), prNumber: 9, state: "open", labels: [], stateChangedAt: now - 3_600_000 }),
    );
    github.setOpenPulls(UPSTREAM, [openPull(9, sha(9), {}, 60_000), openPull(7, sha(7), {}, 600_000)]);

    expect(await reconciler().pass()).toMatchObject({ looked: 2, heads: 1, dispatches: 1 });
    expect(await store.head({ upstreamRepo: UPSTREAM, headSha: sha(8) })).toMatchObject({ state: "open" });
    expect(await store.head({ upstreamRepo: UPSTREAM, headSha: sha(7) })).toBeUndefined();
    expect(await store.head({ upstreamRepo: UPSTREAM, headSha: sha(9) })).toMatchObject({ state: "open" });
    expect(await store.head({ upstreamRepo: UPSTREAM, headSha: sha(6) })).toMatchObject({ state: "superseded", supersededBy: sha(9) });
  });

  it("skips list items of an unexpected shape and dispatches the rest", async () => {
    github.setOpenPulls(UPSTREAM, [{ number: "seven" }, openPull(2, sha(2))]);
    expect(await reconciler().pass()).toMatchObject({ looked: 1, dispatches: 1 });
  });

  it("does nothing without an allowlist, and fails the pass when the App is not installed upstream", async () => {
    const withoutAllowlist = dispatchReconciler({ ...reconcilerDeps(), allowlist: () => undefined });
    expect(await withoutAllowlist.pass()).toBeUndefined();
    await store.setInstallation(UPSTREAM, undefined, Date.now());
    await expect(reconciler().pass()).rejects.toThrow(`the App is not installed on ${UPSTREAM}`);
  });

});
