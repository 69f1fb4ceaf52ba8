// Instance data as a collapsible tree (native <details>, so keyboard and screen readers work)
// and a path-by-path diff between two documents (the rerun preview).
import type { Json } from "./api";
import { h } from "./dom";

function isObject(value: Json): value is { [key: string]: Json } {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function scalar(value: Json): HTMLElement {
  const kind = value === null ? "null" : typeof value;
  return h("span", { class: `json-${kind}` }, JSON.stringify(value));
}

export function jsonTree(value: Json, label = "data", depth = 0): HTMLElement {
  if (!isObject(value) && !Array.isArray(value)) {
    return h("div", { class: "json-leaf" }, h("span", { class: "json-key" }, `${label}: `), scalar(value));
  }
  const entries: [string, Json][] = Array.isArray(value)
    ? value.map((item, i) => [String(i), item])
    : Object.entries(value);
  const size = Array.isArray(value) ? `[${entries.length}]` : `{${entries.length}}`;
  const details = h(
    "details",
    { class: "json-node", open: depth < 2 },
    h("summary", {}, h("span", { class: "json-key" }, label), " ", h("span", { class: "json-size" }, size)),
    ...entries.map(([key, item]) => jsonTree(item, key, depth + 1)),
  );
  return details;
}

export interface Change {
  path: string;
  kind: "added" | "removed" | "changed";
  before?: Json;
  after?: Json;
}

export function diff(before: Json, after: Json, path = ""): Change[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => {
      const at = path ? `${path}.${key}` : key;
      if (!(key in after)) return [{ path: at, kind: "removed", before: before[key] } as Change];
      if (!(key in before)) return [{ path: at, kind: "added", after: after[key] } as Change];
      return diff(before[key], after[key], at);
    });
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  return [{ path: path || "(root)", kind: "changed", before, after }];
}

export function diffTable(changes: Change[]): HTMLElement {
  if (changes.length === 0) return h("p", { class: "diff-none" }, "Same data as the source.");
  return h(
    "table",
    { class: "diff" },
    h("caption", {}, "Data of the new instance against the source"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Path"), h("th", { scope: "col" }, "Change"),
      h("th", { scope: "col" }, "Source"), h("th", { scope: "col" }, "New"))),
    h(
      "tbody",
      {},
      changes.map((change) =>
        h(
          "tr",
          { class: `diff-${change.kind}` },
          h("td", {}, h("code", {}, change.path)),
          h("td", {}, change.kind),
          h("td", {}, change.before === undefined ? "" : h("code", {}, JSON.stringify(change.before))),
          h("td", {}, change.after === undefined ? "" : h("code", {}, JSON.stringify(change.after))),
        ),
      ),
    ),
  );
}

/** Parse an editor's text as a JSON object, or say why not. */
export function parseObject(text: string): { value?: { [key: string]: Json }; error?: string } {
  try {
    const value: unknown = JSON.parse(text || "{}");
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      return { error: "The body must be a JSON object." };
    }
    return { value: value as { [key: string]: Json } };
  } catch (error) {
    return { error: `Not JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** The RFC 7396 merge patch that turns ``before`` into ``after`` (null removes a member). */
export function mergePatch(before: Json, after: Json): Json {
  if (!isObject(before) || !isObject(after)) return after;
  const patch: { [key: string]: Json } = {};
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  for (const [key, value] of Object.entries(after)) {
    if (!(key in before)) patch[key] = value;
    else if (JSON.stringify(before[key]) !== JSON.stringify(value)) {
      patch[key] = isObject(before[key]) && isObject(value) ? mergePatch(before[key], value) : value;
    }
  }
  return patch;
}
