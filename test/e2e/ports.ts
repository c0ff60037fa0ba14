/**
 * The fixed addresses written into docs/proxies/*: the tests start everything exactly there, so
 * the published files run unchanged.
 */
export const PORTS = {
  sessionGate: 8787,
  origin: 9000,
  nginx: 8080,
  caddy: 8081,
} as const;
