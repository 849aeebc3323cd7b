// GET /api/audit/callbacks?days=N: the per-downstream callback audit trail as JSON (see audit.ts).
import { z } from "zod";
import { daysParam, parseQuery } from "../http/query.js";
import { sendJson, type Route } from "../http/router.js";
import { AUDIT_RETENTION_DAYS } from "../domain/callback-audit.js";
import type { CallbackAuditLog } from "./audit-log.js";

const DEFAULT_DAYS = 7;
const AuditQuery = z.strictObject({ days: daysParam(AUDIT_RETENTION_DAYS, DEFAULT_DAYS) });

export function callbackAuditRoute(audit: CallbackAuditLog): Route {
  return {
    method: "GET",
    path: "/api/audit/callbacks",
    handler: async (_req, res, url) => {
      const query = parseQuery(AuditQuery, url);
      if (!query.ok) return sendJson(res, 400, { error: query.problem });
      sendJson(res, 200, await audit.summary(query.value.days));
    },
  };
}
