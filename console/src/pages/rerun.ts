// Rerun with edits: copyDataFrom (S3) with the edited data as a merge patch, a startAt picked
// on the diagram, and a dry run first that shows what the new instance would get.
import { getJson, getText, postJson, query, type BuildInfo, type Json, type JsonObject, type Status } from "../api";
import { Diagram } from "../diagram";
import { clear, errorText, h, link, short, statusLine } from "../dom";
import { diff, diffTable, mergePatch, parseObject } from "../json";
import { navigate } from "../router";

interface DryRun {
  processDefinitionName: string;
  buildId: string;
  buildStatusAtStart: string;
  startNodeId: string;
  startAt?: string | null;
  data: JsonObject;
}

export async function rerunPage(main: HTMLElement, uuid: string): Promise<void> {
  clear(main, h("h1", {}, "Rerun with edits"), h("p", { role: "status" }, "Loading…"));
  let status: Status, data: Json, build: BuildInfo;
  try {
    [status, data, build] = await Promise.all([
      getJson<Status>(`/api/runtime/process/${uuid}/status`),
      getJson<Json>(`/api/runtime/process/${uuid}/data`),
      getJson<BuildInfo>(`/api/runtime/process-instance/${uuid}/build/info`),
    ]);
  } catch (error) {
    clear(main, h("h1", {}, "Rerun with edits"), h("p", { class: "error", role: "alert" }, errorText(error)));
    return;
  }
  const editor = h("textarea", { id: "rerun-data", rows: 14, class: "code", spellcheck: "false" }) as HTMLTextAreaElement;
  editor.value = JSON.stringify(data, null, 2);
  const process = h("select", { id: "rerun-process" },
    build.processDefinitions.map((d) => h("option", { value: d.name, selected: d.name === status.processDefinitionName }, d.name))) as HTMLSelectElement;
  const startAt = h("input", { id: "rerun-start-at", type: "text", placeholder: "the start node", list: "rerun-nodes" }) as HTMLInputElement;
  // Typing works too: the diagram's nodes are offered as suggestions (keyboard users).
  const nodes = h("datalist", { id: "rerun-nodes" });
  const canvas = h("div", { class: "diagram small", id: "rerun-diagram" });
  const preview = h("section", { id: "preview", "aria-labelledby": "preview-title" });
  const notice = statusLine();
  const dryButton = h("button", { type: "submit", id: "dry-run" }, "Preview (dry run)");
  const startButton = h("button", { type: "button", id: "start-copy", class: "primary", disabled: true }, "Start the copy");
  const form = h("form", { class: "card", id: "rerun-form" },
    h("div", { class: "field" }, h("label", { for: "rerun-data" }, "Data of the new instance (edit as JSON)"), editor),
    h("div", { class: "row" },
      h("div", { class: "field" }, h("label", { for: "rerun-process" }, "Target process"), process),
      h("div", { class: "field" }, h("label", { for: "rerun-start-at" }, "Start at (click a node on the diagram, or type its id)"), startAt, nodes)),
    h("div", { class: "row" }, dryButton, startButton),
    notice);
  clear(main, h("h1", {}, "Rerun ", link(`/instances/${uuid}`, h("code", {}, short(uuid))), " with edits"),
    h("p", { class: "help" }, "The new instance starts with this instance's data and your edits merged on top (copyDataFrom), on the app's active build."),
    form, h("section", { "aria-labelledby": "pick-title" }, h("h2", { id: "pick-title" }, "Where to start"), canvas), preview);

  let diagram: Diagram | null = null;
  const showDiagram = async () => {
    canvas.replaceChildren();
    diagram = new Diagram(canvas);
    const path = process.value === status.processDefinitionName
      ? `/api/runtime/process/${uuid}/diagram`
      : `/api/admin/wks/${build.workspaceId}/app/${build.applicationId}/builds/${build.buildId}/definitions/${encodeURIComponent(process.value)}/diagram`;
    try {
      await diagram.show(await getText(path, "application/xml"));
      clear(nodes, diagram.flowNodes().map((n) => h("option", { value: n.id }, n.name)));
      const shown = diagram;
      shown.onNodeClick((id) => {
        if (startAt.value) shown.unmark(startAt.value, "pf-start");
        shown.mark(id, "pf-start");
        startAt.value = id;
        notice.textContent = `Start at ${id}.`;
        startButton.setAttribute("disabled", "");
      });
    } catch (error) {
      canvas.textContent = `No diagram: ${errorText(error)}`;
    }
  };
  process.addEventListener("change", () => {
    startAt.value = "";
    startButton.setAttribute("disabled", "");
    void showDiagram();
  });
  for (const field of [editor, startAt]) field.addEventListener("input", () => startButton.setAttribute("disabled", ""));

  const target = (dryRun: boolean) => {
    const parsed = parseObject(editor.value);
    if (parsed.error) throw new Error(parsed.error);
    const path = `/api/runtime/wks/${status.workspaceId}/app/${status.applicationId}/process-name/${encodeURIComponent(process.value)}/start/copyDataFrom/${uuid}`;
    return { path: path + query({ dryRun: dryRun ? "true" : null, startAt: startAt.value.trim() || null }), body: mergePatch(data, parsed.value as Json) };
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    notice.textContent = "Dry run…";
    void (async () => {
      try {
        const { path, body } = target(true);
        const answer = await postJson<DryRun>(path, body);
        clear(preview, h("h2", { id: "preview-title" }, "Preview"),
          h("dl", { class: "facts" },
            h("dt", {}, "Process"), h("dd", {}, answer.processDefinitionName),
            h("dt", {}, "Build"), h("dd", {}, h("code", {}, answer.buildId), ` (${answer.buildStatusAtStart})`),
            h("dt", {}, "Starts at"), h("dd", {}, h("code", {}, answer.startNodeId))),
          diffTable(diff(data, answer.data)));
        startButton.removeAttribute("disabled");
        notice.textContent = "Dry run done: nothing was started. Check the preview, then start.";
      } catch (error) {
        notice.textContent = `Dry run failed: ${errorText(error)}`;
      }
    })();
  });
  startButton.addEventListener("click", () => {
    notice.textContent = "Starting…";
    void (async () => {
      try {
        const { path, body } = target(false);
        const started = await postJson<{ uuid: string }>(path, body);
        navigate(`/instances/${started.uuid}`);
      } catch (error) {
        notice.textContent = `Start failed: ${errorText(error)}`;
      }
    })();
  });
  await showDiagram();
}
