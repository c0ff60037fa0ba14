/**
 * `npm run keys:assertion`: a new Ed25519 key pair for the signed identity assertion, as a private
 * JWK on one line, for `wrangler secret put ASSERTION_SIGNING_KEY` (paste it at the prompt; never
 * put it in a command line or wrangler.toml). `-- --p256` makes a P-256 key instead. The public
 * half is what /.well-known/jwks.json will publish.
 */
import { exportJWK, generateKeyPair } from "jose";

const alg = process.argv.includes("--p256") ? "ES256" : "EdDSA";
const { privateKey } = await generateKeyPair(alg, { crv: alg === "EdDSA" ? "Ed25519" : "P-256", extractable: true });
const jwk = await exportJWK(privateKey);
process.stdout.write(
  `${JSON.stringify({ ...jwk, kid: `${new Date().toISOString().slice(0, 10)}-${crypto.randomUUID().slice(0, 8)}` })}\n`,
);
