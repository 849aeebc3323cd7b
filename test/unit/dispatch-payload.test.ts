import { describe, expect, it } from "vitest";
import {
  DispatchPayloadV1,
  MAX_LABEL_LENGTH,
  MAX_LABELS,
  MAX_TITLE_LENGTH,
  buildDispatchPayload,
} from "../../src/dispatch/payload.js";
import type { DispatchPayloadInput } from "../../src/dispatch/payload.js";
import { pullRequestFacts } from "../../src/upstream/events.js";
import { webhookExample } from "../helpers/fixtures.js";
import type { Payload } from "../helpers/fixtures.js";

const common = {
  deliveryId: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
  backend: { name: "npu", level: "L3", showsCheckRun: true, blocksPr: false },
  callbackUrl: "https://relay.example.org/relay/callback",
  ticket: "header.payload.signature",
} as const;

const labelNames = (labels: Array<{ name: string }>) => labels.map((label) => label.name);

function prInput(payload: Payload = webhookExample("pull_request", (p) => p.action === "labeled")): DispatchPayloadInput {
  return {
    ...common,
    upstreamRepo: payload.repository.full_name,
    event: "pull_request",
    action: payload.action,
    pullRequest: pullRequestFacts("delivery", payload as never),
  };
}

function pushInput(): DispatchPayloadInput {
  const push = webhookExample("push", (p) => /^refs\/heads\//.test(p.ref) && p.head_commit !== null);
  return {
    ...common,
    backend: { name: "npu", level: "L1", showsCheckRun: false, blocksPr: false },
    upstreamRepo: push.repository.full_name,
    event: "push",
    push: {
      branch: (push.ref as string).replace(/^refs\/heads\//, ""),
      headSha: push.after,
      commitUrl: push.head_commit.url,
      author: push.sender.login,
    },
  };
}

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8");

describe("buildDispatchPayload", () => {
  it("builds a PR payload from a real pull_request webhook, with pr_number and head_sha at the top level", () => {
    const webhook = webhookExample("pull_request", (p) => p.action === "labeled");
    const payload = buildDispatchPayload(prInput(webhook));
    const pr = webhook.pull_request;

    expect(Object.keys(payload).length).toBeLessThanOrEqual(10);
    expect(payload).toEqual({
      schema_version: 1,
      delivery_id: common.deliveryId,
      event: { name: "pull_request", action: "labeled" },
      pr_number: pr.number,
      head_sha: pr.head.sha,
      upstream: {
        repo: webhook.repository.full_name,
        ref: pr.head.ref,
        base_ref: pr.base.ref,
        base_sha: pr.base.sha,
        head_repo: pr.head.repo.full_name,
        url: pr.html_url,
        title: pr.title,
        author: pr.user.login,
        draft: pr.draft,
        labels: labelNames(pr.labels),
        labels_truncated: false,
      },
      backend: { name: "npu", level: "L3", shows_check_run: true, blocks_pr: false },
      callback_url: common.callbackUrl,
      ticket: common.ticket,
    });
    expect(DispatchPayloadV1.parse(payload)).toEqual(payload);
  });

  it("never carries the PR body", () => {
    const webhook = webhookExample("pull_request", (p) => p.action === "opened");
    webhook.pull_request.body = "SECRET-BODY-MARKER";
    const json = JSON.stringify(buildDispatchPayload(prInput(webhook)));
    expect(json).not.toContain("SECRET-BODY-MARKER");
    expect(json).not.toContain('"body"');
  });

  it("builds a push payload with the PR-only fields null", () => {
    const payload = buildDispatchPayload(pushInput());
    expect(payload.event).toEqual({ name: "push", action: null });
    expect(payload.pr_number).toBeNull();
    expect(payload.head_sha).toBe("6113728f27ae82c7b1a177c8d03f9e96e0adf246");
    expect(payload.upstream).toMatchObject({
      ref: "master",
      base_ref: null,
      base_sha: null,
      head_repo: null,
      title: null,
      draft: false,
      labels: [],
      labels_truncated: false,
    });
    expect(payload.upstream.url).toMatch(/\/commit\/[0-9a-f]{40}$/);
    expect(DispatchPayloadV1.parse(payload)).toEqual(payload);
  });

  it("keeps a PR from a deleted fork (head repo null)", () => {
    const webhook = webhookExample("pull_request", (p) => p.action === "synchronize");
    webhook.pull_request.head.repo = null;
    expect(buildDispatchPayload(prInput(webhook)).upstream.head_repo).toBeNull();
  });

  it("stays far below GitHub's 64 KB whatever the PR looks like", () => {
    const webhook = webhookExample("pull_request", (p) => p.action === "opened");
    const pr = webhook.pull_request;
    pr.body = "x".repeat(1024 * 1024);
    pr.title = "T".repeat(10 * 1024);
    pr.labels = Array.from({ length: 1000 }, (_, i) => ({ name: i % 2 === 0 ? `label-${i}` : `${"long".repeat(40)}-${i}` }));

    const payload = buildDispatchPayload(prInput(webhook));

    expect(jsonBytes(payload)).toBeLessThan(8 * 1024);
    expect(payload.upstream.labels).toHaveLength(MAX_LABELS);
    expect(payload.upstream.labels.every((label) => label.length <= MAX_LABEL_LENGTH)).toBe(true);
    expect(payload.upstream.labels[0]).toBe("label-0");
    expect(payload.upstream.labels_truncated).toBe(true);
    expect(payload.upstream.title).toHaveLength(MAX_TITLE_LENGTH);
    expect(payload.upstream.title?.endsWith("…")).toBe(true);
  });

  it("does not split a surrogate pair when cutting the title", () => {
    const webhook = webhookExample("pull_request", (p) => p.action === "opened");
    webhook.pull_request.title = "🔥".repeat(MAX_TITLE_LENGTH);
    const title = buildDispatchPayload(prInput(webhook)).upstream.title ?? "";
    expect(title.length).toBeLessThanOrEqual(MAX_TITLE_LENGTH);
    expect(title).toMatch(/^(🔥)+…$/u);
  });

  it("keeps labels_truncated false when exactly the maximum is present", () => {
    const webhook = webhookExample("pull_request", (p) => p.action === "opened");
    webhook.pull_request.labels = Array.from({ length: MAX_LABELS }, (_, i) => ({ name: `l${i}` }));
    const { upstream } = buildDispatchPayload(prInput(webhook));
    expect(upstream.labels).toHaveLength(MAX_LABELS);
    expect(upstream.labels_truncated).toBe(false);
  });

  it.each([
    ["head_sha", (input: Payload) => (input.pullRequest.headSha = "not-a-sha"), /head_sha: must be a 40-character/],
    ["upper-case sha", (input: Payload) => (input.pullRequest.headSha = "A".repeat(40)), /head_sha/],
    ["upstream repo", (input: Payload) => (input.upstreamRepo = "no-slash"), /upstream\.repo: must be an owner\/repo/],
    ["head repo", (input: Payload) => (input.pullRequest.headRepo = "a/b/c"), /upstream\.head_repo/],
    ["PR number", (input: Payload) => (input.pullRequest.number = 0), /pr_number/],
    ["PR url", (input: Payload) => (input.pullRequest.htmlUrl = "javascript:alert(1)"), /upstream\.url: must be an absolute http\(s\) URL/],
    ["callback url", (input: Payload) => (input.callbackUrl = "/relay/callback"), /callback_url/],
    ["backend name", (input: Payload) => (input.backend = { ...input.backend, name: "bad name" }), /backend\.name/],
    ["ticket", (input: Payload) => (input.ticket = ""), /ticket/],
  ])("throws a clear error for a bad %s", (_field, corrupt, message) => {
    const input: Payload = prInput();
    corrupt(input);
    expect(() => buildDispatchPayload(input as DispatchPayloadInput)).toThrow(message);
    expect(() => buildDispatchPayload(input as DispatchPayloadInput)).toThrow(/^invalid dispatch payload for delivery/);
  });
});

describe("DispatchPayloadV1", () => {
  it("rejects PR-only fields on a push and missing ones on a PR", () => {
    const push = buildDispatchPayload(pushInput());
    const withPr = { ...push, pr_number: 7 };
    expect(DispatchPayloadV1.safeParse(withPr).error?.issues[0]).toMatchObject({ path: ["pr_number"], message: "must be null for push" });

    const pr = buildDispatchPayload(prInput());
    const withoutNumber = { ...pr, pr_number: null };
    expect(DispatchPayloadV1.safeParse(withoutNumber).error?.issues[0]).toMatchObject({
      path: ["pr_number"],
      message: "required for pull_request",
    });
  });

  it("drops unknown keys, so nothing beyond the contract reaches a downstream", () => {
    const pr = buildDispatchPayload(prInput());
    expect(DispatchPayloadV1.parse({ ...pr, body: "text" })).not.toHaveProperty("body");
  });
});
