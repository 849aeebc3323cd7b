// GET /api/audit/callbacks?days=N: the per-downstream callback audit trail as JSON (see audit.ts).
import { z } from "zod";
import { sendJson, type Route } from "../http/router.js";
import { AUDIT_RETENTION_DAYS } from "./audit.js";
import type { CallbackAuditLog } from "./audit-log.js";

const DEFAULT_DAYS = 7;
const DAYS_PROBLEM = { error: `days must be a whole number of days from 1 to ${AUDIT_RETENTION_DAYS}` };
const AuditQuery = z.strictObject({
  days: z.coerce.number(DAYS_PROBLEM).int(DAYS_PROBLEM).min(1, DAYS_PROBLEM).max(AUDIT_RETENTION_DAYS, DAYS_PROBLEM).default(DEFAULT_DAYS),
});

export function callbackAuditRoute(audit: CallbackAuditLog): Route {
  return {
    method: "GET",
    path: "/api/audit/callbacks",
    handler: (_req, res, url) => {
      const query = parseQuery(url);
      if (typeof query === "string") return sendJson(res, 400, { error: query });
      sendJson(res, 200, audit.summary(query.days));
    },
  };
}

/** The validated query, or what is wrong with it; a repeated parameter is a problem, not the first or last. */
function parseQuery(url: URL): z.output<typeof AuditQuery> | string {
  const keys = [...url.searchParams.keys()];
  const repeated = keys.find((key, index) => keys.indexOf(key) !== index);
  if (repeated !== undefined) return `query parameter ${repeated} is given more than once`;
  const parsed = AuditQuery.safeParse(Object.fromEntries(url.searchParams));
  if (parsed.success) return parsed.data;
  return parsed.error.issues
    .map((issue) => (issue.code === "unrecognized_keys" ? `unknown query parameter ${issue.keys.join(", ")}; only days is accepted` : issue.message))
    .join("; ");
}
