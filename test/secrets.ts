/**
 * Every secret value the test suite configures, in one place: the tests use them, and the
 * no-secrets reporter (test/reporters/no-secrets.ts) fails the run when any of them, or the
 * stand-in's per-run password, appears anywhere in the suite's output. Constants only, so that
 * both Node and workerd can import this.
 */
export const TEST_SECRETS = {
  adminApiKey: "test-admin-key-0123456789abcdefghijklmnop",
  gatewaySigningKey: "gateway-signing-key-0123456789abcdef0123",
  outageGatewaySigningKey: "gateway-signing-key-outage-0123456789abcdef",
  // The values test/worker/config.test.ts hides inside configurations that cannot work.
  configPassword: "pw-Secret-7f3a9c",
  configAdminApiKey: "admin-Secret-Key-0123456789abcdefghij",
  configGatewaySigningKey: "gateway-Secret-Key-0123456789abcdefghij",
} as const;

/** The environment variable through which vitest.config.ts hands the stand-in's password to the run. */
export const STANDIN_SECRET_VARIABLE = "SESSION_GATE_TEST_STANDIN_SECRET";

/** The environment variable through which vitest.config.ts hands the Worker role's password to the run. */
export const WORKER_PASSWORD_VARIABLE = "SESSION_GATE_TEST_WORKER_PASSWORD";
