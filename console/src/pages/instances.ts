import { getJson, query, type Summary } from "../api";
import { clear, errorText, h, link, short, stateBadge, statusLine, when } from "../dom";
import { generation, navigate } from "../router";
import { ensureWorkspace } from "../workspace";

export const STATES = ["CREATED", "STARTED", "ON_HOLD", "FINISHED", "FAILED", "TERMINATED", "DISMISSED", "EXPIRED"];
// lineageRootUuid follows copies (reruns); parent and root follow call activities.
const FILTERS = ["processName", "state", "createdFrom", "createdTo", "lineageRootUuid",
  "parentProcessInstanceUuid", "rootProcessInstanceUuid"];

/** The search parameters of the instances page, as the API's search takes them. */
export function searchParams(search: URLSearchParams): Record<string, string | string[]> {
  const params: Record<string, string | string[]> = {};
  for (const name of FILTERS) {
    const values = search.getAll(name).filter(Boolean);
    if (values.length === 0) continue;
    params[name] = name === "state" ? values : values[0];
  }
  for (const name of ["createdFrom", "createdTo"]) {
    const value = params[name];
    // <input type=datetime-local> has no zone: the operator means local time.
    if (typeof value === "string" && !/[zZ]|[+-]\d\d:\d\d$/.test(value)) {
      params[name] = new Date(value).toISOString();
    }
  }
  return params;
}

export async function instancesPage(main: HTMLElement, search: URLSearchParams): Promise<void> {
  const workspace = await ensureWorkspace();
  if (!workspace) {
    clear(main, h("h1", {}, "Instances"), h("p", { class: "error" }, "No workspace: pick one in the header."));
    return;
  }
  const input = (name: string, label: string, type = "text") =>
    h("div", { class: "field" }, h("label", { for: `f-${name}` }, label),
      h("input", { id: `f-${name}`, name, type, value: search.get(name) ?? "" }));
  const chosen = new Set(search.getAll("state"));
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Search instances" },
    input("processName", "Process"),
    h("fieldset", { class: "states" }, h("legend", {}, "State"),
      STATES.map((state) => h("label", { class: "check" },
        h("input", { type: "checkbox", name: "state", value: state, checked: chosen.has(state) }), state))),
    input("createdFrom", "Created from", "datetime-local"),
    input("createdTo", "Created to", "datetime-local"),
    input("lineageRootUuid", "Lineage root (copies)"),
    input("parentProcessInstanceUuid", "Called by (parent)"),
    input("rootProcessInstanceUuid", "Call tree root"),
    h("div", { class: "field buttons" }, h("button", { type: "submit" }, "Search"),
      h("label", { class: "check" }, h("input", { type: "checkbox", id: "live", checked: search.get("live") !== "off" }), "Live refresh")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form as HTMLFormElement);
    const next = new URLSearchParams();
    for (const [name, value] of data.entries()) if (value) next.append(name, String(value));
    navigate(`/instances?${next.toString()}`);
  });
  const counts = h("ul", { class: "counts", "aria-label": "Counts by state" });
  const table = h("div", { class: "table-wrap" });
  const status = statusLine();
  const more = h("button", { type: "button", hidden: true }, "Next page");
  const batchLink = link(`/batches/new?${search.toString()}`, "Batch over this search…", { class: "button" });
  clear(main, h("h1", {}, "Instances"), form, h("div", { class: "row" }, counts, batchLink), table, more, status);

  const params = searchParams(search);
  const base = `/api/runtime/wks/${workspace}/process-instances`;
  let cursor: string | null = null;
  const rows: Summary[] = [];

  const loadPage = async (reset: boolean) => {
    const page = await getJson<{ content: Summary[]; nextCursor: string | null }>(
      base + query({ ...params, limit: "50", cursor: reset ? null : cursor }),
    );
    if (reset) rows.length = 0;
    rows.push(...page.content);
    cursor = page.nextCursor;
    more.hidden = cursor === null;
    clear(table, instanceTable(rows));
  };
  const loadCounts = async () => {
    // Counts of every state under the other filters (the state filter picks the rows).
    const { state: _state, ...others } = params;
    const answer = await getJson<{ counts: Record<string, number> }>(`${base}/counts${query(others)}`);
    clear(counts, STATES.map((state) => h("li", {}, stateBadge(state), ` ${answer.counts[state] ?? 0}`)));
  };
  more.addEventListener("click", () => void loadPage(false).catch((e: unknown) => (status.textContent = errorText(e))));
  try {
    await Promise.all([loadPage(true), loadCounts()]);
    status.textContent = `${rows.length} shown${cursor ? ", more on the next page" : ""}.`;
  } catch (error) {
    status.textContent = errorText(error);
    return;
  }
  const mine = generation();
  const live = main.querySelector<HTMLInputElement>("#live");
  const tick = () => {
    if (generation() !== mine) return;
    if (live?.checked && cursor === null) {
      void Promise.all([loadPage(true), loadCounts()]).catch(() => undefined);
    }
    window.setTimeout(tick, 3000);
  };
  window.setTimeout(tick, 3000);
}

export function instanceTable(rows: Summary[]): HTMLElement {
  if (rows.length === 0) return h("p", {}, "No instance matches.");
  return h(
    "table",
    { class: "list" },
    h("caption", { class: "visually-hidden" }, "Instances"),
    h("thead", {}, h("tr", {}, ["Id", "Instance", "Process", "State", "Created", "Updated", "Called by", "Copied from"].map(
      (name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows.map((row) => h("tr", {},
      h("td", {}, String(row.processInstanceId)),
      h("td", {}, link(`/instances/${row.uuid}`, short(row.uuid), { "aria-label": `Instance ${row.uuid}`, "data-uuid": row.uuid })),
      h("td", {}, row.processDefinitionName),
      h("td", {}, stateBadge(row.state)),
      h("td", {}, when(row.createdAt)),
      h("td", {}, when(row.updatedAt)),
      h("td", {}, row.parentProcessInstanceUuid
        ? link(`/instances/${row.parentProcessInstanceUuid}`, short(row.parentProcessInstanceUuid), { "data-parent": row.parentProcessInstanceUuid })
        : ""),
      h("td", {}, row.copiedFromUuid ? link(`/instances/${row.copiedFromUuid}`, short(row.copiedFromUuid)) : ""),
    ))),
  );
}
