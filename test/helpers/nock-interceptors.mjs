// GitHub played by nock from a list of answers (JSON-friendly, so a child process can read them from a
// file): {method, path | pathPattern (a RegExp source), status, body, headers?, persist?}. Used in this
// process by tests and in child processes by nock-preload.mjs.
import nock from "nock";

/** Installs each interceptor on `api`; `onSeen` gets every request that reached one. */
export function intercept(api, interceptors, onSeen = () => {}) {
  for (const { method, path, pathPattern, status, body, headers, persist } of interceptors) {
    const scope = nock(api);
    if (persist) scope.persist();
    scope.intercept(pathPattern ? new RegExp(pathPattern) : path, method).reply(function (uri, requestBody) {
      onSeen({ method, uri, headers: this.req.headers, body: requestBody });
      return [status, body, headers ?? {}];
    });
  }
}
