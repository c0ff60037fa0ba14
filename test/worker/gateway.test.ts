import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createTenant, insertSession } from "../helpers/db";
import {
  type Echoed,
  expectIdentity,
  gateway,
  ORIGIN,
  originSaw,
  SIGNING_KEY,
  SPOOFED,
  seenBy,
  verifySignature,
} from "../helpers/gateway";
import { callWorker } from "../helpers/worker";

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

describe("gateway mode", () => {
  it("forwards a valid request with method, path, query, body and signed identity headers, none of the client's", async () => {
    const tenantId = await createTenant();
    const s = await insertSession({ tenantId, appType: "tenant_app" });
    const res = await callWorker(
      "/app/orders?page=2",
      {
        method: "POST",
        headers: {
          ...auth(s.token),
          ...SPOOFED,
          "X-Session-Id": SPOOFED["x-session-id"],
          "content-type": "application/json",
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
    expect(echoed.headers).toMatchObject({ "x-custom": "kept", "content-type": "application/json" });
    expect(echoed.headers.authorization).toBeUndefined();
    expectIdentity(echoed, s);
    // The signature binds the method and the body: replayed with another of either, it fails.
    expect(verifySignature({ ...echoed, method: "PUT" })).toBe(false);
    expect(verifySignature({ ...echoed, body: '{"item":43}' })).toBe(false);
    expect(verifySignature({ ...echoed, url: "/app/orders?page=3" })).toBe(false);
    expect(verifySignature(echoed, `${SIGNING_KEY}x`)).toBe(false);
  });

  it("signs the body: two requests that differ only in their bodies carry different signatures", async () => {
    const s = await insertSession();
    const send = async (body: string) =>
      (await (
        await callWorker("/app/pay", { method: "POST", headers: auth(s.token), body }, gateway)
      ).json()) as Echoed;
    const [small, large] = await Promise.all([send("1"), send("1000000")]);
    expect(small.headers["x-session-signature"]).not.toBe(large.headers["x-session-signature"]);
    expect(verifySignature(small)).toBe(true);
    expect(verifySignature(large)).toBe(true);
    // The captured header set of one does not verify with the other's body.
    expect(verifySignature({ ...small, body: large.body })).toBe(false);
  });

  it("forwards Authorization only when FORWARD_AUTHORIZATION=true", async () => {
    const s = await insertSession();
    const forwarded = (await (
      await callWorker("/app/x", { headers: auth(s.token) }, { ...gateway, FORWARD_AUTHORIZATION: "true" })
    ).json()) as Echoed;
    expect(forwarded.headers.authorization).toBe(`Bearer ${s.token}`);
    const stripped = (await (await callWorker("/app/x", { headers: auth(s.token) }, gateway)).json()) as Echoed;
    expect(stripped.headers.authorization).toBeUndefined();
  });

  it("drops every header the client named in Connection, and the hop-by-hop ones (RFC 9110 §7.6.1)", async () => {
    const s = await insertSession();
    const res = await callWorker(
      "/app/hop",
      {
        headers: {
          ...auth(s.token),
          connection: "X-Internal-Token, keep-alive, x-App-Type",
          "x-internal-token": "must-not-reach-the-origin",
          "keep-alive": "timeout=5",
          "proxy-connection": "keep-alive",
          "x-kept": "yes",
        },
      },
      gateway,
    );
    const echoed = (await res.json()) as Echoed;
    expect(echoed.headers["x-internal-token"]).toBeUndefined();
    expect(echoed.headers["keep-alive"]).toBeUndefined();
    expect(echoed.headers["proxy-connection"]).toBeUndefined();
    expect(echoed.headers["x-kept"]).toBe("yes");
    // Naming one of our identity headers in Connection does not remove ours.
    expectIdentity(echoed, s);
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
    expect((await callWorker(path, { headers: auth(s.token) }, gateway)).status).toBe(401);
    expect(await originSaw(path)).toBe(0);
  });

  it("still answers the service's own routes itself", async () => {
    const s = await insertSession();
    const res = await callWorker("/v1/validate", { headers: auth(s.token) }, gateway);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-origin")).toBeNull();
  });

  it.each([
    ["PUT", "/healthz", 405, "GET, HEAD"],
    ["POST", "/openapi.json", 405, "GET, HEAD"],
    ["GET", "/v1/logout", 405, "POST"],
    ["PATCH", "/v1/sessions/00000000-0000-4000-8000-000000000001", 405, "DELETE"],
    ["GET", "/v1/nothing-here", 404, null],
    ["POST", "/v1", 404, null],
    ["GET", "/v1/users/7/sessions/extra", 404, null],
  ])("never forwards the service's own paths: %s %s is a %i", async (method, path, status, allow) => {
    const s = await insertSession();
    const res = await callWorker(path, { method, headers: auth(s.token) }, gateway);
    expect(res.status).toBe(status);
    expect(res.headers.get("allow")).toBe(allow);
    expect(res.headers.get("x-origin")).toBeNull();
    expect(((await res.json()) as { error: string }).error).toBe(status === 405 ? "method_not_allowed" : "not_found");
    expect(await originSaw(path)).toBe(0);
  });

  it("answers 502 when the origin is down", async () => {
    const s = await insertSession();
    const res = await callWorker(
      "/app",
      { headers: auth(s.token) },
      { ORIGIN_URL: `http://127.0.0.1:${env.TEST_CLOSED_PORT}`, GATEWAY_SIGNING_KEY: SIGNING_KEY },
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

describe("gateway mode: where a request goes", () => {
  const attacker = `127.0.0.1:${env.TEST_ATTACKER_PORT}`;

  it.each([
    ["a protocol-relative path", `//${attacker}/collect`],
    ["a backslash the URL parser turns into //", `/\\${attacker}/collect`],
    ["an encoded slash", `/%2F${attacker}/collect`],
    ["an encoded backslash", `/%5C${attacker}/collect`],
    ["an empty segment further in", `/app//${attacker}/collect`],
  ])("refuses %s with 400 and sends nothing anywhere", async (_name, path) => {
    const s = await insertSession();
    const before = await seenBy(env.TEST_ATTACKER_PORT, "/collect");
    const res = await callWorker(path, { method: "POST", headers: auth(s.token), body: "secret" }, gateway);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_request");
    expect(await seenBy(env.TEST_ATTACKER_PORT, "/collect")).toEqual(before);
  });

  it.each([
    ["with a trailing slash", "/base/"],
    ["without a trailing slash", "/base"],
    ["nested", "/a/b/"],
  ])("joins ORIGIN_URL's base path (%s) before the request's path", async (_name, basePath) => {
    const s = await insertSession();
    const res = await callWorker(
      "/orders?page=2",
      { headers: auth(s.token) },
      { ...gateway, ORIGIN_URL: `${ORIGIN}${basePath}` },
    );
    expect(res.status).toBe(200);
    const echoed = (await res.json()) as Echoed;
    expect(echoed.url).toBe(`${basePath.replace(/\/$/, "")}/orders?page=2`);
    // The signature covers the path the origin received.
    expectIdentity(echoed, s);
  });

  it("keeps a request under the base path even when it climbs with ..", async () => {
    const s = await insertSession();
    // The runtime resolves literal dot segments before the Worker sees the URL: /../x is /x.
    const res = await callWorker(
      "/../../admin",
      { headers: auth(s.token) },
      { ...gateway, ORIGIN_URL: `${ORIGIN}/base/` },
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as Echoed).url).toBe("/base/admin");
  });

  it("refuses a body over GATEWAY_MAX_BODY_BYTES with 413, declared or not, and forwards one at the limit", async () => {
    const s = await insertSession();
    const limited = { ...gateway, GATEWAY_MAX_BODY_BYTES: "1024" };
    const path = `/upload-${crypto.randomUUID()}`;
    const declared = await callWorker(
      path,
      { method: "POST", headers: auth(s.token), body: "x".repeat(1025) },
      limited,
    );
    expect(declared.status).toBe(413);
    expect(await declared.json()).toEqual({
      error: "payload_too_large",
      error_description: "The request body is larger than 1024 bytes (GATEWAY_MAX_BODY_BYTES).",
    });
    // A streamed body has no Content-Length: it is cut off once it passes the limit.
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(new Uint8Array(300));
        controller.close();
      },
    });
    const streamed = await callWorker(path, { method: "POST", headers: auth(s.token), body: stream }, limited);
    expect(streamed.status).toBe(413);
    expect(await originSaw(path)).toBe(0);
    const atLimit = await callWorker(path, { method: "POST", headers: auth(s.token), body: "x".repeat(1024) }, limited);
    expect(atLimit.status).toBe(200);
    expect(verifySignature((await atLimit.json()) as Echoed)).toBe(true);
  });
});
