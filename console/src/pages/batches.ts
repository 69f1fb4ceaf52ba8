// Batches over the current search: a dry-run count first, then the batch with its progress.
import { getJson, postJson, query, type Batch, type BatchItem, type JsonObject } from "../api";
import { clear, errorText, h, link, short, stateBadge, statusLine, when } from "../dom";
import { parseObject } from "../json";
import { generation, navigate } from "../router";
import { ensureWorkspace } from "../workspace";
import { searchParams } from "./instances";

const KEY = "procflow.batches";

function remembered(): { id: string; workspace: string; operation: string }[] {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) ?? "[]") as { id: string; workspace: string; operation: string }[];
  } catch {
    return [];
  }
}

function remember(id: string, workspace: string, operation: string): void {
  sessionStorage.setItem(KEY, JSON.stringify([{ id, workspace, operation }, ...remembered()].slice(0, 50)));
}

export async function batchesPage(main: HTMLElement): Promise<void> {
  const id = h("input", { id: "batch-id", type: "text", required: true }) as HTMLInputElement;
  const open = h("form", { class: "row" }, h("label", { for: "batch-id" }, "Batch id"), id, h("button", { type: "submit" }, "Open"));
  open.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate(`/batches/${id.value.trim()}`);
  });
  const mine = remembered();
  clear(main, h("h1", {}, "Batches"),
    h("p", {}, "Create a batch from a search on the ", link("/instances", "instances page"), " (“Batch over this search”)."),
    open,
    h("h2", {}, "Created in this tab"),
    mine.length ? h("ul", {}, mine.map((b) => h("li", {}, link(`/batches/${b.id}`, short(b.id)), ` ${b.operation}`))) : h("p", {}, "None yet."));
  await Promise.resolve();
}

export async function newBatchPage(main: HTMLElement, search: URLSearchParams): Promise<void> {
  const workspace = await ensureWorkspace();
  const filter = searchParams(search);
  const operation = h("select", { id: "batch-operation" },
    ["copyDataFrom", "retry", "terminate"].map((name) => h("option", { value: name }, name))) as HTMLSelectElement;
  const process = h("input", { id: "batch-process", type: "text", value: typeof filter.processName === "string" ? filter.processName : "" }) as HTMLInputElement;
  const body = h("textarea", { id: "batch-body", rows: 4, class: "code", spellcheck: "false" }) as HTMLTextAreaElement;
  body.value = "{}";
  const result = h("div", { id: "batch-count" });
  const notice = statusLine();
  const create = h("button", { type: "button", id: "batch-create", class: "primary", disabled: true }, "Create the batch");
  const form = h("form", { class: "card" },
    h("p", {}, "Selection: ", h("code", {}, JSON.stringify(filter))),
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: "batch-operation" }, "Operation"), operation),
      h("div", { class: "field" }, h("label", { for: "batch-process" }, "Process to start (copyDataFrom)"), process)),
    h("div", { class: "field" }, h("label", { for: "batch-body" }, "Body: merged on each copy (copyDataFrom), the data patch (retry), {\"reason\": …} (terminate)"), body),
    h("div", { class: "row" }, h("button", { type: "submit", id: "batch-dry-run" }, "Count (dry run)"), create),
    notice);
  clear(main, h("h1", {}, "New batch"), form, result);
  if (!workspace) return void (notice.textContent = "No workspace: pick one in the header.");
  if (Object.keys(filter).length === 0) notice.textContent = "The search has no filter: search first.";

  const request = (dryRun: boolean): JsonObject => {
    const parsed = parseObject(body.value);
    if (parsed.error) throw new Error(parsed.error);
    const answer: JsonObject = { operation: operation.value, filter, dryRun };
    if (Object.keys(parsed.value ?? {}).length) answer.body = parsed.value ?? null;
    if (operation.value === "copyDataFrom" && process.value.trim()) answer.processName = process.value.trim();
    return answer;
  };
  for (const field of [operation, process, body]) field.addEventListener("input", () => create.setAttribute("disabled", ""));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void (async () => {
      try {
        const answer = await postJson<{ total: number; samples: { sourceUuid?: string; uuid?: string }[] }>(
          `/api/runtime/wks/${workspace}/batches`, request(true));
        clear(result, h("h2", {}, "Dry run"), h("p", { id: "dry-total" }, `${answer.total} instance(s) would be in the batch.`));
        notice.textContent = "Nothing was changed. Create the batch to apply it.";
        if (answer.total > 0) create.removeAttribute("disabled");
      } catch (error) {
        notice.textContent = `Dry run failed: ${errorText(error)}`;
      }
    })();
  });
  create.addEventListener("click", () => {
    void (async () => {
      try {
        const batch = await postJson<Batch>(`/api/runtime/wks/${workspace}/batches`, request(false));
        remember(batch.id, workspace, batch.operation);
        navigate(`/batches/${batch.id}`);
      } catch (error) {
        notice.textContent = `Create failed: ${errorText(error)}`;
      }
    })();
  });
}

export async function batchPage(main: HTMLElement, id: string): Promise<void> {
  const workspace = remembered().find((b) => b.id === id)?.workspace ?? (await ensureWorkspace());
  const progress = h("progress", { id: "batch-progress", max: 1, value: 0, "aria-label": "Batch progress" }) as HTMLProgressElement;
  const summary = h("p", { id: "batch-summary", role: "status", "aria-live": "polite" }, "Loading…");
  const items = h("div", { class: "table-wrap" });
  const cancel = h("button", { type: "button", hidden: true }, "Cancel the batch");
  clear(main, h("h1", {}, "Batch ", h("code", {}, short(id))), progress, summary, cancel, h("h2", {}, "Items"), items);
  const base = `/api/runtime/wks/${workspace}/batches/${id}`;
  cancel.addEventListener("click", () => void postJson(`${base}/cancel`).then(() => void load()).catch((e: unknown) => (summary.textContent = errorText(e))));
  const mine = generation();
  const load = async (): Promise<void> => {
    const batch = await getJson<Batch>(base);
    const page = await getJson<{ content: BatchItem[] }>(`${base}/items${query({ limit: "500" })}`);
    progress.max = Math.max(batch.total, 1);
    progress.value = batch.done + batch.failed;
    clear(summary, stateBadge(batch.state), ` ${batch.operation}: ${batch.done} done, ${batch.failed} failed of ${batch.total} · created ${when(batch.createdAt)}`);
    cancel.hidden = batch.state !== "RUNNING";
    clear(items, h("table", { class: "list" },
      h("caption", { class: "visually-hidden" }, "Batch items"),
      h("thead", {}, h("tr", {}, ["#", "Source", "State", "Result", "Error"].map((n) => h("th", { scope: "col" }, n)))),
      h("tbody", {}, page.content.map((item) => h("tr", {},
        h("td", {}, String(item.seq)),
        h("td", {}, link(`/instances/${item.sourceUuid}`, short(item.sourceUuid))),
        h("td", {}, stateBadge(item.state)),
        h("td", {}, item.resultUuid ? link(`/instances/${item.resultUuid}`, short(item.resultUuid), { "data-result": item.resultUuid }) : ""),
        h("td", {}, item.error ? JSON.stringify(item.error) : ""))))));
    if (batch.state === "RUNNING" && generation() === mine) window.setTimeout(() => void load().catch(() => undefined), 1000);
  };
  try {
    await load();
  } catch (error) {
    summary.textContent = errorText(error);
  }
}
