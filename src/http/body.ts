// One bounded request-body reader for every route that takes a body.
import type { IncomingMessage } from "node:http";
import type { BodyLease } from "./byte-budget.js";

export type BodyResult = Buffer | "too_large" | "over_budget" | "aborted";

/**
 * The body; "too_large" when it exceeds `limit` bytes (declared by Content-Length, before anything is
 * read, or while streaming); "aborted" when the client left. On "too_large" the request is paused, not
 * destroyed, so the caller can still answer 413 — with `connection: close`, as the rest is never read.
 * With a `lease` of a shared byte budget, every chunk is reserved before it is kept: "over_budget" (the
 * request paused the same way) when the budget is spent; the caller releases the lease when done.
 */
export function readBody(req: IncomingMessage, limit: number, lease?: BodyLease): Promise<BodyResult> {
  if (Number(req.headers["content-length"] ?? 0) > limit) return Promise.resolve("too_large");
  if (req.destroyed) return Promise.resolve("aborted");
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: BodyResult) => {
      req.off("data", onData).off("end", onEnd).off("error", onAborted).off("close", onAborted);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      const refusal = size > limit ? "too_large" : lease && !lease.take(chunk.length) ? "over_budget" : undefined;
      if (refusal === undefined) {
        chunks.push(chunk);
        return;
      }
      req.pause();
      finish(refusal);
    };
    const onEnd = () => finish(Buffer.concat(chunks, size));
    const onAborted = () => finish("aborted");
    req.on("data", onData).once("end", onEnd).once("error", onAborted).once("close", onAborted);
  });
}
