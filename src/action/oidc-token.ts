// Mints the job's OIDC token through the runner's token service, as core.getIDToken(audience) does: GET
// ACTIONS_ID_TOKEN_REQUEST_URL with an added `audience` parameter and `Authorization: Bearer
// ACTIONS_ID_TOKEN_REQUEST_TOKEN`, answered with {"value": "<JWT>"}.
import { ActionInputError, type Env } from "./inputs.js";

export const MISSING_ID_TOKEN_PERMISSION =
  "no OIDC token available: ACTIONS_ID_TOKEN_REQUEST_URL / ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set. Add `permissions: id-token: write` to the workflow or job that runs report-ci-result (GitHub sets these variables only with that permission).";

export async function requestIdToken(env: Env, audience: string, fetchFn: typeof fetch): Promise<string> {
  const requestUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL;
  const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
  if (!requestUrl || !requestToken) throw new ActionInputError(MISSING_ID_TOKEN_PERMISSION);
  let url: URL;
  try {
    url = new URL(requestUrl);
  } catch {
    throw new ActionInputError("ACTIONS_ID_TOKEN_REQUEST_URL is not a valid URL");
  }
  url.searchParams.set("audience", audience);
  let response: Response;
  try {
    response = await fetchFn(url, { headers: { authorization: `Bearer ${requestToken}`, accept: "application/json" } });
  } catch (error) {
    throw new OidcTokenError(`OIDC token request failed: ${errorMessage(error)}`);
  }
  if (!response.ok) {
    throw new OidcTokenError(`OIDC token request failed: HTTP ${response.status} ${(await response.text().catch(() => "")).slice(0, 200)}`.trim());
  }
  const body = (await response.json().catch(() => undefined)) as { value?: unknown } | undefined;
  if (typeof body?.value !== "string" || body.value === "") throw new OidcTokenError("OIDC token request failed: the answer has no token (`value`)");
  return body.value;
}

export class OidcTokenError extends Error {
  override name = "OidcTokenError";
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}
