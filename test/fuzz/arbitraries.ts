import fc from "fast-check";

/*
 * Input generators for the property tests: structured near-misses of every input surface (the
 * interesting cases sit next to the valid ones) mixed with plain noise.
 */

const B64TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";

/**
 * One character a header field value may carry: tab, space, visible ASCII. (obs-text bytes work
 * too, but workerd warns about each; validate.test.ts has a non-ASCII example.)
 */
export const headerChar = fc.oneof(
  { weight: 9, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constant("\t") },
);

export const headerValue = (maxLength = 64) => fc.string({ unit: headerChar, maxLength });

const b64Char = fc.constantFrom(...B64TOKEN_CHARS);

/** A token with the b64token syntax, lengths clustered around the documented bounds (16 and 512). */
export const wellFormedToken = fc
  .tuple(
    fc.oneof(fc.integer({ min: 14, max: 18 }), fc.integer({ min: 19, max: 64 }), fc.integer({ min: 508, max: 514 })),
    fc.integer({ min: 0, max: 2 }),
  )
  .chain(([length, padding]) =>
    fc
      .string({ unit: b64Char, minLength: Math.max(1, length - padding), maxLength: Math.max(1, length - padding) })
      .map((body) => body + "=".repeat(padding)),
  );

/** A token-like string with one character the syntax does not allow somewhere in it. */
export const tokenWithBadChar = fc
  .tuple(
    fc.string({ unit: b64Char, minLength: 16, maxLength: 40 }),
    fc.constantFrom(" ", "\t", ",", ";", '"', "%", "\\", "=", "!", "@", "#", "*", "(", "<", "|", ":"),
    fc.nat(),
  )
  .map(([body, bad, at]) => {
    const i = at % (body.length + 1);
    return body.slice(0, i) + bad + body.slice(i);
  });

/** A small edit of one of `tokens`: the classic near-miss of a real credential. */
export function mutatedToken(tokens: readonly string[]) {
  return fc
    .tuple(
      fc.constantFrom(...tokens),
      fc.constantFrom("replace", "insert", "delete", "swapcase", "truncate", "double", "pad"),
      fc.nat(),
      b64Char,
    )
    .map(([token, op, at, c]) => {
      const i = at % token.length;
      switch (op) {
        case "replace":
          return token.slice(0, i) + c + token.slice(i + 1);
        case "insert":
          return token.slice(0, i) + c + token.slice(i);
        case "delete":
          return token.slice(0, i) + token.slice(i + 1);
        case "swapcase": {
          const ch = token[i] ?? "";
          const swapped = ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase();
          return token.slice(0, i) + swapped + token.slice(i + 1);
        }
        case "truncate":
          return token.slice(0, i);
        case "double":
          return token + token;
        default:
          return `${token}=`;
      }
    });
}

/**
 * An Authorization field value: scheme, separator, token and trailer each right or slightly wrong,
 * the token drawn from `tokens` (issued, ended), their near-misses, fresh well-formed ones or
 * garbage; plus plain noise.
 */
export function authorizationValue(tokens: readonly string[]) {
  const scheme = fc.oneof(
    { weight: 6, arbitrary: fc.mixedCase(fc.constant("bearer")) },
    {
      weight: 2,
      arbitrary: fc.constantFrom("Basic", "Token", "Bearer:", "Bearer,", "Bear", "Bearerr", "", "Digest", "MAC"),
    },
    { weight: 1, arbitrary: headerValue(8) },
  );
  const separator = fc.oneof(
    { weight: 6, arbitrary: fc.string({ unit: fc.constant(" "), minLength: 1, maxLength: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom("", "\t", " \t", ",", ":", " , ", "=") },
  );
  const token = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...tokens) },
    { weight: 3, arbitrary: mutatedToken(tokens) },
    { weight: 3, arbitrary: wellFormedToken },
    { weight: 2, arbitrary: tokenWithBadChar },
    { weight: 1, arbitrary: headerValue(40) },
  );
  const trailer = fc.oneof(
    { weight: 8, arbitrary: fc.constant("") },
    { weight: 1, arbitrary: fc.constantFrom(" ", "\t", ", Bearer AAAAAAAAAAAAAAAAAAAA", " extra", ",", ";", "==") },
  );
  const outerSpace = fc.constantFrom("", "", "", " ", "\t", "  ");
  return fc.oneof(
    {
      weight: 9,
      arbitrary: fc.tuple(outerSpace, scheme, separator, token, trailer, outerSpace).map((p) => p.join("")),
    },
    { weight: 1, arbitrary: headerValue(80) },
  );
}

/** A UUID in any case, a near-miss of one, or noise: the `:id` path parameter. */
export const sessionIdLike = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.uuid(), fc.boolean()).map(([u, upper]) => (upper ? u.toUpperCase() : u)) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.uuid(), fc.nat(), fc.constantFrom("g", "-", "", "0", " ", "'", "%", "/", "Z"))
      .map(([u, at, c]) => u.slice(0, at % 36) + c + u.slice((at % 36) + 1)),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom("current", "00000000-0000-0000-0000-000000000000", "null", "' or 1=1 --") },
);

/**
 * A listing cursor: base64url of "<timestamp>|<uuid>" with each timestamp field a random run of
 * digits (so impossible dates like Feb 30 or year 0 come up), a near-miss of that, or noise.
 */
export const cursorLike = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 1, 1970, 2024, 9999)),
        fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 19 })),
        fc.oneof(fc.integer({ min: 28, max: 31 }), fc.integer({ min: 0, max: 39 })),
        fc.oneof(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 29 })),
        fc.oneof(fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 69 })),
        fc.oneof(fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 69 })),
        fc.integer({ min: 0, max: 999_999 }),
        fc.oneof({ weight: 4, arbitrary: fc.uuid() }, { weight: 1, arbitrary: fc.string({ maxLength: 36 }) }),
      )
      .map(([y, mo, d, h, mi, s, us, id]) => {
        const p = (n: number, w: number) => String(n).padStart(w, "0");
        return base64url(`${p(y, 4)}-${p(mo, 2)}-${p(d, 2)}T${p(h, 2)}:${p(mi, 2)}:${p(s, 2)}.${p(us, 6)}Z|${id}`);
      }),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }).map(base64url) },
  { weight: 1, arbitrary: fc.string({ maxLength: 220 }) },
);

export function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** A query-string or header value for a positive-integer parameter: numbers in many spellings. */
export const integerLike = fc.oneof(
  fc.integer({ min: -5, max: 200 }).map(String),
  fc.constantFrom("", " ", "0", "1", "2147483647", "2147483648", "99999999999", "1e3", "0x10", "1.0", "1.5", "-0"),
  fc.constantFrom(" 7", "7 ", "07", "+7", "Infinity", "NaN", "1_000", "١٢"),
  fc.string({ maxLength: 12 }),
);

/** A JSON request body as it goes on the wire: a content type (or none) and the text. */
export interface RawBody {
  contentType: string | undefined;
  text: string;
}

const jsonContentType = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "application/vnd.api+json",
);
// Only text/* types besides "none": workerd warns on every .text() of any other type, and the
// service reads every body the same way, so the type's name is all that varies.
const otherContentType = fc.constantFrom(undefined, "text/plain", "text/csv; charset=utf-8", "text/json");

/** `value` serialized, under a JSON content type mostly; sometimes noise, truncation or 16 KiB+. */
export function rawBody<T>(value: fc.Arbitrary<T>): fc.Arbitrary<RawBody> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.tuple(jsonContentType, value).map(([contentType, v]) => json(contentType, v)) },
    { weight: 1, arbitrary: fc.tuple(otherContentType, value).map(([contentType, v]) => json(contentType, v)) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          jsonContentType,
          fc.oneof(
            fc.string({ maxLength: 40 }),
            value.map((v) => (JSON.stringify(v) ?? "").slice(0, -1)),
            fc.constantFrom(
              "",
              " ",
              "null",
              "[]",
              "{}",
              "{",
              '{"a":1}{"b":2}',
              "\u0000",
              "1e999",
              `"${"x".repeat(17_000)}"`,
            ),
          ),
        )
        .map(([contentType, text]): RawBody => ({ contentType, text })),
    },
  );
}

function json(contentType: string | undefined, value: unknown): RawBody {
  return { contentType, text: JSON.stringify(value) ?? "" };
}
