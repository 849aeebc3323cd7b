// The desired check runs of a backend on a head, as a pure function of the facts (src/checks/desired.ts):
// no store, no network, no clock.
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import type { AllowlistEntry } from "../../src/allowlist/types.js";
import { desiredAggregate, desiredJobCheck, visibility, type BackendHeadView, type DesiredCheckSettings } from "../../src/checks/desired.js";
import type { RunFacts } from "../../src/domain/runs.js";
import type { BackendHeadFacts, HeadFacts } from "../../src/domain/heads.js";
import { countAttempt, NO_JOBS, type JobCounts, type LatestAttempt, type StoredJob } from "../../src/domain/jobs.js";
import type { GitHubRequest } from "../../src/domain/github-request.js";

const SHA = "a".repeat(40);
const NEXT_SHA = "b".repeat(40);
const REPO = "acme/gpu-backend";
const PREFIX = "ciflow/oot/";

/** The backend's entry in a real allowlist: `acme/gpu-backend`, named `gpu` unless `options` say otherwise. */
function entryOf(level: "L1" | "L2" | "L3" | "L4", options: readonly string[] = []): AllowlistEntry {
  const oncalls = level === "L4" ? ['      oncalls: "@gpu-oncall"'] : [];
  const parsed = parseAllowlist([`${level}:`, `  - ${REPO}:`, ...(options.some((line) => line.startsWith("name:")) ? [] : ["      name: gpu"]), ...oncalls, ...options.map((line) => `      ${line}`), ""].join("\n"));
  if (!parsed.ok) throw new Error(parsed.issues.map((issue) => issue.message).join("\n"));
  const [entry] = parsed.allowlist.entries;
  if (!entry) throw new Error("no entry");
  return entry;
}

const L4 = entryOf("L4");
const L4_NON_BLOCKING = entryOf("L4", ["block_pr: false"]);
const L3 = entryOf("L3");

const settings = (overrides: Partial<DesiredCheckSettings> = {}): DesiredCheckSettings => ({
  checkPrefix: "oot",
  maxJobChecksPerBackend: 3,
  publicUrl: "https://relay.example",
  labelPrefix: PREFIX,
  webBaseUrl: "https://github.example",
  startTimeoutMs: 30 * 60_000,
  runEndWaitMs: 30 * 60_000,
  ...overrides,
});

function head(fields: Partial<HeadFacts> = {}): HeadFacts {
  return { upstreamRepo: "pytorch/pytorch", headSha: SHA, prNumber: 5, state: "open", labels: [], stateChangedAt: 1_000, ...fields };
}

function backend(fields: Partial<BackendHeadFacts> = {}): BackendHeadFacts {
  return {
    upstreamRepo: "pytorch/pytorch",
    headSha: SHA,
    backendName: "gpu",
    level: "L4",
    downstreamRepo: REPO,
    deliveryId: "delivery-1",
    dispatchOutcome: "sent",
    counts: NO_JOBS,
    ...fields,
  };
}

/** A job's latest attempt with its report, `seq` its order of first report on the head. */
function job(seq: number, fields: Partial<StoredJob> = {}): StoredJob & LatestAttempt {
  const jobName = fields.jobName ?? `test-${seq}`;
  return {
    deliveryId: "delivery-1",
    downstreamRepo: REPO,
    runId: 9,
    runAttempt: 1,
    jobName,
    upstreamRepo: "pytorch/pytorch",
    prNumber: 5,
    headSha: SHA,
    backendName: "gpu",
    level: "L4",
    workflowName: "ci",
    status: "completed",
    conclusion: "success",
    startedAt: 2_000,
    completedAt: 3_000,
    fingerprint: jobName,
    report: { workflow: { name: "ci", url: "https://github.example/acme/gpu-backend/actions/runs/9" }, job: { name: jobName } },
    updatedAt: 3_000,
    seq,
    ...fields,
  };
}

const running = (seq: number) => job(seq, { status: "in_progress", conclusion: undefined, completedAt: undefined });

/** A backend head with these latest attempts, counted as the store counts them. */
/** Run 9 as GitHub's workflow_run events describe it; by default over, with `jobs` GitHub jobs. */
function run(fields: Partial<RunFacts> = {}, jobs = 0): RunFacts {
  return {
    runId: 9,
    runAttempt: 1,
    workflowName: "ci",
    github: { status: "completed", conclusion: "success" },
    jobs: Array.from({ length: jobs }, (_, i) => ({ name: `test-${i}`, status: "completed" as const, conclusion: "success", hadRunner: true, reported: true })),
    untrackedJobs: 0,
    settled: "github",
    ...fields,
  };
}

/** The backend with `jobs` reported; its run is over unless `fields` says otherwise. */
function withJobs(jobs: readonly (StoredJob & LatestAttempt)[], fields: Partial<BackendHeadFacts> = {}): { backend: BackendHeadFacts; listed: LatestAttempt[] } {
  const counts = jobs.reduce<JobCounts>((sum, each) => countAttempt(sum, undefined, each), NO_JOBS);
  return { backend: backend({ counts, runs: [run({}, jobs.length)], ...(jobs.length > 0 && { newest: jobs.at(-1) }), ...fields }), listed: [...jobs] };
}

function view(fields: Partial<BackendHeadView> = {}): BackendHeadView {
  return { head: head(), backend: backend(), entry: L4, listed: [], ...fields };
}

const paramsOf = (request: GitHubRequest | undefined) => {
  if (!request) throw new Error("expected a check run");
  return request.params;
};
const outputOf = (request: GitHubRequest | undefined) => paramsOf(request).output as { title: string; summary: string };

describe("visibility", () => {
  it("shows an L4 backend on every head, with or without labels", () => {
    for (const labels of [[], ["unrelated"], undefined]) {
      for (const written of [false, true]) {
        expect(visibility(view({ head: head({ labels }) }), PREFIX, written)).toEqual({ shown: true });
      }
    }
  });

  it("shows an L3 backend only while the PR has its label, compared case-insensitively", () => {
    expect(visibility(view({ entry: L3, head: head({ labels: ["ciflow/oot/gpu"] }) }), PREFIX, false)).toEqual({ shown: true });
    expect(visibility(view({ entry: L3, head: head({ labels: ["bug", "CIFlow/OOT/GPU"] }) }), PREFIX, false)).toEqual({ shown: true });
    expect(visibility(view({ entry: L3, head: head({ labels: ["ciflow/oot/gpu2", "gpu"] }) }), PREFIX, true)).toMatchObject({ shown: false, title: "Label removed" });
  });
});

describe("the aggregate check run", () => {
  describe("which backends show", () => {
    it("creates an L4 backend's aggregate without any label", () => {
      expect(paramsOf(desiredAggregate(view(), settings(), false))).toMatchObject({
        owner: "pytorch",
        repo: "pytorch",
        name: "oot / gpu",
        head_sha: SHA,
        status: "queued",
      });
    });

    it("creates an L3 backend's aggregate only with the label `<labelPrefix><name>`", () => {
      expect(paramsOf(desiredAggregate(view({ entry: L3, head: head({ labels: ["ciflow/oot/GPU"] }) }), settings(), false))).toMatchObject({ name: "oot / gpu", status: "queued" });
      expect(desiredAggregate(view({ entry: L3, head: head({ labels: ["ciflow/oot/npu"] }) }), settings(), false)).toBeUndefined();
      expect(desiredAggregate(view({ entry: L3 }), settings({ labelPrefix: "other/" }), false)).toBeUndefined();
    });

    it("concludes a written L3 aggregate neutral once its label is removed, naming the label", () => {
      const request = desiredAggregate(view({ entry: L3, head: head({ labels: [] }) }), settings(), true);
      expect(paramsOf(request)).toMatchObject({ name: "oot / gpu", head_sha: SHA, status: "completed", conclusion: "neutral", output: { title: "Label removed" } });
      expect(outputOf(request).summary).toContain("`ciflow/oot/gpu`");
      expect(paramsOf(request)).not.toHaveProperty("completed_at");
    });

    it("uses the label prefix of the settings", () => {
      const labelled = view({ entry: L3, head: head({ labels: ["oot-label:gpu"] }) });
      expect(desiredAggregate(labelled, settings({ labelPrefix: "oot-label:" }), false)).toBeDefined();
      expect(outputOf(desiredAggregate(view({ entry: L3 }), settings({ labelPrefix: "oot-label:" }), true)).summary).toContain("`oot-label:gpu`");
    });

    it.each([
      ["removed from the allowlist", undefined],
      ["renamed", entryOf("L4", ["name: gpu-next"])],
      ["demoted to L2", entryOf("L2")],
      ["demoted to L1", entryOf("L1")],
      ["set to display_on_pr: never", entryOf("L3", ["display_on_pr: never"])],
    ])("concludes a written aggregate neutral when the backend was %s, and creates none otherwise", (_, entry) => {
      const facts = view({ entry, head: head({ labels: ["ciflow/oot/gpu", "ciflow/oot/gpu-next"] }) });
      expect(desiredAggregate(facts, settings(), false)).toBeUndefined();
      const request = desiredAggregate(facts, settings(), true);
      // Still the check run that was written: the name and level the dispatch recorded.
      expect(paramsOf(request)).toMatchObject({ name: "oot / gpu", status: "completed", conclusion: "neutral", output: { title: "No longer shown" } });
      expect(outputOf(request).summary).toContain(`\`${REPO}\``);
    });

    it("says no longer shown even over a label removal or a superseded head", () => {
      const facts = view({ entry: entryOf("L2"), head: head({ state: "superseded", supersededBy: NEXT_SHA, labels: [] }) });
      expect(paramsOf(desiredAggregate(facts, settings(), true))).toMatchObject({ conclusion: "neutral", output: { title: "No longer shown" } });
    });

    it("with labels unknown since the upgrade, shows a label-only backend iff its check run was written", () => {
      const unknown = view({ entry: L3, head: head({ labels: undefined }) });
      expect(desiredAggregate(unknown, settings(), false)).toBeUndefined();
      expect(paramsOf(desiredAggregate(unknown, settings(), true))).toMatchObject({ status: "queued", output: { title: `Dispatched to ${REPO}` } });
      expect(paramsOf(desiredAggregate(view({ head: head({ labels: undefined }) }), settings(), false))).toMatchObject({ status: "queued" });
    });
  });

  describe("before any job reported", () => {
    it("is queued, saying where the commit was dispatched", () => {
      const request = desiredAggregate(view(), settings(), false);
      expect(request).toEqual({
        route: "POST /repos/{owner}/{repo}/check-runs",
        params: expect.objectContaining({
          status: "queued",
          external_id: `dispatch:delivery-1:${REPO}`,
          details_url: `https://github.example/${REPO}/actions`,
        }),
      });
      expect(outputOf(request).title).toBe(`Dispatched to ${REPO}`);
      expect(paramsOf(request)).not.toHaveProperty("conclusion");
    });

    it.each(["failed", "dead"] as const)("fails when the dispatch %s, with the reason", (dispatchOutcome) => {
      const request = desiredAggregate(view({ backend: backend({ dispatchOutcome, dispatchReason: "HTTP 404" }) }), settings(), false);
      expect(paramsOf(request)).toMatchObject({ name: "oot / gpu", status: "completed", conclusion: "failure", external_id: `dispatch:delivery-1:${REPO}`, output: { title: "Dispatch failed" } });
      expect(outputOf(request).summary).toContain(`\`${REPO}\` (HTTP 404)`);
      expect(outputOf(desiredAggregate(view({ backend: backend({ dispatchOutcome }) }), settings(), false)).summary).not.toContain("(");
    });

    it("softens a failed dispatch of a non-blocking backend when nonBlockingFailureConclusion is set, never of a blocking one", () => {
      const failed = backend({ dispatchOutcome: "failed" });
      const softened = settings({ nonBlockingFailureConclusion: "neutral" });
      expect(paramsOf(desiredAggregate(view({ entry: L4_NON_BLOCKING, backend: failed }), softened, false))).toMatchObject({ conclusion: "neutral", output: { title: "Dispatch failed" } });
      expect(paramsOf(desiredAggregate(view({ entry: L4_NON_BLOCKING, backend: failed }), settings(), false))).toMatchObject({ conclusion: "failure" });
      expect(paramsOf(desiredAggregate(view({ entry: L4, backend: failed }), softened, false))).toMatchObject({ conclusion: "failure" });
    });

    it("times out when the backend never reported, quoting the start timeout, softened likewise", () => {
      const silent = backend({ unreported: "never_reported" });
      const request = desiredAggregate(view({ backend: silent }), settings(), false);
      expect(paramsOf(request)).toMatchObject({ status: "completed", conclusion: "timed_out", output: { title: "Backend never reported" } });
      expect(outputOf(request).summary).toContain("within 30 min");
      expect(paramsOf(desiredAggregate(view({ entry: L4_NON_BLOCKING, backend: silent }), settings({ nonBlockingFailureConclusion: "neutral" }), false))).toMatchObject({
        conclusion: "neutral",
      });
      expect(paramsOf(desiredAggregate(view({ entry: L4, backend: silent }), settings({ nonBlockingFailureConclusion: "neutral" }), false))).toMatchObject({
        conclusion: "timed_out",
      });
    });

    it("reports a failed dispatch rather than a silent backend", () => {
      const request = desiredAggregate(view({ backend: backend({ dispatchOutcome: "dead", unreported: "never_reported" }) }), settings(), false);
      expect(outputOf(request).title).toBe("Dispatch failed");
    });

    it("stays queued for a backend that is not expected to report", () => {
      expect(paramsOf(desiredAggregate(view({ backend: backend({ unreported: "reports_not_expected" }) }), settings(), false))).toMatchObject({ status: "queued" });
    });
  });

  describe("once jobs reported", () => {
    it("is in progress while any job runs: k of n jobs done", () => {
      const facts = withJobs([job(0), running(1), running(2), job(3, { conclusion: "failure" })]);
      const request = desiredAggregate(view(facts), settings(), false);
      expect(paramsOf(request)).toMatchObject({ status: "in_progress", output: { title: "2 of 4 jobs done" }, external_id: `run:${REPO}:9` });
      expect(paramsOf(request)).not.toHaveProperty("conclusion");
    });

    it("completes with the worst conclusion once none runs", () => {
      const request = desiredAggregate(view(withJobs([job(0), job(1, { conclusion: "cancelled" }), job(2, { conclusion: "timed_out" }), job(3)])), settings(), false);
      expect(paramsOf(request)).toMatchObject({ status: "completed", conclusion: "timed_out", output: { title: "2 of 4 jobs passed" } });
      expect(paramsOf(desiredAggregate(view(withJobs([job(0), job(1)])), settings(), false))).toMatchObject({ conclusion: "success", output: { title: "2 of 2 jobs passed" } });
    });

    it("softens the worst conclusion of a non-blocking backend", () => {
      const facts = withJobs([job(0), job(1, { conclusion: "failure" })]);
      expect(paramsOf(desiredAggregate(view({ ...facts, entry: L4_NON_BLOCKING }), settings({ nonBlockingFailureConclusion: "neutral" }), false))).toMatchObject({ conclusion: "neutral" });
      expect(paramsOf(desiredAggregate(view(facts), settings({ nonBlockingFailureConclusion: "neutral" }), false))).toMatchObject({ conclusion: "failure" });
    });

    it("lets reported jobs win over a late never-reported mark", () => {
      const request = desiredAggregate(view(withJobs([job(0)], { unreported: "never_reported" })), settings(), false);
      expect(paramsOf(request)).toMatchObject({ status: "completed", conclusion: "success" });
    });
  });

  describe("until the run is over", () => {
    const open = (jobs = 0) => run({ github: { status: "in_progress" }, settled: undefined }, jobs);

    it("stays in progress when the first matrix job passed and the others have not reported: k of n from GitHub's jobs", () => {
      const facts = withJobs([job(0)], { runs: [open(4)] });
      const request = desiredAggregate(view(facts), settings(), false);
      expect(paramsOf(request)).toMatchObject({ status: "in_progress", output: { title: "1 of 4 jobs done" } });
      expect(outputOf(request).summary).toContain("the run has not ended on GitHub yet");
    });

    it("says the total is not known yet when no run is known, and waits for word that it ended", () => {
      const request = desiredAggregate(view(withJobs([job(0), job(1)], { runs: [] })), settings(), false);
      expect(paramsOf(request)).toMatchObject({ status: "in_progress", output: { title: "2 of 2 reported jobs done (total not known yet)" } });
      expect(outputOf(request).summary).toContain("waiting for word that the run ended");
    });

    it("concludes once the run-level report says the run is over, with the worst conclusion", () => {
      const reported = run({ github: { status: "in_progress" }, reported: { conclusion: "failure", jobs: 3 } });
      const request = desiredAggregate(view(withJobs([job(0), job(1, { conclusion: "failure" })], { runs: [reported] })), settings(), false);
      expect(paramsOf(request)).toMatchObject({ status: "completed", conclusion: "failure", output: { title: "1 of 2 jobs passed" } });
    });

    it("waits for every run of the dispatch, not only the first to end", () => {
      const facts = withJobs([job(0)], { runs: [run({}, 1), { ...open(1), runId: 10 }] });
      expect(paramsOf(desiredAggregate(view(facts), settings(), false))).toMatchObject({ status: "in_progress", output: { title: "1 of 2 jobs done" } });
    });

    it("when the wait ran out: a blocking check concludes timed_out unless a job failed; a non-blocking one shows the jobs' result", () => {
      const unconfirmed = (jobs: (StoredJob & LatestAttempt)[]) => withJobs(jobs, { runs: [], unreported: "run_not_confirmed" });
      const passed = desiredAggregate(view(unconfirmed([job(0)])), settings(), false);
      expect(paramsOf(passed)).toMatchObject({ status: "completed", conclusion: "timed_out" });
      expect(outputOf(passed).summary).toContain("Nothing said the run ended");
      expect(paramsOf(desiredAggregate(view(unconfirmed([job(0), job(1, { conclusion: "failure" })])), settings(), false))).toMatchObject({ conclusion: "failure" });
      expect(paramsOf(desiredAggregate(view({ ...unconfirmed([job(0)]), entry: L4_NON_BLOCKING }), settings(), false))).toMatchObject({ conclusion: "success" });
    });

    it("shows a run queued on GitHub as waiting for a runner, and a started one as in progress, before any job reports", () => {
      const queued = run({ github: { status: "queued" }, settled: undefined, jobs: [{ name: "test", status: "queued", hadRunner: false, reported: false }] });
      expect(paramsOf(desiredAggregate(view({ backend: backend({ runs: [queued] }) }), settings(), false))).toMatchObject({ status: "queued", output: { title: "Waiting for a runner" } });
      const started = { ...queued, github: { status: "in_progress" as const }, jobs: [{ name: "test", status: "in_progress" as const, hadRunner: true, reported: false }] };
      expect(paramsOf(desiredAggregate(view({ backend: backend({ runs: [started] }) }), settings(), false))).toMatchObject({ status: "in_progress", output: { title: "Run started; 0 of 1 jobs done" } });
    });

    it("concludes a run that ended without any job report with the run's conclusion", () => {
      const request = desiredAggregate(view({ backend: backend({ runs: [run({ github: { status: "completed", conclusion: "skipped" } })] }) }), settings(), false);
      expect(paramsOf(request)).toMatchObject({ status: "completed", conclusion: "skipped", output: { title: "Run ended without job reports" } });
    });
  });

  describe("on a head that is no longer open", () => {
    const superseded = head({ state: "superseded", supersededBy: NEXT_SHA });

    it("cancels a running aggregate as superseded, naming the new head", () => {
      const request = desiredAggregate(view({ head: superseded, ...withJobs([job(0), running(1)]) }), settings(), true);
      expect(paramsOf(request)).toMatchObject({ name: "oot / gpu", head_sha: SHA, status: "completed", conclusion: "cancelled", output: { title: "Superseded" } });
      expect(outputOf(request).summary).toContain(NEXT_SHA);
      expect(paramsOf(request).external_id).toBe(`run:${REPO}:9`);
    });

    it("cancels a queued aggregate as superseded, without a sha when the new head is not known", () => {
      const request = desiredAggregate(view({ head: head({ state: "superseded" }) }), settings(), false);
      expect(paramsOf(request)).toMatchObject({ status: "completed", conclusion: "cancelled", output: { title: "Superseded" } });
      expect(outputOf(request).summary).toContain("A new commit became the head");
    });

    it("keeps a completed result: it is true for that commit", () => {
      const done = withJobs([job(0), job(1, { conclusion: "failure" })]);
      expect(desiredAggregate(view({ head: superseded, ...done }), settings(), true)).toEqual(desiredAggregate(view(done), settings(), true));
      const failed = backend({ dispatchOutcome: "failed" });
      expect(paramsOf(desiredAggregate(view({ head: superseded, backend: failed }), settings(), true))).toMatchObject({ conclusion: "failure", output: { title: "Dispatch failed" } });
    });

    it("cancels a running aggregate when the pull request closed", () => {
      const request = desiredAggregate(view({ head: head({ state: "closed" }), ...withJobs([running(0)]) }), settings(), true);
      expect(paramsOf(request)).toMatchObject({ status: "completed", conclusion: "cancelled", output: { title: "Pull request closed" } });
      const done = withJobs([job(0)]);
      expect(paramsOf(desiredAggregate(view({ head: head({ state: "closed" }), ...done }), settings(), true))).toMatchObject({ conclusion: "success" });
    });

    it("shows the natural state again when the head is open again", () => {
      const facts = withJobs([running(0)]);
      expect(paramsOf(desiredAggregate(view({ head: head({ state: "open" }), ...facts }), settings(), true))).toMatchObject({ status: "in_progress" });
    });
  });
});

describe("a job's own check run", () => {
  const jobView = (fields: Partial<Omit<BackendHeadView, "listed">> = {}) => {
    const { listed: _, ...rest } = view(fields);
    return rest;
  };

  it("exists for the jobs below the cap, as the job reports it", () => {
    const request = desiredJobCheck(jobView(), job(2, { conclusion: "failure" }), settings({ maxJobChecksPerBackend: 3 }), false);
    expect(paramsOf(request)).toMatchObject({
      name: "oot / gpu / ci / test-2",
      head_sha: SHA,
      status: "completed",
      conclusion: "failure",
      external_id: `run:${REPO}:9`,
      started_at: new Date(2_000).toISOString(),
      completed_at: new Date(3_000).toISOString(),
    });
    expect(paramsOf(desiredJobCheck(jobView(), running(0), settings(), false))).toMatchObject({ status: "in_progress", output: { title: "running" } });
  });

  it("is undefined for a job at or past the cap, written or not", () => {
    for (const written of [false, true]) {
      expect(desiredJobCheck(jobView(), job(3), settings({ maxJobChecksPerBackend: 3 }), written)).toBeUndefined();
      expect(desiredJobCheck(jobView(), job(100), settings({ maxJobChecksPerBackend: 3 }), written)).toBeUndefined();
      expect(desiredJobCheck(jobView(), job(0), settings({ maxJobChecksPerBackend: 0 }), written)).toBeUndefined();
    }
  });

  it("softens a non-blocking backend's failure", () => {
    const request = desiredJobCheck(jobView({ entry: L4_NON_BLOCKING }), job(0, { conclusion: "timed_out" }), settings({ nonBlockingFailureConclusion: "neutral" }), false);
    expect(paramsOf(request)).toMatchObject({ conclusion: "neutral" });
  });

  it("follows the backend's visibility", () => {
    expect(desiredJobCheck(jobView({ entry: L3 }), job(0), settings(), false)).toBeUndefined();
    expect(desiredJobCheck(jobView({ entry: L3, head: head({ labels: ["CIFLOW/oot/gpu"] }) }), job(0), settings(), false)).toBeDefined();
    const removed = desiredJobCheck(jobView({ entry: L3 }), job(0), settings(), true);
    expect(paramsOf(removed)).toMatchObject({ name: "oot / gpu / ci / test-0", status: "completed", conclusion: "neutral", output: { title: "Label removed" } });
    expect(paramsOf(removed)).not.toHaveProperty("completed_at");
    expect(desiredJobCheck(jobView({ entry: undefined }), job(0), settings(), false)).toBeUndefined();
    expect(paramsOf(desiredJobCheck(jobView({ entry: entryOf("L2") }), running(0), settings(), true))).toMatchObject({ conclusion: "neutral", output: { title: "No longer shown" } });
  });

  it("is cancelled while running on a superseded or closed head, and keeps a completed result", () => {
    const superseded = jobView({ head: head({ state: "superseded", supersededBy: NEXT_SHA }) });
    const request = desiredJobCheck(superseded, running(1), settings(), true);
    expect(paramsOf(request)).toMatchObject({ name: "oot / gpu / ci / test-1", status: "completed", conclusion: "cancelled", output: { title: "Superseded" } });
    expect(outputOf(request).summary).toContain(NEXT_SHA);
    expect(paramsOf(request).started_at).toBe(new Date(2_000).toISOString());
    expect(desiredJobCheck(superseded, job(1), settings(), true)).toEqual(desiredJobCheck(jobView(), job(1), settings(), true));
    expect(paramsOf(desiredJobCheck(jobView({ head: head({ state: "closed" }) }), running(1), settings(), true))).toMatchObject({
      conclusion: "cancelled",
      output: { title: "Pull request closed" },
    });
  });
});

describe("determinism", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("gives deep-equal check runs for the same facts, whatever the clock says", () => {
    const cases: [BackendHeadView, boolean][] = [
      [view(), false],
      [view(withJobs([job(0), running(1)])), true],
      [view(withJobs([job(0), job(1, { conclusion: "failure" })])), true],
      [view({ backend: backend({ dispatchOutcome: "failed" }) }), false],
      [view({ backend: backend({ unreported: "never_reported" }) }), false],
      [view({ entry: L3 }), true],
      [view({ entry: undefined }), true],
      [view({ head: head({ state: "superseded", supersededBy: NEXT_SHA }), ...withJobs([running(0)]) }), true],
      [view({ head: head({ state: "closed" }) }), true],
    ];
    const compute = () =>
      cases.map(([facts, written]) => ({
        aggregate: desiredAggregate(facts, settings(), written),
        jobs: [job(0), running(1), job(5)].map((each) => desiredJobCheck(facts, each, settings(), written)),
      }));
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2030-01-01T00:00:00Z"));
    const first = compute();
    vi.setSystemTime(new Date("2031-06-15T12:34:56Z"));
    const second = compute();
    expect(second).toEqual(first);
    expect(JSON.stringify(second)).not.toMatch(/203[01]-/);
  });
});
