// A relay on loopback whose GitHub is played by nock: only loopback connections are allowed, and after
// each test the relay started through the returned function stops and nock is reset.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import nock from "nock";
import { afterEach, beforeEach } from "vitest";
import { startRelay, tempDir, type RunningRelay } from "./server.js";

export type StartAgainstNock = (allowlist: string, env?: Record<string, string>) => Promise<RunningRelay>;

export function relayAgainstNock(): StartAgainstNock {
  let relay: RunningRelay | undefined;
  beforeEach(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });
  afterEach(async () => {
    await relay?.stop();
    relay = undefined;
    nock.cleanAll();
    nock.enableNetConnect();
  });
  return async (allowlist, env = {}) => {
    const file = path.join(tempDir(), "allowlist.yml");
    await writeFile(file, allowlist);
    relay = await startRelay({ UPSTREAM_REPO: "Codertocat/Hello-World", ALLOWLIST_FILE: file, ...env });
    return relay;
  };
}
