// The fact tables of the SQLite store (migration 9) on a real file: heads, backend heads, latest
// attempts and check runs, read back as written, by key, and across reopening.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BackendHeadFacts, HeadFacts } from "../../src/domain/heads.js";
import { NO_JOBS, type LatestAttempt } from "../../src/domain/jobs.js";
import { openSqliteStore } from "../../src/store/sqlite-store.js";
import type { BackendHeadKey, OutboxTaskInput, Store, StoredBackendHead } from "../../src/store/store.js";
import { tempDir } from "../helpers/server.js";

const NOW = 1_800_000_000_000;

let dataDir: string;
let store: Store;

beforeEach(() => {
  dataDir = tempDir("relay-facts-");
  store = openSqliteStore(dataDir);
});
afterEach(() => store.close());

function reopen(): Store {
  store.close();
  store = openSqliteStore(dataDir);
  return store;
}

function head(fields: Partial<HeadFacts> = {}): HeadFacts {
  return { upstreamRepo: "Up/Stream", headSha: "abc", prNumber: 7, state: "open", labels: ["ciflow/oot/npu"], stateChangedAt: NOW, ...fields };
}

const KEY: BackendHeadKey = { upstreamRepo: "up/stream", headSha: "abc", downstreamRepo: "acme/npu" };

function attempt(jobName: string, seq: number, fields: Partial<LatestAttempt> = {}): LatestAttempt {
  return {
    deliveryId: "d1",
    downstreamRepo: "Acme/NPU",
    runId: 10,
    runAttempt: 1,
    jobName,
    prNumber: 7,
    workflowName: "ci",
    status: "completed",
    conclusion: "success",
    updatedAt: NOW + seq,
    seq,
    ...fields,
  };
}

function backendHead(fields: Partial<StoredBackendHead> = {}): StoredBackendHead {
  return {
    upstreamRepo: "up/stream",
    headSha: "abc",
    downstreamRepo: "Acme/NPU",
    backendName: "npu",
    level: "L3",
    deliveryId: "d1",
    dispatchOutcome: "sent",
    counts: NO_JOBS,
    nextSeq: 0,
    ...fields,
  };
}

function checkRunTask(key: string, status: string): OutboxTaskInput & { kind: "check_run" } {
  return {
    key,
    kind: "check_run",
    repo: "Up/Stream",
    installationId: 1,
    request: { route: "POST /repos/{owner}/{repo}/check-runs", params: { owner: "Up", repo: "Stream", head_sha: "abc", status } },
  };
}

describe("heads", () => {
  it("round-trips a head by key (repo case-insensitive), keeping unknown labels apart from no labels", () => {
    expect(store.head({ upstreamRepo: "up/stream", headSha: "abc" })).toBeUndefined();
    store.putHead(head({ labels: undefined }));
    store.putHead(head({ headSha: "def", labels: [] }));
    store.putHead(head({ headSha: "ghi", state: "superseded", supersededBy: "abc", stateChangedAt: NOW + 5 }));
    reopen();

    const stored = store.head({ upstreamRepo: "UP/STREAM", headSha: "abc" });
    expect(stored).toStrictEqual({ upstreamRepo: "Up/Stream", headSha: "abc", prNumber: 7, state: "open", stateChangedAt: NOW });
    expect(stored).not.toHaveProperty("labels");
    expect(store.head({ upstreamRepo: "up/stream", headSha: "def" })).toStrictEqual(head({ headSha: "def", labels: [] }));
    expect(store.head({ upstreamRepo: "up/stream", headSha: "ghi" })).toStrictEqual(
      head({ headSha: "ghi", state: "superseded", supersededBy: "abc", stateChangedAt: NOW + 5 }),
    );
    expect(store.head({ upstreamRepo: "up/stream", headSha: "ABC" })).toBeUndefined(); // shas are exact
  });

  it("replaces a head in place: state, labels, supersededBy and the repo's spelling follow the last write", () => {
    store.putHead(head({ state: "superseded", supersededBy: "def", stateChangedAt: NOW + 1 }));
    store.putHead(head({ upstreamRepo: "up/stream", state: "open", labels: ["x"], stateChangedAt: NOW + 2 }));
    expect(store.head({ upstreamRepo: "Up/Stream", headSha: "abc" })).toStrictEqual(
      head({ upstreamRepo: "up/stream", labels: ["x"], stateChangedAt: NOW + 2 }),
    );
    store.putHead(head({ state: "closed", labels: undefined, stateChangedAt: NOW + 3 }));
    expect(store.head({ upstreamRepo: "up/stream", headSha: "abc" })).toStrictEqual({
      upstreamRepo: "Up/Stream",
      headSha: "abc",
      prNumber: 7,
      state: "closed",
      stateChangedAt: NOW + 3,
    });
  });

  it("lists the open heads of a PR only", () => {
    store.putHead(head({ headSha: "a1" }));
    store.putHead(head({ headSha: "a2", state: "superseded", supersededBy: "a1" }));
    store.putHead(head({ headSha: "a3", state: "closed" }));
    store.putHead(head({ headSha: "b1", prNumber: 8 }));
    store.putHead(head({ upstreamRepo: "other/repo", headSha: "c1" }));
    expect(store.openHeadsOfPr("UP/stream", 7).map((found) => found.headSha)).toEqual(["a1"]);
    expect(store.openHeadsOfPr("up/stream", 8).map((found) => found.headSha)).toEqual(["b1"]);
    expect(store.openHeadsOfPr("up/stream", 9)).toEqual([]);
    // A force-push back revives a superseded head: two open heads until the other one is superseded.
    store.putHead(head({ headSha: "a2", state: "open" }));
    expect(store.openHeadsOfPr("up/stream", 7).map((found) => found.headSha).sort()).toEqual(["a1", "a2"]);
  });

  it("walks every open head in key order, in pages", () => {
    const shas = ["s05", "s01", "s04", "s03", "s02"];
    for (const sha of shas) store.putHead(head({ headSha: sha }));
    store.putHead(head({ upstreamRepo: "A/first", headSha: "zz" }));
    store.putHead(head({ upstreamRepo: "z/last", headSha: "aa" }));
    store.putHead(head({ headSha: "s025", state: "closed" }));
    store.putHead(head({ headSha: "s035", state: "superseded", supersededBy: "s04" }));

    const pages: string[][] = [];
    let after: { upstreamRepo: string; headSha: string } | undefined;
    for (;;) {
      const page = store.openHeads(after, 2);
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
    expect(store.openHeads(undefined, 100)).toHaveLength(7);
    expect(store.openHeads({ upstreamRepo: "UP/STREAM", headSha: "s03" }, 100).map((found) => found.headSha)).toEqual(["s04", "s05", "aa"]);
  });
});

describe("backend heads", () => {
  it("round-trips a backend head with counts, newest attempt and frame hash, optional fields absent", () => {
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
    store.putBackendHead(backendHead());
    store.putBackendHead({ ...full, downstreamRepo: "beta/tpu", backendName: "tpu" });
    reopen();

    const bare = store.backendHead({ ...KEY, downstreamRepo: "ACME/npu" });
    expect(bare).toStrictEqual(backendHead());
    for (const field of ["dispatchReason", "unreported", "newest", "frameHash"]) expect(bare).not.toHaveProperty(field);
    expect(store.backendHead({ ...KEY, downstreamRepo: "beta/tpu" })).toStrictEqual({ ...full, downstreamRepo: "beta/tpu", backendName: "tpu" });
    expect(store.backendHead({ ...KEY, downstreamRepo: "gamma/xpu" })).toBeUndefined();
    expect(store.backendHead({ ...KEY, headSha: "def" })).toBeUndefined();

    // backendHeads: every backend on the head, by downstream repo.
    store.putBackendHead(backendHead({ headSha: "def" }));
    expect(store.backendHeads({ upstreamRepo: "UP/STREAM", headSha: "abc" }).map((found) => found.backendName)).toEqual(["npu", "tpu"]);
    expect(store.backendHeads({ upstreamRepo: "up/stream", headSha: "nope" })).toEqual([]);
  });

  it("replaces a backend head in place, dropping what the new facts leave out", () => {
    store.putBackendHead(backendHead({ dispatchOutcome: "dead", dispatchReason: "max_age", unreported: "reports_not_expected", frameHash: "f", nextSeq: 3 }));
    const redispatched = backendHead({ deliveryId: "d2", dispatchOutcome: "pending", level: "L4" });
    store.putBackendHead(redispatched);
    expect(store.backendHead(KEY)).toStrictEqual(redispatched);
  });

  it("finds the backend head of a dispatch while it is the head's latest", () => {
    store.putBackendHead(backendHead());
    expect(store.backendHeadOfDispatch("d1", "ACME/npu")).toStrictEqual(backendHead());
    expect(store.backendHeadOfDispatch("d1", "beta/tpu")).toBeUndefined();
    store.putBackendHead(backendHead({ deliveryId: "d2" }));
    expect(store.backendHeadOfDispatch("d1", "acme/npu")).toBeUndefined();
    expect(store.backendHeadOfDispatch("d2", "acme/npu")).toMatchObject({ deliveryId: "d2" });
  });
});

describe("latest attempts", () => {
  it("round-trips a latest attempt by job, and a later attempt replaces it", () => {
    const running = attempt("test", 0, { status: "in_progress" });
    delete running.conclusion;
    store.putLatestAttempt(KEY, running);
    reopen();
    expect(store.latestAttempt({ ...KEY, upstreamRepo: "UP/stream", downstreamRepo: "ACME/NPU" }, "ci", "test")).toStrictEqual(running);
    expect(store.latestAttempt(KEY, "ci", "build")).toBeUndefined();
    expect(store.latestAttempt(KEY, "other", "test")).toBeUndefined();
    expect(store.latestAttempt({ ...KEY, downstreamRepo: "beta/tpu" }, "ci", "test")).toBeUndefined();

    const retried = attempt("test", 0, { runAttempt: 2, conclusion: "failure" });
    store.putLatestAttempt(KEY, retried);
    expect(store.latestAttempt(KEY, "ci", "test")).toStrictEqual(retried);
    expect(store.attemptsBelowSeq(KEY, 10)).toStrictEqual([retried]);
  });

  it("lists jobs that did not pass first, at most `limit`, returned in seq order", () => {
    // seq 0..5: passed, failed, passed, running, passed, cancelled; written out of order.
    const attempts = [
      attempt("j0", 0),
      attempt("j1", 1, { conclusion: "failure" }),
      attempt("j2", 2),
      attempt("j3", 3, { status: "in_progress", conclusion: undefined }),
      attempt("j4", 4),
      attempt("j5", 5, { conclusion: "cancelled" }),
    ];
    for (const index of [4, 0, 5, 2, 1, 3]) store.putLatestAttempt(KEY, attempts[index]!);
    const listed = (limit: number) => store.listedAttempts(KEY, limit).map((found) => found.jobName);
    expect(listed(100)).toEqual(["j0", "j1", "j2", "j3", "j4", "j5"]);
    expect(listed(3)).toEqual(["j1", "j3", "j5"]); // the three that did not pass
    expect(listed(4)).toEqual(["j0", "j1", "j3", "j5"]); // then passed ones by seq
    expect(listed(5)).toEqual(["j0", "j1", "j2", "j3", "j5"]);
    expect(listed(1)).toEqual(["j1"]);
    expect(listed(0)).toEqual([]);
    // A job that passes on retry moves behind the failing ones.
    store.putLatestAttempt(KEY, attempt("j1", 1, { runAttempt: 2 }));
    expect(listed(2)).toEqual(["j3", "j5"]);
    // Completed without a conclusion is not passed.
    store.putLatestAttempt(KEY, attempt("j0", 0, { conclusion: undefined }));
    expect(listed(3)).toEqual(["j0", "j3", "j5"]);
    // Other backend heads are not listed.
    expect(store.listedAttempts({ ...KEY, downstreamRepo: "beta/tpu" }, 10)).toEqual([]);
  });

  it("returns the attempts below a seq in seq order, and forgets a backend head's attempts on clear", () => {
    for (const seq of [3, 0, 2, 1]) store.putLatestAttempt(KEY, attempt(`j${seq}`, seq, seq === 2 ? { conclusion: "failure" } : {}));
    const other = { ...KEY, headSha: "def" };
    store.putLatestAttempt(other, attempt("j0", 0));
    expect(store.attemptsBelowSeq(KEY, 2).map((found) => found.seq)).toEqual([0, 1]);
    expect(store.attemptsBelowSeq(KEY, 100).map((found) => found.seq)).toEqual([0, 1, 2, 3]);
    expect(store.attemptsBelowSeq(KEY, 0)).toEqual([]);
    expect(store.attemptsBelowSeq(KEY, 3)[2]).toStrictEqual(attempt("j2", 2, { conclusion: "failure" }));

    store.clearLatestAttempts({ ...KEY, upstreamRepo: "Up/Stream", downstreamRepo: "Acme/NPU" });
    expect(store.attemptsBelowSeq(KEY, 100)).toEqual([]);
    expect(store.listedAttempts(KEY, 100)).toEqual([]);
    expect(store.latestAttempt(KEY, "ci", "j0")).toBeUndefined();
    expect(store.attemptsBelowSeq(other, 100)).toHaveLength(1);
  });
});

describe("check runs", () => {
  const key = "check:up/stream:npu:abc";
  const HEAD = { upstreamRepo: "Up/Stream", headSha: "abc" };

  it("records the desired hash with the queued write, and the GitHub id once its task was sent", () => {
    expect(store.checkRun(key)).toBeUndefined();
    store.queueCheckRun(checkRunTask(key, "queued"), HEAD, "hash-1", NOW);
    expect(store.checkRun(key)).toStrictEqual({ desiredHash: "hash-1" });
    expect(store.checkRunId(key)).toBeUndefined();
    const [task] = store.dueTasks(NOW, 10);
    expect(task).toMatchObject({ key, kind: "check_run", version: 0, request: checkRunTask(key, "queued").request });

    store.markSent(task!.id, { at: NOW + 1, resultId: 4242, version: task!.version });
    reopen();
    expect(store.checkRun(key)).toStrictEqual({ githubId: 4242, desiredHash: "hash-1" });
    expect(store.checkRunId(key)).toBe(4242);

    // A later state keeps the id and re-opens the same task.
    store.queueCheckRun(checkRunTask(key, "completed"), HEAD, "hash-2", NOW + 2);
    expect(store.checkRun(key)).toStrictEqual({ githubId: 4242, desiredHash: "hash-2" });
    expect(store.dueTasks(NOW + 2, 10)).toMatchObject([{ id: task!.id, version: 1, request: { params: { status: "completed" } } }]);
    // A send without a result id (an update in place) keeps the id.
    store.markSent(task!.id, { at: NOW + 3, version: 1 });
    expect(store.checkRunId(key)).toBe(4242);
  });

  it("replaces the pending state of a key with a newer one: one task, the newer request, the newer hash", () => {
    const other = "check:up/stream:tpu:abc";
    store.queueCheckRun(checkRunTask(key, "queued"), HEAD, "hash-1", NOW);
    store.queueCheckRun(checkRunTask(other, "queued"), HEAD, "hash-x", NOW);
    store.queueCheckRun(checkRunTask(key, "in_progress"), HEAD, "hash-2", NOW + 1);
    store.queueCheckRun(checkRunTask(key, "completed"), HEAD, "hash-3", NOW + 2);
    expect(store.outboxStats().pending).toBe(2);
    expect(store.taskByKey(key)).toMatchObject({ version: 2, createdAt: NOW, request: { params: { status: "completed" } } });
    expect(store.checkRun(key)).toStrictEqual({ desiredHash: "hash-3" });
    expect(store.checkRun(other)).toStrictEqual({ desiredHash: "hash-x" });
  });

  it("a newer state arriving while the older one is on the wire is written after it, to the run just created", () => {
    store.queueCheckRun(checkRunTask(key, "in_progress"), HEAD, "hash-1", NOW);
    const [sending] = store.dueTasks(NOW, 10);
    store.queueCheckRun(checkRunTask(key, "completed"), HEAD, "hash-2", NOW + 1);
    store.markSent(sending!.id, { at: NOW + 2, resultId: 77, version: sending!.version });
    expect(store.checkRunId(key)).toBe(77);
    expect(store.dueTasks(NOW + 2, 10)).toMatchObject([{ id: sending!.id, version: 1, request: { params: { status: "completed" } } }]);
  });

  it("waits out an intermediate state's delay, and a final state replacing it goes out at once", () => {
    store.queueCheckRun({ ...checkRunTask(key, "in_progress"), notBefore: NOW + 5_000 }, HEAD, "hash-1", NOW);
    expect(store.dueTasks(NOW, 10)).toEqual([]);
    expect(store.nextDueAt()).toBe(NOW + 5_000);
    store.queueCheckRun(checkRunTask(key, "completed"), HEAD, "hash-2", NOW + 1);
    expect(store.dueTasks(NOW + 1, 10)).toMatchObject([{ key, request: { params: { status: "completed" } } }]);
  });

  it("keeps a check run's id out of other keys and other kinds of task", () => {
    store.acceptDelivery(
      { id: "d1", event: "pull_request", payloadHash: "h" },
      {
        tasks: [{ key: "dispatch:d1:acme/npu", kind: "dispatch", repo: "acme/npu", request: { route: "POST /x", params: {} }, dispatch: { deliveryId: "d1", downstreamRepo: "acme/npu" } }],
        log: [],
      },
      NOW,
    );
    const [dispatch] = store.dueTasks(NOW, 10);
    store.markSent(dispatch!.id, { at: NOW, resultId: 5 });
    expect(store.checkRunId("dispatch:d1:acme/npu")).toBeUndefined();
    expect(store.checkRun("dispatch:d1:acme/npu")).toBeUndefined();
  });
});

describe("in one transaction", () => {
  it("facts written inside a failed atomically() are rolled back with the rest", () => {
    const facts: BackendHeadFacts = backendHead();
    expect(() =>
      store.atomically(() => {
        store.putHead(head());
        store.putBackendHead({ ...facts, nextSeq: 1 });
        store.putLatestAttempt(KEY, attempt("test", 0));
        store.queueCheckRun(checkRunTask("check:up/stream:npu:abc", "queued"), head(), "h", NOW);
        throw new Error("the event failed");
      }),
    ).toThrow("the event failed");
    expect(store.head(head())).toBeUndefined();
    expect(store.backendHead(KEY)).toBeUndefined();
    expect(store.latestAttempt(KEY, "ci", "test")).toBeUndefined();
    expect(store.checkRun("check:up/stream:npu:abc")).toBeUndefined();
    expect(store.outboxStats().pending).toBe(0);
  });
});
