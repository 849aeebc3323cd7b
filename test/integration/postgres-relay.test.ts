// The relay end to end with its state in PostgreSQL (DATABASE_URL): a PR dispatched through the running
// relay (GitHub played by the stand-in), its backend reporting, GitHub's run events, the aggregate
// concluding once the run is over, and the store's rows where PostgreSQL has them.
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { webhookExample, type Payload } from "../helpers/fixtures.js";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.js";
import { startOidcIssuer, type OidcIssuer } from "../helpers/oidc-issuer.js";
import { freshSchema } from "../helpers/postgres.js";
import { deliver, startRelayAgainst, type RunningRelay } from "../helpers/server.js";

const UPSTREAM = "Codertocat/Hello-World";
const TPU = "beta/tpu-backend";

let github: GitHubStandIn;
let oidc: OidcIssuer;
let relay: RunningRelay | undefined;
let database: { url: string; schema: string };

beforeEach(async () => {
  github = await startGitHubStandIn();
  oidc = await startOidcIssuer();
  github.install(1, [UPSTREAM]);
  github.install(12, [TPU]);
  database = freshSchema();
});
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
  await github.close();
  await oidc.close();
});

async function start(): Promise<RunningRelay> {
  relay = await startRelayAgainst(github, `L4:\n  - ${TPU}: "@tpu-oncall"\n`, {
    UPSTREAM_REPO: UPSTREAM,
    GITHUB_OIDC_ISSUER: oidc.issuer,
    RELAY_CHECK_UPDATE_DELAY_SECONDS: "0",
    DATABASE_URL: database.url,
    DATABASE_SCHEMA: database.schema,
    RELAY_LEADER_CHECK_SECONDS: "1",
  });
  return relay;
}

async function settled(running: RunningRelay): Promise<void> {
  await expect.poll(async () => (await running.dispatch?.readiness())?.details.outbox, { timeout: 20_000, interval: 50 }).toMatchObject({ pending: 0 });
}

async function rows<R extends pg.QueryResultRow>(text: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: database.url, options: `-c search_path=${database.schema}` });
  await client.connect();
  try {
    return (await client.query<R>(text)).rows;
  } finally {
    await client.end();
  }
}

describe("the relay on PostgreSQL", () => {
  it("dispatches, takes reports and GitHub's run events, and concludes the aggregate once the run is over", async () => {
    const running = await start();
    const pr: Payload = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
    pr.pull_request.author_association = "MEMBER";
    expect((await deliver(running, "pull_request", pr, "pg-delivery")).status).toBe(200);
    await settled(running);
    const [dispatch] = github.find("POST", `/repos/${TPU}/dispatches`);
    const { ticket, delivery_id: deliveryId } = (dispatch!.body as { client_payload: { ticket: string; delivery_id: string } }).client_payload;

    const report = async (fields: Record<string, unknown>) => {
      const response = await fetch(`${running.url}/relay/callback`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${await oidc.mint({ repository: TPU })}` },
        body: JSON.stringify({
          schema_version: 1,
          ticket,
          workflow: { name: "ci", run_id: 31, run_attempt: 1, url: `https://github.example/${TPU}/actions/runs/31` },
          job: { name: "test" },
          ...fields,
        }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    expect(await report({ status: "in_progress" })).toMatchObject({ status: 200, body: { accepted: true } });
    expect(await report({ status: "completed", conclusion: "success" })).toMatchObject({ status: 200, body: { job: { conclusion: "success" } } });
    await settled(running);
    const aggregate = () => [...github.checkRuns.values()].find((run) => run.name === "oot / tpu-backend")!;
    expect(aggregate()).toMatchObject({ status: "in_progress" });

    const run = webhookExample("workflow_run", (p) => p.workflow_run.event === "repository_dispatch");
    run.repository.full_name = TPU;
    Object.assign(run.workflow_run, { id: 31, run_attempt: 1, name: "ci", status: "completed", conclusion: "success", display_title: `PR [relay ${deliveryId}]` });
    expect((await deliver(running, "workflow_run", run, "pg-run")).status).toBe(200);
    await settled(running);
    expect(aggregate()).toMatchObject({ status: "completed", conclusion: "success", output: { title: "1 of 1 jobs passed" } });

    // What PostgreSQL holds: the delivery, the sent dispatch, the job, the run linked to its dispatch.
    expect(await rows("SELECT outcome FROM dispatch_log")).toEqual([{ outcome: "sent" }]);
    expect(await rows("SELECT status FROM jobs")).toEqual([{ status: "completed" }]);
    expect(await rows("SELECT run_id, delivery_id FROM tracked_runs")).toEqual([{ run_id: "31", delivery_id: deliveryId }]);
    expect((await rows<{ n: string }>("SELECT count(*) AS n FROM deliveries"))[0]!.n).toBe("1");
  });

  it("keeps its state across a restart: a redelivered webhook is a duplicate, the dispatch is not sent again", async () => {
    const pr: Payload = webhookExample("pull_request", (p) => p.action === "opened" && p.installation);
    pr.pull_request.author_association = "MEMBER";
    const first = await start();
    expect((await deliver(first, "pull_request", pr, "pg-restart")).status).toBe(200);
    await settled(first);
    await first.stop();
    relay = undefined;
    const second = await start();
    expect((await deliver(second, "pull_request", pr, "pg-restart")).status).toBe(200);
    await settled(second);
    expect(github.find("POST", `/repos/${TPU}/dispatches`)).toHaveLength(1);
  });
});
