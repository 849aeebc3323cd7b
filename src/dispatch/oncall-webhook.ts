// Posting a message to a backend's oncall webhook (RELAY_ONCALL_WEBHOOKS): a Slack-compatible incoming
// webhook takes `{ "text": … }` as JSON. The outbox sends it like any task (retried, dead-lettered past
// the maximum age); it is the one task not sent to GitHub, so it takes no GitHub write slot.

/** A refusal shaped like Octokit's RequestError (status, response headers), so one retry policy judges both. */
export class WebhookRefused extends Error {
  readonly response: { headers: Record<string, string> };

  constructor(
    readonly status: number,
    headers: Headers,
  ) {
    // The URL is a secret: the message names the status only.
    super(`the oncall webhook answered ${status}`);
    this.response = { headers: Object.fromEntries(headers) };
  }
}

/** POSTs `body` as JSON; resolves on a 2xx, throws WebhookRefused on another answer, or fetch's error when none came. */
export async function postOncallWebhook(url: string, body: Record<string, unknown>, timeoutMs: number): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    // A redirect could send the message (and a later one's secret path) somewhere else: refused.
    redirect: "error",
    signal: AbortSignal.timeout(timeoutMs),
  });
  // The answer's body is not needed (Slack answers "ok"): dropped unread, whatever its size.
  await response.body?.cancel().catch(() => undefined);
  if (!response.ok) throw new WebhookRefused(response.status, response.headers);
}
