import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/*
 * The published API document, held to every real response of the suite: each response the tests
 * get from the Worker (test/helpers/worker.ts sends a copy here) must have a status its operation
 * documents, the headers it marks required, and a body that validates against its schema; and on a
 * full run, every documented status of every operation must have been seen at least once.
 */

export interface RecordedResponse {
  method: string;
  path: string;
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface Operation {
  responses: Record<string, ResponseObject>;
}
interface ResponseObject {
  $ref?: string;
  headers?: Record<string, { required?: boolean }>;
  content?: Record<string, { schema?: unknown }>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, ResponseObject> };
}

/** Collects responses over HTTP (from inside workerd) until `check()` is called. */
export async function startResponseLog(): Promise<{ server: Server; port: number; responses: RecordedResponse[] }> {
  const responses: RecordedResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      responses.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as RecordedResponse);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, responses };
}

/** Problems found; with `complete`, also every documented status never seen. */
export function checkResponses(responses: RecordedResponse[], options: { complete: boolean }): string[] {
  const documentResponse = responses.find((r) => r.path === "/openapi.json" && r.status === 200);
  if (documentResponse === undefined) return options.complete ? ["GET /openapi.json was never fetched"] : [];
  const document = JSON.parse(documentResponse.body) as OpenApiDocument;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(document, "openapi");

  const operations = Object.entries(document.paths).flatMap(([template, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      template,
      method: method.toUpperCase(),
      pattern: new RegExp(`^${template.replace(/[.+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+")}$`),
      operation,
      seen: new Set<string>(),
    })),
  );
  const problems = new Set<string>();
  for (const r of responses) {
    // HEAD is GET without a body.
    const method = r.method === "HEAD" ? "GET" : r.method;
    const match = operations.find((o) => o.method === method && o.pattern.test(r.path));
    // Paths the document does not list belong to gateway mode or the reserved 404/405 answers.
    if (match === undefined) continue;
    const label = `${method} ${match.template} ${r.status}`;
    match.seen.add(String(r.status));
    const pointer = `#/paths/${pointerToken(match.template)}/${method.toLowerCase()}/responses/${r.status}`;
    let described = match.operation.responses[String(r.status)];
    if (described === undefined) {
      problems.add(`${label}: status not documented`);
      continue;
    }
    let schemaRef = `openapi${pointer}/content/application~1json/schema`;
    if (described.$ref !== undefined) {
      const name = described.$ref.split("/").pop() ?? "";
      described = document.components.responses[name] ?? {};
      schemaRef = `openapi#/components/responses/${name}/content/application~1json/schema`;
    }
    for (const [name, header] of Object.entries(described.headers ?? {})) {
      if (header.required && r.headers[name.toLowerCase()] === undefined) problems.add(`${label}: no ${name} header`);
    }
    if (described.content?.["application/json"] === undefined) {
      if (r.body !== "") problems.add(`${label}: a body where none is documented`);
      continue;
    }
    if (r.method === "HEAD") continue;
    if (!(r.headers["content-type"] ?? "").startsWith("application/json")) {
      problems.add(`${label}: content-type ${r.headers["content-type"]}, documented application/json`);
      continue;
    }
    const validate = ajv.getSchema(schemaRef);
    if (validate === undefined) {
      problems.add(`${label}: no schema at ${schemaRef}`);
    } else if (!validate(JSON.parse(r.body))) {
      problems.add(`${label}: ${ajv.errorsText(validate.errors)}; body ${r.body.slice(0, 300)}`);
    }
  }
  if (options.complete) {
    for (const o of operations) {
      for (const status of Object.keys(o.operation.responses)) {
        if (!o.seen.has(status))
          problems.add(`${o.method} ${o.template} ${status}: documented, never seen in the suite`);
      }
    }
  }
  return [...problems];
}

/** A path as a JSON pointer token: `/` is `~1`. */
function pointerToken(path: string): string {
  return path.replaceAll("~", "~0").replaceAll("/", "~1");
}
