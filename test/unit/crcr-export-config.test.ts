// Configuration of the crcr export (docs/pytorch.md, "HUD rows for hud.pytorch.org"): off by default, one
// destination at a time, credentials from the URL or their own variables, and the API token never echoed.
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

const TOKEN = "hud-bot-key-0123456789abcdef";

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("the crcr export's configuration", () => {
  it("is off unless a destination is set", () => {
    expect(loadConfig({}).crcrExport).toBeUndefined();
  });

  it("sends to torchci's results API with its token", () => {
    expect(loadConfig({ TORCHCI_RESULTS_URL: "https://hud.pytorch.org/api/crcr/results", TORCHCI_API_TOKEN: TOKEN }).crcrExport).toEqual({
      kind: "torchci",
      url: "https://hud.pytorch.org/api/crcr/results",
      token: TOKEN,
    });
  });

  it("writes to a ClickHouse server table, default.crcr_workflow_job unless named, with credentials from the URL or their own variables", () => {
    expect(loadConfig({ CRCR_CLICKHOUSE_URL: "https://ch.example.com:8443" }).crcrExport).toEqual({
      kind: "clickhouse",
      server: { kind: "server", url: "https://ch.example.com:8443/", user: "default", password: "", database: "default" },
      table: "default.crcr_workflow_job",
    });
    // In the URL (percent-encoded): moved out of it, so the URL kept holds no secret.
    expect(loadConfig({ CRCR_CLICKHOUSE_URL: "https://relay:p%40ss@ch.example.com:8443", CRCR_CLICKHOUSE_TABLE: "hud.crcr_jobs" }).crcrExport).toEqual({
      kind: "clickhouse",
      server: { kind: "server", url: "https://ch.example.com:8443/", user: "relay", password: "p@ss", database: "hud" },
      table: "hud.crcr_jobs",
    });
    expect(loadConfig({ CRCR_CLICKHOUSE_URL: "https://ch.example.com", CRCR_CLICKHOUSE_USER: "relay", CRCR_CLICKHOUSE_PASSWORD: "secret" }).crcrExport).toMatchObject({
      server: { user: "relay", password: "secret" },
    });
  });

  it("refuses two destinations, a missing or stray token, and settings without their URL, each with its fix", () => {
    expect(problemsOf({ CRCR_CLICKHOUSE_URL: "https://ch.example.com", TORCHCI_RESULTS_URL: "https://hud.pytorch.org/api/crcr/results", TORCHCI_API_TOKEN: TOKEN })).toEqual([
      "TORCHCI_RESULTS_URL: set together with CRCR_CLICKHOUSE_URL, but results are exported to one destination; unset one of them",
    ]);
    expect(problemsOf({ TORCHCI_RESULTS_URL: "https://hud.pytorch.org/api/crcr/results" })).toEqual([
      "TORCHCI_API_TOKEN: not set, but required with TORCHCI_RESULTS_URL; set it to torchci's INTERNAL_API_TOKEN (sent as x-hud-internal-bot)",
    ]);
    expect(problemsOf({ TORCHCI_API_TOKEN: TOKEN, CRCR_CLICKHOUSE_TABLE: "default.t" })).toEqual([
      "TORCHCI_API_TOKEN: set without TORCHCI_RESULTS_URL; set the URL too, or unset the token",
      "CRCR_CLICKHOUSE_TABLE: set without CRCR_CLICKHOUSE_URL; set the URL too, or unset it",
    ]);
    expect(problemsOf({ CRCR_CLICKHOUSE_URL: "https://u:p@ch.example.com", CRCR_CLICKHOUSE_PASSWORD: "other" })).toEqual([
      "CRCR_CLICKHOUSE_URL: carries credentials, and CRCR_CLICKHOUSE_USER or CRCR_CLICKHOUSE_PASSWORD is set too; give them in one place",
    ]);
  });

  it("refuses malformed values without echoing a secret", () => {
    const problems = problemsOf({
      TORCHCI_RESULTS_URL: "http://hud.example.com/api/crcr/results",
      TORCHCI_API_TOKEN: `${TOKEN} with spaces`,
      CRCR_CLICKHOUSE_TABLE: "crcr_workflow_job",
    });
    expect(problems).toEqual([
      'CRCR_CLICKHOUSE_TABLE: "crcr_workflow_job" is not <database>.<table>; use letters, digits and "_" in both names (default default.crcr_workflow_job)',
      'TORCHCI_RESULTS_URL: "http://hud.example.com/api/crcr/results" uses http on a non-loopback host; the API token goes with every request, so use https (http is allowed only for localhost, 127.0.0.0/8 and [::1])',
      "TORCHCI_API_TOKEN: has characters an HTTP header cannot carry (whitespace, control or non-ASCII characters); the value is not shown: it is a secret",
      "CRCR_CLICKHOUSE_TABLE: set without CRCR_CLICKHOUSE_URL; set the URL too, or unset it",
    ]);
    expect(problems.join("\n")).not.toContain(TOKEN);
    // A URL's credentials are masked in its message.
    expect(problemsOf({ CRCR_CLICKHOUSE_URL: "ftp://relay:hunter2@ch.example.com" })).toEqual([
      'CRCR_CLICKHOUSE_URL: "ftp://***@ch.example.com" is not an http(s) URL; set it to the HTTP endpoint of the ClickHouse server holding crcr_workflow_job (e.g. https://clickhouse.example.com:8443), or unset it',
    ]);
    expect(loadConfig({ TORCHCI_RESULTS_URL: "http://127.0.0.1:8080/api/crcr/results", TORCHCI_API_TOKEN: TOKEN }).crcrExport).toMatchObject({ kind: "torchci" });
  });
});
