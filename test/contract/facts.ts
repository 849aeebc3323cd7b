// The Store contract (store-contract.ts) on the facts the state core keeps: heads, backend heads, latest
// attempts, callback outcomes and installations.
import { describe, expect, it } from "vitest";
import { NOW } from "../helpers/store-fixtures.js";
import { attempt, backendHead, head, KEY } from "./fixtures.js";
import type { StoreContractContext } from "./store-contract.js";

/** Heads, backend heads, latest attempts, callback outcomes and installations. */
export function describeFacts(ctx: StoreContractContext): void {
  describe("heads", () => {
    it("round-trips a head by key (repo case-insensitive), keeping unknown labels apart from no labels", async () => {
      expect(await ctx.store.head({ upstreamRepo: "up/stream", headSha: "abc" })).toBeUndefined();
      await ctx.store.putHead(head({ labels: undefined }));
      await ctx.store.putHead(head({ headSha: "def", labels: [] }));
      await ctx.store.putHead(head({ headSha: "ghi", state: "superseded", supersededBy: "abc", stateChangedAt: NOW + 5 }));
      const again = await ctx.stored();

      const found = await again.head({ upstreamRepo: "UP/STREAM", headSha: "abc" });
      expect(found).toStrictEqual({ upstreamRepo: "Up/Stream", headSha: "abc", prNumber: 7, state: "open", stateChangedAt: NOW });
      expect(found).not.toHaveProperty("labels");
      expect(await again.head({ upstreamRepo: "up/stream", headSha: "def" })).toStrictEqual(head({ headSha: "def", labels: [] }));
      expect(await again.head({ upstreamRepo: "up/stream", headSha: "ghi" })).toStrictEqual(
        head({ headSha: "ghi", state: "superseded", supersededBy: "abc", stateChangedAt: NOW + 5 }),
      );
      expect(await again.head({ upstreamRepo: "up/stream", headSha: "ABC" })).toBeUndefined(); // shas are exact
    });

    it("replaces a head in place: state, labels, supersededBy and the repo's spelling follow the last write", async () => {
      await ctx.store.putHead(head({ state: "superseded", supersededBy: "def", stateChangedAt: NOW + 1 }));
      await ctx.store.putHead(head({ upstreamRepo: "up/stream", state: "open", labels: ["x"], stateChangedAt: NOW + 2 }));
      expect(await ctx.store.head({ upstreamRepo: "Up/Stream", headSha: "abc" })).toStrictEqual(
        head({ upstreamRepo: "up/stream", labels: ["x"], stateChangedAt: NOW + 2 }),
      );
      await ctx.store.putHead(head({ state: "closed", labels: undefined, stateChangedAt: NOW + 3 }));
      expect(await ctx.store.head({ upstreamRepo: "up/stream", headSha: "abc" })).toStrictEqual({
        upstreamRepo: "Up/Stream",
        headSha: "abc",
        prNumber: 7,
        state: "closed",
        stateChangedAt: NOW + 3,
      });
    });

    it("lists the open heads of a PR only", async () => {
      await ctx.store.putHead(head({ headSha: "a1" }));
      await ctx.store.putHead(head({ headSha: "a2", state: "superseded", supersededBy: "a1" }));
      await ctx.store.putHead(head({ headSha: "a3", state: "closed" }));
      await ctx.store.putHead(head({ headSha: "b1", prNumber: 8 }));
      await ctx.store.putHead(head({ upstreamRepo: "other/repo", headSha: "c1" }));
      expect(await ctx.store.openHeadsOfPr("UP/stream", 7)).toStrictEqual([head({ headSha: "a1" })]);
      expect((await ctx.store.openHeadsOfPr("up/stream", 8)).map((found) => found.headSha)).toEqual(["b1"]);
      expect(await ctx.store.openHeadsOfPr("up/stream", 9)).toEqual([]);
      // A force-push back revives a superseded head: two open heads until the other one is superseded.
      await ctx.store.putHead(head({ headSha: "a2", state: "open" }));
      expect((await ctx.store.openHeadsOfPr("up/stream", 7)).map((found) => found.headSha).sort()).toEqual(["a1", "a2"]);
    });

    it("walks every open head in key order, in pages", async () => {
      const shas = ["s05", "s01", "s04", "s03", "s02"];
      for (const sha of shas) await ctx.store.putHead(head({ headSha: sha }));
      await ctx.store.putHead(head({ upstreamRepo: "A/first", headSha: "zz" }));
      await ctx.store.putHead(head({ upstreamRepo: "z/last", headSha: "aa" }));
      await ctx.store.putHead(head({ headSha: "s025", state: "closed" }));
      await ctx.store.putHead(head({ headSha: "s035", state: "superseded", supersededBy: "s04" }));

      const pages: string[][] = [];
      let after: { upstreamRepo: string; headSha: string } | undefined;
      for (;;) {
        const page = await ctx.store.openHeads(after, 2);
        if (page.length === 0) break;
        pages.push(page.map((found) => `${found.upstreamRepo}@${found.headSha}`));
        after = page.at(-1);
      }
      expect(pages).toEqual([
        ["A/first@zz", "Up/Stream@s01"],
        ["Up/Stream@s02", "Up/Stream@s03"],
        ["Up/Stream@s04", "Up/Stream@s05"],
        ["z/last@aa"],
      ]);
      expect(await ctx.store.openHeads(undefined, 100)).toHaveLength(7);
      expect((await ctx.store.openHeads({ upstreamRepo: "UP/STREAM", headSha: "s03" }, 100)).map((found) => found.headSha)).toEqual(["s04", "s05", "aa"]);
    });
  });

  describe("backend heads", () => {
    it("round-trips a backend head with counts, newest attempt and frame hash, optional fields absent", async () => {
      const newest = attempt("test", 1, { status: "in_progress", conclusion: undefined });
      delete newest.conclusion;
      const full = backendHead({
        dispatchOutcome: "failed",
        dispatchReason: "http_404",
        unreported: "never_reported",
        counts: { jobs: 2, running: 1, conclusions: { success: 1 } },
        newest,
        nextSeq: 2,
        frameHash: "frame-1",
      });
      await ctx.store.putBackendHead(backendHead());
      await ctx.store.putBackendHead({ ...full, downstreamRepo: "beta/tpu", backendName: "tpu" });
      const again = await ctx.stored();

      const bare = await again.backendHead({ ...KEY, downstreamRepo: "ACME/npu" });
      expect(bare).toStrictEqual(backendHead());
      for (const field of ["dispatchReason", "unreported", "newest", "frameHash"]) expect(bare).not.toHaveProperty(field);
      expect(await again.backendHead({ ...KEY, downstreamRepo: "beta/tpu" })).toStrictEqual({ ...full, downstreamRepo: "beta/tpu", backendName: "tpu" });
      expect(await again.backendHead({ ...KEY, downstreamRepo: "gamma/xpu" })).toBeUndefined();
      expect(await again.backendHead({ ...KEY, headSha: "def" })).toBeUndefined();

      // backendHeads: every backend on the head, by downstream repo.
      await ctx.store.putBackendHead(backendHead({ headSha: "def" }));
      expect((await ctx.store.backendHeads({ upstreamRepo: "UP/STREAM", headSha: "abc" })).map((found) => found.backendName)).toEqual(["npu", "tpu"]);
      expect(await ctx.store.backendHeads({ upstreamRepo: "up/stream", headSha: "nope" })).toEqual([]);
    });

    it("replaces a backend head in place, dropping what the new facts leave out", async () => {
      await ctx.store.putBackendHead(backendHead({ dispatchOutcome: "dead", dispatchReason: "max_age", unreported: "reports_not_expected", frameHash: "f", nextSeq: 3 }));
      const redispatched = backendHead({ deliveryId: "d2", dispatchOutcome: "pending", level: "L4" });
      await ctx.store.putBackendHead(redispatched);
      expect(await ctx.store.backendHead(KEY)).toStrictEqual(redispatched);
    });

    it("finds the backend head of a dispatch while it is the head's latest", async () => {
      await ctx.store.putBackendHead(backendHead());
      expect(await ctx.store.backendHeadOfDispatch("d1", "ACME/npu")).toStrictEqual(backendHead());
      expect(await ctx.store.backendHeadOfDispatch("d1", "beta/tpu")).toBeUndefined();
      await ctx.store.putBackendHead(backendHead({ deliveryId: "d2" }));
      expect(await ctx.store.backendHeadOfDispatch("d1", "acme/npu")).toBeUndefined();
      expect(await ctx.store.backendHeadOfDispatch("d2", "acme/npu")).toMatchObject({ deliveryId: "d2" });
    });
  });

  describe("latest attempts", () => {
    it("round-trips a latest attempt by job, and a later attempt replaces it", async () => {
      const running = attempt("test", 0, { status: "in_progress" });
      delete running.conclusion;
      await ctx.store.putLatestAttempt(KEY, running);
      const again = await ctx.stored();
      expect(await again.latestAttempt({ ...KEY, upstreamRepo: "UP/stream", downstreamRepo: "ACME/NPU" }, "ci", "test")).toStrictEqual(running);
      expect(await again.latestAttempt(KEY, "ci", "build")).toBeUndefined();
      expect(await again.latestAttempt(KEY, "other", "test")).toBeUndefined();
      expect(await again.latestAttempt({ ...KEY, downstreamRepo: "beta/tpu" }, "ci", "test")).toBeUndefined();

      const retried = attempt("test", 0, { runAttempt: 2, conclusion: "failure" });
      await ctx.store.putLatestAttempt(KEY, retried);
      expect(await ctx.store.latestAttempt(KEY, "ci", "test")).toStrictEqual(retried);
      expect(await ctx.store.attemptsBelowSeq(KEY, 10)).toStrictEqual([retried]);
    });

    it("lists jobs that did not pass first, at most `limit`, returned in seq order", async () => {
      // seq 0..5: passed, failed, passed, running, passed, cancelled; written out of order.
      const attempts = [
        attempt("j0", 0),
        attempt("j1", 1, { conclusion: "failure" }),
        attempt("j2", 2),
        attempt("j3", 3, { status: "in_progress", conclusion: undefined }),
        attempt("j4", 4),
        attempt("j5", 5, { conclusion: "cancelled" }),
      ];
      for (const index of [4, 0, 5, 2, 1, 3]) await ctx.store.putLatestAttempt(KEY, attempts[index]!);
      const listed = async (limit: number) => (await ctx.store.listedAttempts(KEY, limit)).map((found) => found.jobName);
      expect(await listed(100)).toEqual(["j0", "j1", "j2", "j3", "j4", "j5"]);
      expect(await listed(3)).toEqual(["j1", "j3", "j5"]); // the three that did not pass
      expect(await listed(4)).toEqual(["j0", "j1", "j3", "j5"]); // then passed ones by seq
      expect(await listed(5)).toEqual(["j0", "j1", "j2", "j3", "j5"]);
      expect(await listed(1)).toEqual(["j1"]);
      expect(await listed(0)).toEqual([]);
      // A job that passes on retry moves behind the failing ones.
      await ctx.store.putLatestAttempt(KEY, attempt("j1", 1, { runAttempt: 2 }));
      expect(await listed(2)).toEqual(["j3", "j5"]);
      // Completed without a conclusion is not passed.
      await ctx.store.putLatestAttempt(KEY, attempt("j0", 0, { conclusion: undefined }));
      expect(await listed(3)).toEqual(["j0", "j3", "j5"]);
      // Other backend heads are not listed.
      expect(await ctx.store.listedAttempts({ ...KEY, downstreamRepo: "beta/tpu" }, 10)).toEqual([]);
    });

    it("returns the attempts below a seq in seq order, and forgets a backend head's attempts on clear", async () => {
      for (const seq of [3, 0, 2, 1]) await ctx.store.putLatestAttempt(KEY, attempt(`j${seq}`, seq, seq === 2 ? { conclusion: "failure" } : {}));
      const other = { ...KEY, headSha: "def" };
      await ctx.store.putLatestAttempt(other, attempt("j0", 0));
      expect((await ctx.store.attemptsBelowSeq(KEY, 2)).map((found) => found.seq)).toEqual([0, 1]);
      expect((await ctx.store.attemptsBelowSeq(KEY, 100)).map((found) => found.seq)).toEqual([0, 1, 2, 3]);
      expect(await ctx.store.attemptsBelowSeq(KEY, 0)).toEqual([]);
      expect((await ctx.store.attemptsBelowSeq(KEY, 3))[2]).toStrictEqual(attempt("j2", 2, { conclusion: "failure" }));

      await ctx.store.clearLatestAttempts({ ...KEY, upstreamRepo: "Up/Stream", downstreamRepo: "Acme/NPU" });
      expect(await ctx.store.attemptsBelowSeq(KEY, 100)).toEqual([]);
      expect(await ctx.store.listedAttempts(KEY, 100)).toEqual([]);
      expect(await ctx.store.latestAttempt(KEY, "ci", "j0")).toBeUndefined();
      expect(await ctx.store.attemptsBelowSeq(other, 100)).toHaveLength(1);
    });
  });

  describe("trunk results", () => {
    const job = { upstreamRepo: "Up/Stream", downstreamRepo: "Acme/NPU", workflowName: "ci", jobName: "test (npu, 1)" };
    const result = (headSha: string, dispatchedAt: number, conclusion = "failure") => ({ headSha, conclusion, failedTests: ["t::a"], url: `https://ci/${headSha}`, dispatchedAt });

    it("keeps the result of the trunk commit dispatched last, per job, whatever the order results arrive in", async () => {
      expect(await ctx.store.trunkResult(job)).toBeUndefined();
      await ctx.store.putTrunkResult(job, result("b", 2_000), 10);
      // An older commit's result arriving later does not replace the newer one's.
      await ctx.store.putTrunkResult(job, result("a", 1_000, "success"), 11);
      const lowerCased = { ...job, upstreamRepo: "up/stream", downstreamRepo: "acme/npu" };
      expect(await ctx.store.trunkResult(lowerCased)).toStrictEqual(result("b", 2_000));
      // A re-run of the same commit (same dispatch time) and a newer commit do.
      await ctx.store.putTrunkResult(job, result("b", 2_000, "success"), 12);
      expect((await ctx.store.trunkResult(job))?.conclusion).toBe("success");
      await ctx.store.putTrunkResult(job, result("c", 3_000), 13);
      expect((await ctx.store.trunkResult(job))?.headSha).toBe("c");
      // Other jobs are apart (workflow and job names are case-sensitive, as in check-run names).
      expect(await ctx.store.trunkResult({ ...job, jobName: "TEST (npu, 1)" })).toBeUndefined();
      expect(await ctx.store.trunkResult({ ...job, workflowName: "nightly" })).toBeUndefined();
    });
  });

  describe("callback outcomes", () => {
    it("adds counts per (day, repo, outcome), reads days from a day on, and prunes days before the kept one", async () => {
      await ctx.store.addCallbackOutcomes(
        [
          { day: "2026-01-01", repo: "acme/npu", outcome: "accepted", count: 2 },
          { day: "2026-01-02", repo: "acme/npu", outcome: "accepted", count: 1 },
          { day: "2026-01-02", repo: "(unverified)", outcome: "bad_token", count: 5 },
        ],
        "2026-01-01",
      );
      await ctx.store.addCallbackOutcomes([{ day: "2026-01-02", repo: "acme/npu", outcome: "accepted", count: 3 }], "2026-01-01");
      expect(await ctx.store.callbackOutcomes("2026-01-01")).toEqual([
        { day: "2026-01-01", repo: "acme/npu", outcome: "accepted", count: 2 },
        { day: "2026-01-02", repo: "(unverified)", outcome: "bad_token", count: 5 },
        { day: "2026-01-02", repo: "acme/npu", outcome: "accepted", count: 4 },
      ]);
      expect(await ctx.store.callbackOutcomes("2026-01-02")).toEqual([
        { day: "2026-01-02", repo: "(unverified)", outcome: "bad_token", count: 5 },
        { day: "2026-01-02", repo: "acme/npu", outcome: "accepted", count: 4 },
      ]);
      await ctx.store.addCallbackOutcomes([], "2026-01-02");
      expect((await ctx.store.callbackOutcomes("2000-01-01")).map((row) => row.day)).toEqual(["2026-01-02", "2026-01-02"]);
      expect(await ctx.store.callbackOutcomes("2026-01-03")).toEqual([]);
    });
  });

  describe("installations", () => {
    it("remembers installations by repo, case-insensitively, including known non-installations", async () => {
      expect(await ctx.store.getInstallation("acme/npu")).toBeUndefined();
      expect(await ctx.store.listInstallations()).toEqual([]);
      await ctx.store.setInstallation("Acme/NPU", 11, NOW);
      await ctx.store.setInstallation("beta/xpu", undefined, NOW);
      await ctx.store.setInstallation("gamma/tpu", 11, NOW);
      expect(await ctx.store.getInstallation("acme/npu")).toStrictEqual({ repo: "Acme/NPU", installationId: 11, checkedAt: NOW });
      expect(await ctx.store.getInstallation("BETA/xpu")).toStrictEqual({ repo: "beta/xpu", checkedAt: NOW });

      await ctx.store.setInstallation("acme/npu", 12, NOW + 1);
      expect(await ctx.store.getInstallation("ACME/npu")).toStrictEqual({ repo: "acme/npu", installationId: 12, checkedAt: NOW + 1 });

      await ctx.store.dropInstallation(11, NOW + 2);
      expect(await ctx.store.listInstallations()).toStrictEqual([
        { repo: "acme/npu", installationId: 12, checkedAt: NOW + 1 },
        { repo: "beta/xpu", checkedAt: NOW },
        { repo: "gamma/tpu", checkedAt: NOW + 2 },
      ]);
    });
  });
}
