import { env } from "cloudflare:workers";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { describe, expect, it } from "vitest";
import { createTenant, insertSession } from "../helpers/db";
import { callWorker } from "../helpers/worker";

const SIGNING_KEY = "gateway-signing-key-0123456789abcdef0123";
const gateway = {
  ORIGIN_URL: `http://127.0.0.1:${env.TEST_ORIGIN_PORT}`,
  GATEWAY_SIGNING_KEY: SIGNING_KEY,
};

interface Echoed {
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
  body: string;
}

async function originSaw(path: string): Promise<number> {
  const res = await fetch(`${gateway.ORIGIN_URL}/__echo/seen?path=${encodeURIComponent(path)}`);
  return ((await res.json()) as { count: number }).count;
}

/** The verification an origin runs, written independently of src/ (it is what docs/gateway.md shows). */
function verify(signature: string, method: string, pathAndQuery: string, h: Record<string, string | undefined>) {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature);
  if (!match) return false;
  const payload = [
    "v1",
    match[1],
    method,
    pathAndQuery,
    h["x-session-id"],
    h["x-user-id"],
    h["x-tenant-id"],
    h["x-app-type"],
  ];
  const expected = bytesToHex(
    hmac(sha256, new TextEncoder().encode(SIGNING_KEY), new TextEncoder().encode(payload.join("\n"))),
  );
  return expected === match[2] && Math.abs(Date.now() / 1000 - Number(match[1])) < 60;
}

describe("gateway mode", () => {
  it("forwards a valid request with method, path, query, body and signed identity headers", async () => {
    const tenantId = await createTenant();
    const s = await insertSession({ tenantId, appType: "tenant_app" });
    const res = await callWorker(
      "/app/orders?page=2",
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${s.token}`,
          "content-type": "application/json",
          "x-user-id": "1",
          "X-Session-Id": "spoofed",
          "x-tenant-id": "999",
          "x-session-signature": "t=1,v1=forged",
          "x-custom": "kept",
        },
        body: JSON.stringify({ item: 42 }),
      },
      gateway,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("x-origin")).toBe("echo");
    // The origin's caching headers are its own business.
    expect(res.headers.get("cache-control")).toBe("max-age=60");
    const echoed = (await res.json()) as Echoed;
    expect(echoed).toMatchObject({ method: "POST", url: "/app/orders?page=2", body: '{"item":42}' });
    expect(echoed.headers).toMatchObject({
      "x-session-id": s.id,
      "x-user-id": String(s.userId),
      "x-tenant-id": String(tenantId),
      "x-app-type": "tenant_app",
      "x-custom": "kept",
      "content-type": "application/json",
    });
    expect(echoed.headers.authorization).toBeUndefined();
    const signature = echoed.headers["x-session-signature"] ?? "";
    expect(verify(signature, "POST", "/app/orders?page=2", echoed.headers)).toBe(true);
    expect(verify(signature, "GET", "/app/orders?page=2", echoed.headers)).toBe(false);
  });

  it("forwards Authorization only when FORWARD_AUTHORIZATION=true", async () => {
    const s = await insertSession();
    const res = await callWorker(
      "/app/x",
      { headers: { authorization: `Bearer ${s.token}` } },
      {
        ...gateway,
        FORWARD_AUTHORIZATION: "true",
      },
    );
    expect(((await res.json()) as Echoed).headers.authorization).toBe(`Bearer ${s.token}`);
  });

  it.each([
    ["no credentials", {}, 'Bearer realm="session-gate"'],
    [
      "an unknown token",
      { authorization: "Bearer unknown-token-0123456789" },
      'Bearer realm="session-gate", error="invalid_token"',
    ],
    ["a malformed header", { authorization: "Bearer a b" }, 'Bearer realm="session-gate", error="invalid_request"'],
  ])("answers %s with 401 and never contacts the origin", async (_name, headers, challenge) => {
    const path = `/never-${crypto.randomUUID()}`;
    const res = await callWorker(path, { headers }, gateway);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe(challenge);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await originSaw(path)).toBe(0);
  });

  it("never contacts the origin for an expired session", async () => {
    const s = await insertSession({ absoluteInSeconds: -1 });
    const path = `/never-${crypto.randomUUID()}`;
    expect((await callWorker(path, { headers: { authorization: `Bearer ${s.token}` } }, gateway)).status).toBe(401);
    expect(await originSaw(path)).toBe(0);
  });

  it("still answers the service's own routes itself", async () => {
    const s = await insertSession();
    const res = await callWorker("/v1/validate", { headers: { authorization: `Bearer ${s.token}` } }, gateway);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-origin")).toBeNull();
  });

  it("answers 502 when the origin is down", async () => {
    const s = await insertSession();
    const res = await callWorker(
      "/app",
      { headers: { authorization: `Bearer ${s.token}` } },
      {
        ORIGIN_URL: `http://127.0.0.1:${env.TEST_CLOSED_PORT}`,
        GATEWAY_SIGNING_KEY: SIGNING_KEY,
      },
    );
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({ error: "bad_gateway", error_description: "The origin did not answer." });
  });

  it("answers 404 for other paths when gateway mode is off", async () => {
    const res = await callWorker("/app", {});
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not_found", error_description: "No such route." });
  });
});
