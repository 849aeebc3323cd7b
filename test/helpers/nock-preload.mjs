// Preloaded into child processes (`NODE_OPTIONS=--import ./test/helpers/nock-preload.mjs`) so that
// `probot receive` runs offline: GitHub is played by the interceptors in $RELAY_TEST_NOCK (JSON), and
// every request that reached them is written to $RELAY_TEST_NOCK_LOG when the process exits.
import { readFileSync, writeFileSync } from "node:fs";
import nock from "nock";

nock.disableNetConnect();
const seen = [];
const api = process.env.RELAY_TEST_API ?? "https://api.github.com";
const interceptors = process.env.RELAY_TEST_NOCK ? JSON.parse(readFileSync(process.env.RELAY_TEST_NOCK, "utf8")) : [];
// Each interceptor: {method, path | pathPattern (a RegExp source), status, body, headers?, persist?}.
for (const { method, path, pathPattern, status, body, headers, persist } of interceptors) {
  const scope = nock(api);
  if (persist) scope.persist();
  scope
    .intercept(pathPattern ? new RegExp(pathPattern) : path, method)
    .reply(function (uri, requestBody) {
      seen.push({ method, uri, headers: this.req.headers, body: requestBody });
      return [status, body, headers ?? {}];
    });
}
process.on("exit", () => {
  if (process.env.RELAY_TEST_NOCK_LOG) {
    writeFileSync(process.env.RELAY_TEST_NOCK_LOG, JSON.stringify({ seen, pending: nock.pendingMocks() }));
  }
});
