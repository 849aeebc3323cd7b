// @clickhouse/client's log lines through the relay's pino logger (src/logging.ts, clickHouseLog): one JSON
// line per message at the matching level, errors as `err`, no URL credentials, nothing on the console.
import { Writable } from "node:stream";
import { ClickHouseLogLevel } from "@clickhouse/client";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openClickHouse } from "../../src/hud/clickhouse.js";
import { clickHouseLog, createLogger } from "../../src/logging.js";
import { freePort } from "../helpers/server.js";

const PASSWORD = "s3cret-pw-5f2a";

async function memoryLogger(level = "info") {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString("utf8"));
      done();
    },
  });
  const log = await createLogger({ level, format: "json" }, sink);
  const raw = () => chunks.join("");
  const lines = () => raw().split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as Record<string, unknown>);
  return { log, raw, lines };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("clickHouseLog", () => {
  it("writes each client message as one JSON line, its error as err, URL credentials masked", async () => {
    const { log, raw, lines } = await memoryLogger();
    const { LoggerClass } = clickHouseLog(log, "hud");
    class ClickHouseError extends Error {
      readonly code = "516";
    }
    const err = new ClickHouseError(`Authentication failed at http://relay:${PASSWORD}@clickhouse:8123/`);
    new LoggerClass().error({
      module: "Connection",
      message: `Query: HTTP request error (http://relay:${PASSWORD}@clickhouse:8123).`,
      args: { query_id: "q-1", settings: { url: `https://default:${PASSWORD}@ch.example.com:8443` } },
      err,
    });

    expect(raw().split("\n").filter(Boolean)).toHaveLength(1);
    expect(raw()).not.toContain(PASSWORD);
    const [line] = lines();
    expect(line).toMatchObject({
      level: 50,
      name: "relay",
      component: "clickhouse",
      use: "hud",
      module: "Connection",
      msg: "Query: HTTP request error (http://***@clickhouse:8123).",
      args: { query_id: "q-1", settings: { url: "https://***@ch.example.com:8443" } },
      err: { type: "ClickHouseError", code: "516", message: "Authentication failed at http://***@clickhouse:8123/" },
    });
    expect((line!.err as { stack: string }).stack).toContain("Authentication failed at http://***@clickhouse:8123/");
    // The client's error itself is left as it was: the caller still gets it whole.
    expect(err.message).toContain(PASSWORD);
  });

  it("maps each client level to pino's, and the client's threshold to the logger's level", async () => {
    const { log, lines } = await memoryLogger("trace");
    const { LoggerClass, level } = clickHouseLog(log, "crcr-export");
    expect(level).toBe(ClickHouseLogLevel.TRACE);
    const logger = new LoggerClass();
    logger.trace({ module: "M", message: "t" });
    logger.debug({ module: "M", message: "d" });
    logger.info({ module: "M", message: "i" });
    logger.warn({ module: "M", message: "w" });
    logger.error({ module: "M", message: "e", err: new Error("boom") });
    expect(lines().map(({ level: pinoLevel, msg, use }) => [pinoLevel, msg, use])).toEqual([
      [10, "t", "crcr-export"],
      [20, "d", "crcr-export"],
      [30, "i", "crcr-export"],
      [40, "w", "crcr-export"],
      [50, "e", "crcr-export"],
    ]);

    const threshold = async (pinoLevel: string) => clickHouseLog((await memoryLogger(pinoLevel)).log, "hud").level;
    expect(await threshold("debug")).toBe(ClickHouseLogLevel.DEBUG);
    // The client's one INFO line ("Log level is set to …") would come with every client it creates.
    expect(await threshold("info")).toBe(ClickHouseLogLevel.WARN);
    expect(await threshold("warn")).toBe(ClickHouseLogLevel.WARN);
    expect(await threshold("error")).toBe(ClickHouseLogLevel.ERROR);
    expect(await threshold("fatal")).toBe(ClickHouseLogLevel.OFF);
  });

  it("carries a real client's failed request to the log, not the console, without the password", async () => {
    const consoleLines = vi.spyOn(console, "error");
    const consoleWarnings = vi.spyOn(console, "warn");
    const { log, raw, lines } = await memoryLogger();
    const port = await freePort();
    const client = await openClickHouse(
      { kind: "server", url: `http://relay:${PASSWORD}@127.0.0.1:${port}`, user: "relay", password: PASSWORD, database: "default" },
      clickHouseLog(log, "hud"),
    );
    try {
      await expect(client.query({ query: "SELECT 1" })).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await client.close();
    }

    expect(consoleLines).not.toHaveBeenCalled();
    expect(consoleWarnings).not.toHaveBeenCalled();
    expect(raw()).not.toContain(PASSWORD);
    const failures = lines().filter((line) => line.level === 50);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ component: "clickhouse", use: "hud", msg: "Query: HTTP request error.", err: { code: "ECONNREFUSED" } });
  });
});
