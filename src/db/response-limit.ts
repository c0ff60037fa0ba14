import { neonConfig } from "@neondatabase/serverless";

/**
 * The most the Worker reads of one answer from the database. Neon never sends more than its 10 MiB
 * response limit plus the row that crossed it (docs/neon-contract.md), and our rows are under a
 * kilobyte: anything longer is not Neon's answer to us but something on the way (a proxy's page,
 * a stream that never ends), and reading it whole could take more than the isolate's 128 MB.
 */
export const RESPONSE_LIMIT_BYTES = 11 * 1024 * 1024;

/**
 * Marks a request as ours in the fetch options the driver passes through, so the limit applies
 * to our statements only and not to any other `neon()` client an embedding Worker runs.
 */
export const RESPONSE_LIMIT_OPTION = "sessionGateResponseLimitBytes";

/**
 * Installs (once per isolate) a fetch for the driver that reads the answers of marked requests
 * up to their limit and fails past it. The driver has one global fetch function: whatever was
 * set before keeps serving every request, ours included.
 */
export function installResponseLimit(): void {
  if (installed) return;
  installed = true;
  const underlying: typeof fetch = neonConfig.fetchFunction ?? ((input, init) => fetch(input, init));
  neonConfig.fetchFunction = async (input: string | URL | Request, init?: RequestInit) => {
    const limit = (init as Record<string, unknown> | undefined)?.[RESPONSE_LIMIT_OPTION];
    const response = await underlying(input, init);
    return typeof limit === "number" ? readWithinLimit(response, limit) : response;
  };
}

let installed = false;
const DIGITS = /^\d+$/;

/** The response with its body read whole, or an error as soon as it passes `limitBytes`. */
async function readWithinLimit(response: Response, limitBytes: number): Promise<Response> {
  const tooLarge = () => new Error(`the database's answer is over ${limitBytes} bytes`);
  // A declared length within the limit bounds the body already (the runtime reads no byte past
  // it), so the answer goes to the driver untouched, its body not even looked at (workerd makes
  // the stream object on first access): reading it here chunk by chunk cost a third of a
  // millisecond of CPU per check. Only an answer of unknown length is counted as it arrives.
  const declared = response.headers.get("content-length");
  if (declared !== null && DIGITS.test(declared) && Number(declared) <= limitBytes) return response;
  if (response.body === null) return response;
  if (declared !== null && Number(declared) > limitBytes) {
    await response.body.cancel();
    throw tooLarge();
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    // A deadline on the request aborts this read too: a body that drips is cut like a late answer.
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > limitBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return new Response(new Blob(chunks), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
