// Two misuses the generated types must refuse (tests/api/test_generated_clients.py).
import type { components } from "./procflow-api";

export function misuse(page: components["schemas"]["SearchPage"], started: components["schemas"]["StartResponse"]): void {
  const cursor: number = page.nextCursor; // the server answers a string cursor
  const uuid: number = started.uuid; // uuids are strings
  void cursor;
  void uuid;
}
