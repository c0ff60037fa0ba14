/** A database URL fit to print: the password (in the authority or a `password` parameter) removed. */
export function redactPassword(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    url.password = "";
    url.searchParams.delete("password");
    return url.toString();
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}
