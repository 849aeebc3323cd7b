// One bounded request-body reader for every route that takes a body.
import type { IncomingMessage } from "node:http";

/**
 * The body; "too_large" when it exceeds `limit` bytes (declared by Content-Length, before anything is
 * read, or while streaming); "aborted" when the client left. On "too_large" the request is paused, not
 * destroyed, so the caller can still answer 413 — with `connection: close`, as the rest is never read.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | "too_large" | "aborted"> {
  if (Number(req.headers["content-length"] ?? 0) > limit) return Promise.resolve("too_large");
  if (req.destroyed) return Promise.resolve("aborted");
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: Buffer | "too_large" | "aborted") => {
      req.off("data", onData).off("end", onEnd).off("error", onAborted).off("close", onAborted);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.pause();
      finish("too_large");
    };
    const onEnd = () => finish(Buffer.concat(chunks, size));
    const onAborted = () => finish("aborted");
    req.on("data", onData).once("end", onEnd).once("error", onAborted).once("close", onAborted);
  });
}
