import { ApiError, getJson, getText, postJson, type AuditEvent, type ChildInstance, type ExternalTask, type Json, type Lineage, type Status, type Summary } from "../api";
import { Diagram, loopHosts, waitContent } from "../diagram";
import { clear, errorText, h, link, short, stateBadge, statusLine, when } from "../dom";
import { jsonTree, parseObject } from "../json";
import { generation, navigate } from "../router";

interface Loaded {
  status: Status;
  data: Json;
  audit: AuditEvent[];
  lineage: Lineage;
  xml: string;
  tasks: ExternalTask[];
}

async function load(uuid: string): Promise<Loaded> {
  const base = `/api/runtime/process/${uuid}`;
  const [status, data, audit, lineage, xml, tasks] = await Promise.all([
    getJson<Status>(`${base}/status`),
    getJson<Json>(`${base}/data`),
    getJson<{ events: AuditEvent[] }>(`${base}/audit`),
    getJson<Lineage>(`${base}/lineage`),
    getText(`${base}/diagram`, "application/xml"),
    getJson<{ content: ExternalTask[] }>(`${base}/external-tasks`),
  ]);
  return { status, data, audit: audit.events, lineage, xml, tasks: tasks.content };
}

export async function instancePage(main: HTMLElement, uuid: string): Promise<void> {
  clear(main, h("h1", {}, "Instance ", h("code", {}, short(uuid))), h("p", { role: "status" }, "Loading…"));
  let loaded: Loaded;
  try {
    loaded = await load(uuid);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return;
    clear(main, h("h1", {}, "Instance"), h("p", { class: "error", role: "alert" }, errorText(error)));
    return;
  }
  const { status, data, audit, lineage, xml, tasks } = loaded;
  const canvas = h("div", { class: "diagram", id: "diagram" });
  const notice = statusLine();
  const refresh = () => void instancePage(main, uuid);
  clear(
    main,
    header(status),
    notice,
    h("section", { "aria-labelledby": "diagram-title" }, h("h2", { id: "diagram-title" }, "Diagram"), canvas,
      h("p", { class: "legend" }, h("span", { class: "key key-active" }, "active token"),
        h("span", { class: "key key-incident" }, "incident"), h("span", { class: "key key-visited" }, "path taken"))),
    h("div", { class: "columns" },
      h("div", {},
        actionsSection(status, notice, refresh),
        incidentsSection(status, notice, refresh),
        operationsSection(status, notice, refresh),
        waitsSection(status, audit, tasks),
        lineageSection(status, lineage)),
      h("div", {},
        h("section", { "aria-labelledby": "data-title" }, h("h2", { id: "data-title" }, "Data"), h("div", { class: "json" }, jsonTree(data))),
        auditSection(audit))),
  );
  const diagram = new Diagram(canvas);
  try {
    await diagram.show(xml);
    diagram.shadePath(audit);
    diagram.overlayInstance(status, audit, tasks);
  } catch (error) {
    canvas.textContent = `The diagram did not open: ${errorText(error)}`;
  }
  scheduleRefresh(uuid, status.version, refresh);
}

/** While the instance moves, reload the page when its version changes. */
function scheduleRefresh(uuid: string, version: number, refresh: () => void): void {
  const mine = generation();
  const tick = async () => {
    if (generation() !== mine) return;
    try {
      const now = await getJson<Status>(`/api/runtime/process/${uuid}/status`);
      if (generation() !== mine) return;
      if (now.version !== version && !document.activeElement?.closest("form")) {
        refresh();
        return;
      }
    } catch {
      // a failed poll is retried at the next tick
    }
    window.setTimeout(() => void tick(), 3000);
  };
  window.setTimeout(() => void tick(), 3000);
}

function header(status: Status): HTMLElement {
  const meta = status.instanceMetadata;
  const row = (name: string, value: Node | string) => [h("dt", {}, name), h("dd", {}, value)];
  return h("header", { class: "instance-head" },
    h("h1", {}, `${status.processDefinitionName} `, h("code", {}, `#${meta.processInstanceId}`), " ", stateBadge(status.state)),
    h("dl", { class: "facts" },
      row("Instance", h("code", {}, status.uuid)),
      row("Process", status.processDefinitionName),
      row("Build", h("code", {}, short(status.buildId))),
      row("Created", when(status.createdAt)),
      row("Updated", when(status.updatedAt)),
      row("Copied from", meta.copiedFromUuid ? link(`/instances/${meta.copiedFromUuid}`, short(meta.copiedFromUuid)) : "—"),
      row("Called by", meta.parentProcessInstanceUuid
        ? link(`/instances/${meta.parentProcessInstanceUuid}`, short(meta.parentProcessInstanceUuid), { id: "parent-link", "aria-label": `Parent instance ${meta.parentProcessInstanceUuid}` })
        : "—"),
      // The root differs from the parent only two calls deep or more; a root calls nobody.
      meta.rootProcessInstanceUuid && meta.rootProcessInstanceUuid !== meta.parentProcessInstanceUuid
        ? row("Call tree root", link(`/instances/${meta.rootProcessInstanceUuid}`, short(meta.rootProcessInstanceUuid), { id: "root-link" }))
        : [],
      row("Children", childList(status.children)),
    ),
    h("p", {}, link(`/instances/${status.uuid}/rerun`, "Rerun with edits…", { class: "button primary", id: "rerun" })),
  );
}

/** The instances this one's call activities started, each a link with its state. */
function childList(children: ChildInstance[]): Node | string {
  if (children.length === 0) return "—";
  return h("ul", { class: "children-list", "aria-label": "Called instances" }, children.map((child) =>
    h("li", {}, link(`/instances/${child.uuid}`, short(child.uuid), { "data-child": child.uuid, "aria-label": `Child instance ${child.uuid}` }),
      ` ${child.name} `, stateBadge(child.state))));
}

function jsonEditor(id: string, label: string, initial = "{}"): [HTMLElement, HTMLTextAreaElement] {
  const area = h("textarea", { id, rows: 4, class: "code", spellcheck: "false" }) as HTMLTextAreaElement;
  area.value = initial;
  return [h("div", { class: "field" }, h("label", { for: id }, label), area), area];
}

async function act(notice: HTMLElement, what: string, run: () => Promise<unknown>, after: () => void): Promise<void> {
  notice.textContent = `${what}…`;
  try {
    await run();
    notice.textContent = `${what}: done.`;
    after();
  } catch (error) {
    notice.textContent = `${what} failed: ${errorText(error)}`;
  }
}

function actionsSection(status: Status, notice: HTMLElement, refresh: () => void): HTMLElement | null {
  const hosts = loopHosts(status);
  const offered = status.tokens.filter((t) => t.state === "ACTIVE" && !hosts.has(t.id) && (t.uiActions?.length ?? 0) > 0);
  if (offered.length === 0) return null;
  return h("section", { "aria-labelledby": "actions-title" }, h("h2", { id: "actions-title" }, "Actions"),
    offered.flatMap((token) => (token.uiActions ?? []).map((action) => {
      const id = `action-${action.name}-${short(token.uuid)}`;
      const [field, area] = jsonEditor(`${id}-body`, `Body of ${action.name} (merged into the data)`);
      // A multi-instance activity's instances differ by their element: name it.
      const element = token.variables ? ` (${Object.entries(token.variables).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(", ")})` : "";
      const form = h("form", { class: "card", id }, h("h3", {}, `${action.name} at `, h("code", {}, token.currentNodeId ?? ""), element), field,
        h("button", { type: "submit" }, `Execute ${action.name}`));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const parsed = parseObject(area.value);
        if (parsed.error) return void (notice.textContent = parsed.error);
        const path = `/api/runtime/process/${status.uuid}/token/${token.uuid}/action/${encodeURIComponent(action.name)}/execute`;
        void act(notice, `Action ${action.name}`, () => postJson(path, parsed.value), refresh);
      });
      return form;
    })));
}

function incidentsSection(status: Status, notice: HTMLElement, refresh: () => void): HTMLElement | null {
  if (status.incidents.length === 0) return null;
  return h("section", { "aria-labelledby": "incidents-title" }, h("h2", { id: "incidents-title" }, "Incidents"),
    status.incidents.map((incident) => {
      const body = h("div", { class: `card incident ${incident.resolvedAt ? "resolved" : "open"}` },
        h("h3", {}, `#${incident.id} ${incident.type} at `, h("code", {}, incident.nodeId ?? "")),
        h("p", {}, incident.message), h("p", { class: "help" }, when(incident.at),
          incident.resolvedAt ? ` · resolved ${when(incident.resolvedAt)} by ${incident.resolvedBy ?? "?"}` : ""));
      if (incident.resolvedAt) return body;
      const [field, area] = jsonEditor(`patch-${incident.id}`, "Data patch (JSON Merge Patch, applied before the retry)");
      const form = h("form", { id: `retry-${incident.id}` }, field, h("button", { type: "submit" }, "Retry"));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const parsed = parseObject(area.value);
        if (parsed.error) return void (notice.textContent = parsed.error);
        const path = `/api/runtime/process/${status.uuid}/incidents/${incident.id}/retry`;
        void act(notice, `Retry of incident ${incident.id}`, () => postJson(path, { data: parsed.value }), refresh);
      });
      body.appendChild(form);
      return body;
    }));
}

function operationsSection(status: Status, notice: HTMLElement, refresh: () => void): HTMLElement | null {
  const over = ["FINISHED", "TERMINATED", "EXPIRED", "DISMISSED"].includes(status.state);
  if (over) return null;
  const base = `/api/runtime/process/${status.uuid}`;
  const reason = h("input", { id: "terminate-reason", type: "text", placeholder: "why" }) as HTMLInputElement;
  const button = (text: string, run: () => Promise<unknown>) => {
    const element = h("button", { type: "button" }, text);
    element.addEventListener("click", () => void act(notice, text, run, refresh));
    return element;
  };
  return h("section", { "aria-labelledby": "ops-title" }, h("h2", { id: "ops-title" }, "Operate"),
    h("div", { class: "row" },
      status.state === "ON_HOLD" ? button("Unhold", () => postJson(`${base}/unhold`)) : button("Hold", () => postJson(`${base}/hold`)),
      h("label", { for: "terminate-reason" }, "Reason"), reason,
      button("Terminate", () => postJson(`${base}/terminate`, { reason: reason.value }))));
}

function waitsSection(status: Status, audit: AuditEvent[], tasks: ExternalTask[]): HTMLElement | null {
  if (status.waits.length === 0) return null;
  return h("section", { "aria-labelledby": "waits-title" }, h("h2", { id: "waits-title" }, "Waits"),
    h("ul", {}, status.waits.map((wait) => h("li", {}, h("code", {}, wait.nodeId ?? "instance"), ": ", waitContent(wait, audit, tasks)))));
}

function lineageSection(status: Status, lineage: Lineage): HTMLElement {
  const node = (member: Summary | null, uuid: string, current: boolean) =>
    h("li", { class: current ? "lineage-node current" : "lineage-node" },
      current ? h("strong", { "aria-current": "page" }, short(uuid)) : link(`/instances/${uuid}`, short(uuid), { "data-lineage": uuid }),
      member ? h("span", { class: "help" }, ` ${member.processDefinitionName} `) : " ",
      member ? stateBadge(member.state) : stateBadge(status.state));
  const chain = [...lineage.ancestors.map((m) => node(m, m.uuid, false)), node(null, status.uuid, true)];
  const meta = status.instanceMetadata;
  // Two different family trees: copies (reruns, a new instance from this one's data) and
  // calls (a call activity's child, which reports back to its parent).
  const callRoot = meta.rootProcessInstanceUuid ?? (status.children.length ? status.uuid : null);
  return h("section", { "aria-labelledby": "lineage-title" }, h("h2", { id: "lineage-title" }, "Lineage"),
    h("h3", {}, "Copies (reruns)"),
    h("ol", { class: "lineage", "aria-label": "Copied from, oldest first" }, chain),
    lineage.descendants.length
      ? h("ul", { class: "lineage children", "aria-label": "Copies of this instance" }, lineage.descendants.map((m) => node(m, m.uuid, false)))
      : h("p", { class: "help" }, "No copies yet."),
    h("p", {}, link(`/instances?lineageRootUuid=${lineage.lineageRootUuid}`, "All instances of this lineage")),
    h("h3", {}, "Calls (call activities)"),
    callRoot === null ? [] : h("ol", { class: "calls", "aria-label": "Called by, then this instance, then its children" },
      meta.parentProcessInstanceUuid
        ? h("li", { class: "lineage-node" }, "called by ", link(`/instances/${meta.parentProcessInstanceUuid}`, short(meta.parentProcessInstanceUuid), { "data-call-parent": meta.parentProcessInstanceUuid }))
        : [],
      h("li", { class: "lineage-node current" }, h("strong", {}, short(status.uuid)), " ", stateBadge(status.state)),
      status.children.map((child) => h("li", { class: "lineage-node" }, "calls ",
        link(`/instances/${child.uuid}`, short(child.uuid), { "data-call-child": child.uuid }), ` ${child.name} `, stateBadge(child.state)))),
    callRoot
      ? h("p", {}, link(`/instances?rootProcessInstanceUuid=${callRoot}`, "All instances of this call tree"),
        status.children.length ? [" · ", link(`/instances?parentProcessInstanceUuid=${status.uuid}`, "Its children", { id: "children-search" })] : [])
      : h("p", { class: "help" }, "No call activity started or called this instance."));
}

function auditSection(audit: AuditEvent[]): HTMLElement {
  return h("section", { "aria-labelledby": "audit-title" }, h("h2", { id: "audit-title" }, "Audit"),
    h("ol", { class: "timeline" }, audit.map((event) => h("li", {},
      h("time", { datetime: event.at }, when(event.at)), " ",
      h("strong", {}, event.type), event.nodeId ? h("code", {}, ` ${event.nodeId}`) : "",
      Object.keys(event.details ?? {}).length ? h("span", { class: "help" }, ` ${JSON.stringify(event.details)}`) : ""))));
}

export function goToInstance(uuid: string): void {
  navigate(`/instances/${uuid}`);
}
