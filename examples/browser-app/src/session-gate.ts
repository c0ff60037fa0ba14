import type { BrowserAppConfig } from "./config";
import type { LoginUser } from "./users";

/**
 * Issues a session for `user` through session-gate's admin API (`POST /v1/sessions`) and returns
 * its token, which session-gate shows this once and stores only as a hash.
 */
export async function issueSession(
  config: Pick<BrowserAppConfig, "sessionGateUrl" | "adminApiKey">,
  user: LoginUser,
  userAgent: string | undefined,
): Promise<string> {
  const res = await fetch(new URL("/v1/sessions", config.sessionGateUrl), {
    method: "POST",
    headers: { authorization: `Bearer ${config.adminApiKey}`, "content-type": "application/json" },
    body: JSON.stringify({
      user_id: user.userId,
      tenant_id: user.tenantId,
      app_type: user.appType,
      user_agent: userAgent?.slice(0, 1024),
    }),
    signal: AbortSignal.timeout(5000),
  });
  if (res.status !== 201) throw new Error(`session-gate answered POST /v1/sessions with ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}
