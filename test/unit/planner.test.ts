import { describe, expect, it } from "vitest";
import { parseAllowlist } from "../../src/allowlist/parse.js";
import type { Allowlist } from "../../src/allowlist/types.js";
import { pullRequestFacts, pushFacts, type PullRequestFacts } from "../../src/upstream/events.js";
import { planDispatch, type Plan, type PlannerSettings } from "../../src/upstream/planner.js";
import { webhookExample } from "../helpers/fixtures.js";

const ALLOWLIST = `
L1:
  - one/l1-backend
L2:
  - two/l2-backend
  - off/forwarding-off:
      forward_event: false
      display_on_hud: true
L3:
  npu:
    three/npu-backend: [npu-oncall]
L4:
  - four/tpu-backend: "@tpu-oncall"
`;

function allowlist(): Allowlist {
  const parsed = parseAllowlist(ALLOWLIST);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.allowlist;
}

const SETTINGS: PlannerSettings = {
  labelPrefix: "ciflow/oot/",
  drafts: false,
  trustedAssociations: ["OWNER", "MEMBER", "COLLABORATOR"],
  trustLabel: "ciflow/oot-approved",
};

function pr(action: string, changes: Partial<PullRequestFacts> = {}): PullRequestFacts {
  const payload = webhookExample("pull_request", (p) => p.action === (action === "labeled" ? "labeled" : "opened"));
  return { ...pullRequestFacts("delivery-1", payload as never), action, authorAssociation: "MEMBER", draft: false, labels: [], ...changes };
}

const everyoneInstalled = () => true;
const summary = (plan: Plan) => ({
  dispatch: plan.dispatch.map((t) => `${t.entry.repo}${t.showsCheckRun ? " +check" : ""}`),
  skipped: plan.skipped.map((t) => `${t.entry.repo}: ${t.reason}`),
});

describe("planDispatch", () => {
  it("dispatches an opened PR to every forwarding backend; check runs only where the policy shows them", () => {
    expect(summary(planDispatch(pr("opened"), allowlist(), everyoneInstalled, SETTINGS))).toEqual({
      dispatch: ["one/l1-backend", "two/l2-backend", "three/npu-backend", "four/tpu-backend +check"],
      skipped: ["off/forwarding-off: not_forwarded"],
    });
  });

  it("shows the L3 check run when the PR carries the backend's label (any case)", () => {
    const plan = planDispatch(pr("synchronize", { labels: ["CIFlow/OOT/NPU"] }), allowlist(), everyoneInstalled, SETTINGS);
    expect(summary(plan).dispatch).toContain("three/npu-backend +check");
  });

  it.each(["opened", "reopened", "synchronize", "ready_for_review"])("dispatches on %s", (action) => {
    expect(planDispatch(pr(action), allowlist(), everyoneInstalled, SETTINGS).dispatch).toHaveLength(4);
  });

  it("sends a closing PR's notice to the backends that received its head, trusted or not, and to no one else", () => {
    const received = new Set(["three/npu-backend", "four/tpu-backend", "off/forwarding-off"]);
    const closed = pr("closed", { authorAssociation: "CONTRIBUTOR", labels: ["ciflow/oot/npu"] });
    const installed = (repo: string) => repo !== "four/tpu-backend";
    expect(summary(planDispatch(closed, allowlist(), installed, SETTINGS, received))).toEqual({
      dispatch: ["three/npu-backend +check"],
      skipped: ["off/forwarding-off: not_forwarded", "four/tpu-backend: not_installed"],
    });
    const nobody = planDispatch(pr("closed"), allowlist(), everyoneInstalled, SETTINGS);
    expect(nobody).toEqual({ ignored: "pull_request.closed of a head no backend received", dispatch: [], skipped: [] });
  });

  it.each(["edited", "unlabeled", "converted_to_draft", "assigned"])("ignores %s", (action) => {
    const plan = planDispatch(pr(action), allowlist(), everyoneInstalled, SETTINGS);
    expect(plan.ignored).toBe(`pull_request.${action} does not dispatch`);
    expect(plan.dispatch).toEqual([]);
    expect(plan.skipped).toEqual([]);
  });

  it("skips repos known not to have the App, and dispatches ones never looked up (resolved at send time)", () => {
    const installed = (repo: string) => (repo === "two/l2-backend" ? false : repo === "one/l1-backend" ? undefined : true);
    const plan = summary(planDispatch(pr("opened"), allowlist(), installed, SETTINGS));
    expect(plan.skipped).toContain("two/l2-backend: not_installed");
    expect(plan.dispatch).toContain("one/l1-backend");
  });

  it("holds drafts until ready for review, unless drafts are dispatched by configuration", () => {
    const draft = pr("opened", { draft: true });
    expect(summary(planDispatch(draft, allowlist(), everyoneInstalled, SETTINGS)).skipped).toEqual([
      "one/l1-backend: draft",
      "two/l2-backend: draft",
      "off/forwarding-off: not_forwarded",
      "three/npu-backend: draft",
      "four/tpu-backend: draft",
    ]);
    expect(planDispatch(draft, allowlist(), everyoneInstalled, { ...SETTINGS, drafts: true }).dispatch).toHaveLength(4);
  });

  it("holds an untrusted author's PR until a maintainer adds the trust label, then dispatches", () => {
    const untrusted = pr("opened", { authorAssociation: "FIRST_TIME_CONTRIBUTOR" });
    const held = planDispatch(untrusted, allowlist(), everyoneInstalled, SETTINGS);
    expect(held.dispatch).toEqual([]);
    expect(held.skipped.filter((t) => t.reason === "untrusted_author")).toHaveLength(4);

    const labeled = pr("labeled", { authorAssociation: "FIRST_TIME_CONTRIBUTOR", label: "ciflow/oot-approved", labels: ["ciflow/oot-approved"] });
    expect(planDispatch(labeled, allowlist(), everyoneInstalled, SETTINGS).dispatch).toHaveLength(4);

    const otherCase = pr("labeled", { authorAssociation: "NONE", label: "CIFlow/OOT-Approved", labels: ["CIFlow/OOT-Approved"] });
    expect(planDispatch(otherCase, allowlist(), everyoneInstalled, SETTINGS).dispatch).toHaveLength(4);

    // Later pushes keep going through while the label stays on.
    const pushed = pr("synchronize", { authorAssociation: "CONTRIBUTOR", labels: ["ciflow/oot-approved"] });
    expect(planDispatch(pushed, allowlist(), everyoneInstalled, SETTINGS).dispatch).toHaveLength(4);
  });

  it("does not dispatch again when the trust label lands on a trusted author's PR, or for other labels", () => {
    const trusted = pr("labeled", { label: "ciflow/oot-approved", labels: ["ciflow/oot-approved"] });
    expect(planDispatch(trusted, allowlist(), everyoneInstalled, SETTINGS).ignored).toBe("trust label on a trusted author's PR");
    const other = pr("labeled", { label: "ciflow/oot/npu", labels: ["ciflow/oot/npu"] });
    expect(planDispatch(other, allowlist(), everyoneInstalled, SETTINGS).ignored).toBe("pull_request.labeled does not dispatch");
  });

  it("dispatches pushes to the default branch without check runs, and ignores other refs", () => {
    const payload = webhookExample("push", (p) => p.ref === "refs/heads/master");
    const push = pushFacts("delivery-2", payload as never);
    expect(summary(planDispatch(push, allowlist(), everyoneInstalled, SETTINGS)).dispatch).toEqual([
      "one/l1-backend",
      "two/l2-backend",
      "three/npu-backend",
      "four/tpu-backend",
    ]);
    const tag = pushFacts("delivery-3", webhookExample("push", (p) => p.ref === "refs/tags/simple-tag") as never);
    expect(planDispatch(tag, allowlist(), everyoneInstalled, SETTINGS).ignored).toBe("not the default branch");
    expect(planDispatch({ ...push, deleted: true }, allowlist(), everyoneInstalled, SETTINGS).ignored).toBe("branch deleted");
  });
});
