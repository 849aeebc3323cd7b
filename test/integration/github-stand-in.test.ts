// The GitHub REST stand-in used by end-to-end tests: default routes, scripting, delays and shutdown,
// driven with plain fetch and, for routing through the real client, Probot's Octokit.
import { ProbotOctokit } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";

// Shaped like a JWT (three dot-separated parts): the stand-in treats it as the App itself.
const APP_JWT = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.c2lnbmF0dXJl";
const DISPATCH = "/repos/acme/npu-backend/dispatches";

let standIn: GitHubStandIn;

beforeEach(async () => {
  standIn = await startGitHubStandIn();
  standIn.install(7, ["acme/npu-backend", "acme/Config"]);
  standIn.install(8, ["beta/xpu-backend"], { suspended: true });
});
afterEach(async () => {
  await standIn.close();
});

async function call(
  method: string,
  path: string,
  options: { auth?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; json: unknown; text: string }> {
  const response = await fetch(`${standIn.apiUrl}${path}`, {
    method,
    headers: {
      ...(options.auth && { authorization: options.auth }),
      ...(options.body !== undefined && { "content-type": "application/json" }),
      ...options.headers,
    },
    ...(options.body !== undefined && { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) }),
  });
  const text = await response.text();
  const json: unknown = response.headers.get("content-type")?.startsWith("application/json") ? JSON.parse(text) : undefined;
  return { status: response.status, headers: response.headers, json, text };
}

async function installationToken(installationId = 7): Promise<string> {
  const { status, json } = await call("POST", `/app/installations/${installationId}/access_tokens`, { auth: `Bearer ${APP_JWT}` });
  expect(status).toBe(201);
  return (json as { token: string }).token;
}

function dispatch(token: string, path = DISPATCH, body: unknown = { event_type: "pytorch-pr", client_payload: { pr: 1 } }) {
  return call("POST", path, { auth: `token ${token}`, body });
}

describe("installations and tokens", () => {
  it("exchanges the App JWT for an installation token and resolves later requests to the installation", async () => {
    expect(standIn.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(standIn.apiUrl).toBe(`http://${standIn.host}/api/v3`);

    const exchange = await call("POST", "/app/installations/7/access_tokens", { auth: `Bearer ${APP_JWT}` });
    expect(exchange.status).toBe(201);
    expect(exchange.json).toMatchObject({ token: "ghs_inst_7_1", permissions: {}, repository_selection: "selected" });
    const expiresAt = Date.parse((exchange.json as { expires_at: string }).expires_at);
    expect(expiresAt - Date.now()).toBeGreaterThan(59 * 60 * 1000);
    expect(exchange.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(exchange.headers.get("x-github-request-id")).toBeTruthy();

    const token = (exchange.json as { token: string }).token;
    const repos = await call("GET", "/installation/repositories", { auth: `bearer ${token}` });
    expect(repos.json).toEqual({
      total_count: 2,
      repositories: [
        { full_name: "acme/npu-backend", name: "npu-backend", owner: { login: "acme" } },
        { full_name: "acme/Config", name: "Config", owner: { login: "acme" } },
      ],
    });

    const [tokenRequest] = standIn.find("POST", "/app/installations/7/access_tokens");
    expect(tokenRequest).toMatchObject({ asApp: true, installationId: undefined, status: 201 });
    expect(standIn.find("GET", "/installation/repositories")[0]).toMatchObject({ asApp: false, installationId: 7 });

    expect((await call("POST", "/app/installations/99/access_tokens", { auth: `Bearer ${APP_JWT}` })).status).toBe(404);
    expect((await call("POST", "/app/installations/8/access_tokens", { auth: `Bearer ${APP_JWT}` })).status).toBe(403);
  });

  it("finds the installation for a repo (case-insensitively) and lists installations", async () => {
    const found = await call("GET", "/repos/ACME/config/installation", { auth: `Bearer ${APP_JWT}` });
    expect(found).toMatchObject({ status: 200, json: { id: 7, account: { login: "acme" }, suspended_at: null } });
    const suspended = await call("GET", "/repos/beta/xpu-backend/installation", { auth: `Bearer ${APP_JWT}` });
    expect((suspended.json as { suspended_at: string | null }).suspended_at).toEqual(expect.any(String));
    expect(await call("GET", "/repos/nobody/else/installation")).toMatchObject({ status: 404, json: { message: "Not Found" } });

    const list = await call("GET", "/app/installations", { auth: `Bearer ${APP_JWT}` });
    expect((list.json as Array<{ id: number }>).map((installation) => installation.id)).toEqual([7, 8]);
  });
});

describe("repository dispatch", () => {
  it("answers 204 where the token's installation covers the repo and 404 elsewhere", async () => {
    const token = await installationToken();
    expect((await dispatch(token)).status).toBe(204);
    expect((await dispatch(token, "/repos/beta/xpu-backend/dispatches")).status).toBe(404);
    expect((await dispatch("ghs_unknown")).status).toBe(404);
    expect(standIn.find("POST", DISPATCH).map((request) => [request.installationId, request.status])).toEqual([
      [7, 204],
      [undefined, 404],
    ]);
    expect(standIn.find("POST", DISPATCH)[0]?.body).toEqual({ event_type: "pytorch-pr", client_payload: { pr: 1 } });
  });

  it("rejects >10 payload keys or no event_type with 422, bad JSON with 400 and a body over 1 MB with 413", async () => {
    const token = await installationToken();
    const eleven = Object.fromEntries(Array.from({ length: 11 }, (_, index) => [`k${index}`, index]));
    const tooMany = await dispatch(token, DISPATCH, { event_type: "x", client_payload: eleven });
    expect(tooMany.status).toBe(422);
    expect((tooMany.json as { message: string }).message).toContain("No more than 10 properties");
    expect((await dispatch(token, DISPATCH, { client_payload: {} })).status).toBe(422);
    expect(await dispatch(token, DISPATCH, "{not json")).toMatchObject({ status: 400, json: { message: "Problems parsing JSON" } });
    expect((await dispatch(token, DISPATCH, "x".repeat(1024 * 1024 + 1))).status).toBe(413);
  });

  it("works through Octokit", async () => {
    const octokit = new ProbotOctokit({
      auth: { token: await installationToken() },
      baseUrl: standIn.apiUrl,
      retry: { enabled: false },
      throttle: { enabled: false },
    });
    const response = await octokit.rest.repos.createDispatchEvent({
      owner: "acme",
      repo: "npu-backend",
      event_type: "pytorch-pr",
      client_payload: { sha: "abc" },
    });
    expect(response.status).toBe(204);
    expect(standIn.find("POST", DISPATCH)[0]).toMatchObject({ installationId: 7, body: { event_type: "pytorch-pr" } });
  });
});

describe("scripting and delays", () => {
  it("plays scripted steps in order, then falls back to the default", async () => {
    const token = await installationToken();
    standIn.script("POST", /\/dispatches$/, [
      { status: 502, body: { message: "Server Error" } },
      {
        status: 403,
        body: { message: "You have exceeded a secondary rate limit..." },
        headers: { "retry-after": "1" },
      },
    ]);
    const first = await dispatch(token);
    expect(first.status).toBe(502);
    const second = await dispatch(token);
    expect(second.status).toBe(403);
    expect(second.headers.get("retry-after")).toBe("1");
    expect((second.json as { message: string }).message).toContain("secondary rate limit");
    expect((await dispatch(token)).status).toBe(204);
    expect(standIn.find("POST", DISPATCH).map((request) => request.status)).toEqual([502, 403, 204]);
  });

  it("delays matching requests and records when the answer went out", async () => {
    standIn.setDelay("GET", /^\/repos\/[^/]+\/[^/]+\/commits\//, 150);
    const result = await call("GET", "/repos/acme/npu-backend/commits/abc123");
    expect(result).toMatchObject({ status: 200, json: { sha: "abc123" } });
    const [request] = standIn.find("GET", "/repos/acme/npu-backend/commits/abc123");
    expect(request?.respondedAt).toBeDefined();
    expect((request?.respondedAt ?? 0) - (request?.receivedAt ?? 0)).toBeGreaterThanOrEqual(150);

    standIn.setDelay("GET", /^\/repos\/[^/]+\/[^/]+\/commits\//, 0);
    await call("GET", "/repos/acme/npu-backend/commits/def456");
    const [fast] = standIn.find("GET", "/repos/acme/npu-backend/commits/def456");
    expect((fast?.respondedAt ?? 0) - (fast?.receivedAt ?? 0)).toBeLessThan(150);
  });

  it("answers unknown routes with 404 and still records them", async () => {
    const result = await call("DELETE", "/repos/acme/npu-backend");
    expect(result).toMatchObject({ status: 404, json: { message: "Not Found (stand-in: no route)" } });
    expect(standIn.find("DELETE", "/repos/acme/npu-backend")).toHaveLength(1);
  });
});

describe("write budget", () => {
  it("refuses an installation's writes past the budget like a secondary limit, with Retry-After, and counts them", async () => {
    standIn.limitWrites({ writes: 2, windowMs: 60_000 });
    const token = await installationToken();
    expect((await dispatch(token)).status).toBe(204);
    expect((await call("GET", "/installation/repositories", { auth: `token ${token}` })).status).toBe(200);
    expect((await dispatch(token)).status).toBe(204);
    const refused = await dispatch(token);
    expect(refused.status).toBe(403);
    expect(refused.json).toMatchObject({ message: expect.stringMatching(/secondary rate limit/) as unknown });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(55);
    expect(standIn.refusals.map((request) => [request.method, request.path, request.status])).toEqual([["POST", DISPATCH, 403]]);
  });

  it("can answer 429 or leave Retry-After out, and lifts the budget on request", async () => {
    standIn.limitWrites({ writes: 0, windowMs: 1000, status: 429, retryAfter: false });
    const token = await installationToken();
    const refused = await dispatch(token);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBeNull();
    standIn.limitWrites(undefined);
    expect((await dispatch(token)).status).toBe(204);
  });
});

describe("check runs", () => {
  it("creates a run with an incrementing id and merges updates", async () => {
    const token = await installationToken();
    const created = await call("POST", "/repos/acme/Config/check-runs", {
      auth: `token ${token}`,
      body: { name: "npu / build", head_sha: "abc", status: "in_progress", external_id: "run-1" },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      id: 1000,
      name: "npu / build",
      head_sha: "abc",
      status: "in_progress",
      conclusion: null,
      external_id: "run-1",
      details_url: null,
      html_url: expect.stringContaining("/runs/1000"),
    });

    const updated = await call("PATCH", "/repos/acme/Config/check-runs/1000", {
      auth: `token ${token}`,
      body: { conclusion: "success", output: { title: "ok", summary: "all green" } },
    });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ id: 1000, name: "npu / build", status: "completed", conclusion: "success" });
    expect(standIn.checkRuns.get(1000)).toMatchObject({ conclusion: "success", output: { title: "ok" }, external_id: "run-1" });

    const second = await call("POST", "/repos/acme/Config/check-runs", { body: { name: "b", head_sha: "abc" } });
    expect(second.json).toMatchObject({ id: 1001, status: "queued" });
    expect((await call("PATCH", "/repos/other/repo/check-runs/1000", { body: { status: "completed" } })).status).toBe(404);
  });
});

describe("contents", () => {
  const CONTENTS = "/repos/acme/Config/contents/configs/allowlist.yml";
  const TEXT = "L1:\n  - acme/npu-backend\n";

  it("serves raw text with an ETag and answers 304 to a matching If-None-Match", async () => {
    standIn.setFile("acme/config", "configs/allowlist.yml", TEXT);
    const raw = { accept: "application/vnd.github.raw+json" };
    const first = await call("GET", `${CONTENTS}?ref=main`, { headers: raw });
    expect(first.status).toBe(200);
    expect(first.text).toBe(TEXT);
    expect(first.headers.get("content-type")).toBe("application/vnd.github.raw+json; charset=utf-8");
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"[0-9a-f]{40}"$/);
    expect(standIn.find("GET", CONTENTS)[0]?.query).toEqual({ ref: "main" });

    const unchanged = await call("GET", `${CONTENTS}?ref=main`, { headers: { ...raw, "if-none-match": etag ?? "" } });
    expect(unchanged.status).toBe(304);

    standIn.setFile("acme/config", "configs/allowlist.yml", `${TEXT}L2: []\n`);
    const changed = await call("GET", `${CONTENTS}?ref=main`, { headers: { ...raw, "if-none-match": etag ?? "" } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);

    expect((await call("GET", "/repos/acme/Config/contents/missing.yml")).status).toBe(404);
    const json = await call("GET", "/repos/acme/Config/contents/configs%2Fallowlist.yml");
    expect(json.json).toMatchObject({ type: "file", encoding: "base64", path: "configs/allowlist.yml" });
  });

  it("routes Octokit's contents request for a nested path", async () => {
    standIn.setFile("acme/Config", "configs/allowlist.yml", TEXT);
    const octokit = new ProbotOctokit({ auth: { token: await installationToken() }, baseUrl: standIn.apiUrl, retry: { enabled: false }, throttle: { enabled: false } });
    const response = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner: "acme",
      repo: "Config",
      path: "configs/allowlist.yml",
      ref: "main",
      headers: { accept: "application/vnd.github.raw+json" },
    });
    expect(response.data).toBe(TEXT);
    expect(response.headers.etag).toMatch(/^"[0-9a-f]{40}"$/);
    // Octokit sends the nested path as configs%2Fallowlist.yml; the recorded path is decoded.
    expect(standIn.find("GET", CONTENTS)[0]).toMatchObject({
      installationId: 7,
      query: { ref: "main" },
      rawPath: "/repos/acme/Config/contents/configs%2Fallowlist.yml",
    });
  });
});

describe("webhook deliveries", () => {
  it("pages deliveries with a cursor in the next link, and accepts redelivery of a known one", async () => {
    standIn.setDeliveries(Array.from({ length: 5 }, (_, index) => ({ id: 100 + index, guid: `g-${index}`, status_code: 502 })));
    const ids: unknown[] = [];
    let next: string | undefined = `${standIn.apiUrl}/app/hook/deliveries?per_page=2`;
    let pages = 0;
    while (next) {
      const response: Response = await fetch(next, { headers: { authorization: `Bearer ${APP_JWT}` } });
      ids.push(...((await response.json()) as Array<{ id: number }>).map((delivery) => delivery.id));
      next = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get("link") ?? "")?.[1];
      if (next) expect(next).toContain("cursor=");
      pages += 1;
    }
    expect(ids).toEqual([100, 101, 102, 103, 104]);
    expect(pages).toBe(3);

    expect(await call("POST", "/app/hook/deliveries/102/attempts", { auth: `Bearer ${APP_JWT}` })).toMatchObject({ status: 202, json: {} });
    expect((await call("POST", "/app/hook/deliveries/999/attempts")).status).toBe(404);
  });
});

describe("actions runs", () => {
  it("accepts re-run and cancel", async () => {
    expect((await call("POST", "/repos/acme/npu-backend/actions/runs/55/rerun-failed-jobs")).status).toBe(201);
    expect((await call("POST", "/repos/acme/npu-backend/actions/runs/55/cancel")).status).toBe(202);
  });
});

describe("close", () => {
  it("ends promptly while a request waits on a delay", async () => {
    const local = await startGitHubStandIn();
    local.setDelay("GET", "/app/installations", 30_000);
    const pending = fetch(`${local.apiUrl}/app/installations`).then(
      () => "answered",
      () => "failed",
    );
    while (local.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

    const started = Date.now();
    await local.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toBe("failed");
    expect(local.requests[0]?.status).toBeUndefined();
    await local.close(); // idempotent
  });
});
