// The wrangler.toml [alias] target for "zod/v4/core". hono-openapi converts schemas through
// @standard-community/standard-json, which does `await import("zod/v4/core")` only to call
// toJSONSchema; a dynamic import keeps that whole namespace in the bundle (every zod locale,
// about 60 KiB gzip). The same function imported from "zod" tree-shakes.
export { toJSONSchema } from "zod";
