// Migration 13 (run tracking) on a real SQLite file: dispatches that reported jobs before the upgrade keep
// the rule they were made under (their aggregate concludes from their jobs), newer ones wait for their run.
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import { desiredAggregate } from "../../src/checks/desired.js";
import { LEGACY_RUN } from "../../src/domain/runs.js";
import { DATABASE_FILE, openSqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { databaseAtVersion } from "../helpers/old-schema.js";
import { tempDir } from "../helpers/server.js";

const SHA = "a".repeat(40);
const settings = {
  checkPrefix: "oot",
  labelPrefix: "ciflow/oot/",
  maxJobChecksPerBackend: 50,
  webBaseUrl: "https://github.example",
  publicUrl: "https://relay.example",
  startTimeoutMs: 7_200_000,
  runEndWaitMs: 1_800_000,
};
let store: Store | undefined;
afterEach(async () => store?.close());

describe("migration 13", () => {
  it("marks the runs of dispatches that reported jobs before run tracking as over, and leaves the others waiting for theirs", async () => {
    const dir = tempDir();
    const db = databaseAtVersion(path.join(dir, DATABASE_FILE), 12);
    db.prepare(
      `INSERT INTO heads (upstream_repo_key, upstream_repo, head_sha, pr_number, state, labels_json, state_changed_at)
       VALUES ('up/stream', 'Up/Stream', ?, 7, 'open', '[]', 0)`,
    ).run(SHA);
    const backend = db.prepare(
      `INSERT INTO backend_heads (upstream_repo_key, upstream_repo, head_sha, downstream_repo_key, downstream_repo, backend_name, level,
         delivery_id, dispatch_outcome, counts_json, newest_json, next_seq)
       VALUES ('up/stream', 'Up/Stream', ?, ?, ?, ?, 'L4', ?, 'sent', ?, NULL, ?)`,
    );
    backend.run(SHA, "acme/done", "acme/done", "done", "d-1", JSON.stringify({ jobs: 2, running: 0, conclusions: { success: 2 } }), 2);
    backend.run(SHA, "acme/silent", "acme/silent", "silent", "d-2", JSON.stringify({ jobs: 0, running: 0, conclusions: {} }), 0);
    db.close();

    store = openSqliteStore(dir);
    const done = await store.backendHead({ upstreamRepo: "Up/Stream", headSha: SHA, downstreamRepo: "acme/done" });
    const silent = await store.backendHead({ upstreamRepo: "Up/Stream", headSha: SHA, downstreamRepo: "acme/silent" });
    expect(done?.runs).toEqual([LEGACY_RUN]);
    expect(silent?.runs).toBeUndefined();

    // The aggregate shows what it showed before the upgrade: concluded from its jobs.
    const parsed = parseAllowlist("L4:\n  - acme/done: \"@oncall\"\n");
    if (!parsed.ok) throw new Error("allowlist");
    const head = (await store.head({ upstreamRepo: "Up/Stream", headSha: SHA }))!;
    const request = desiredAggregate({ head, backend: { ...done!, backendName: "done" }, entry: parsed.allowlist.entries[0], listed: [] }, settings, true);
    expect(request?.params).toMatchObject({ status: "completed", conclusion: "success" });
  });
});
