// GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`.
import { createHmac, timingSafeEqual } from "node:crypto";

const SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/** Whether `header` is the signature of `body` under `secret`, compared in constant time. */
export function signatureMatches(secret: string, body: Buffer, header: string): boolean {
  const hex = SIGNATURE.exec(header)?.[1];
  if (hex === undefined) return false;
  const expected = createHmac("sha256", secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(hex, "hex"));
}
