// Preloaded into child processes (`NODE_OPTIONS=--import ./test/helpers/nock-preload.mjs`) so that
// `probot receive` runs offline: GitHub is played by the interceptors in $RELAY_TEST_NOCK (JSON), and
// every request that reached them is written to $RELAY_TEST_NOCK_LOG when the process exits.
import { readFileSync, writeFileSync } from "node:fs";
import nock from "nock";
import { intercept } from "./nock-interceptors.mjs";

nock.disableNetConnect();
const seen = [];
const interceptors = process.env.RELAY_TEST_NOCK ? JSON.parse(readFileSync(process.env.RELAY_TEST_NOCK, "utf8")) : [];
intercept(process.env.RELAY_TEST_API ?? "https://api.github.com", interceptors, (request) => seen.push(request));
process.on("exit", () => {
  if (process.env.RELAY_TEST_NOCK_LOG) {
    writeFileSync(process.env.RELAY_TEST_NOCK_LOG, JSON.stringify({ seen, pending: nock.pendingMocks() }));
  }
});
