// GET /api/gate/<owner>/<repo>/pull/<n>[?sha=]: the merge gate of a pull request's head (src/gate/gate-view.ts),
// read from the relay's store in one transaction. Public like the PR's check runs it summarises.
import type { Logger } from "pino";
import { z } from "zod";
import type { Allowlist } from "../allowlist/types.js";
import type { RelayConfig } from "../config.js";
import { parseQuery } from "../http/query.js";
import { sendJson, type Route } from "../http/router.js";
import { callbackSettings } from "../state/settings.js";
import { aggregateFacts } from "../state/reconcile.js";
import type { Store } from "../store/store.js";
import { gateView, type GateBackendFacts } from "./gate-view.js";
import type { GateView } from "./schema.js";

const GateQuery = z.strictObject({
  sha: z
    .string()
    .regex(/^[0-9a-f]{40}$/, { error: "sha must be a 40-character lowercase hex commit sha" })
    .optional(),
});
const PrNumber = z.coerce.number().int().positive().max(2_147_483_647);

export interface GateRouteDeps {
  config: Pick<RelayConfig, "upstream"> & Parameters<typeof callbackSettings>[0];
  store: () => Store;
  allowlist: () => Allowlist | undefined;
  log: Pick<Logger, "warn">;
}

export function gateRoute(deps: GateRouteDeps): Route {
  const upstream = deps.config.upstream.repo;
  return {
    method: "GET",
    path: "/api/gate/:owner/:repo/pull/:number",
    handler: async (_req, res, url, params) => {
      const repo = `${params.owner}/${params.repo}`;
      if (repo.toLowerCase() !== upstream.toLowerCase()) {
        return sendJson(res, 404, { error: `this relay gates pull requests of ${upstream} only, not ${repo}` });
      }
      const number = PrNumber.safeParse(params.number);
      if (!number.success) return sendJson(res, 400, { error: `pull request number must be a positive integer; got "${params.number}"` });
      const query = parseQuery(GateQuery, url);
      if (!query.ok) return sendJson(res, 400, { error: query.problem });
      const allowlist = deps.allowlist();
      if (!allowlist) return sendJson(res, 503, { error: "no allowlist is loaded yet; try again shortly" }, { "retry-after": "30" });
      let view: GateView | undefined;
      try {
        view = await readGate(deps, allowlist, upstream, number.data, query.value.sha);
      } catch (error) {
        deps.log.warn({ err: String(error) }, "merge gate: could not read the store");
        return sendJson(res, 503, { error: "the relay's store is unavailable right now; try again shortly" }, { "retry-after": "30" });
      }
      if (!view) {
        const which = query.value.sha === undefined ? "open head" : `head ${query.value.sha}`;
        return sendJson(res, 404, {
          error: `the relay knows no ${which} of pull request #${number.data} (not seen, closed, or the sha is not this pull request's); pass ?sha= for a closed pull request's head`,
        });
      }
      sendJson(res, 200, view);
    },
  };
}

async function readGate(deps: GateRouteDeps, allowlist: Allowlist, upstream: string, prNumber: number, sha: string | undefined): Promise<GateView | undefined> {
  const settings = callbackSettings(deps.config);
  return deps.store().transaction(async (tx) => {
    const head = sha === undefined ? (await tx.openHeadsOfPr(upstream, prNumber))[0] : await tx.head({ upstreamRepo: upstream, headSha: sha });
    if (!head || head.prNumber !== prNumber) return undefined;
    const backends = new Map<string, GateBackendFacts>();
    for (const backend of await tx.backendHeads(head)) {
      backends.set(backend.downstreamRepo.toLowerCase(), { backend, ...(await aggregateFacts(tx, backend)) });
    }
    return gateView({ head, allowlist, backends, settings });
  });
}
