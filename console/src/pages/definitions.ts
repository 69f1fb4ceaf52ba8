// Workspaces, apps, builds (the active one marked), each process's diagram, the source.
import { getBlob, getJson, getText, type BuildInfo } from "../api";
import { Diagram } from "../diagram";
import { clear, errorText, h, link, short, when } from "../dom";
import { workspaces } from "../workspace";

interface App {
  id: string;
  name: string;
}
interface BuildRow {
  buildId: string;
  status: string;
  checksum: string;
  createdAt: string;
  active: boolean;
}

export async function definitionsPage(main: HTMLElement, search: URLSearchParams): Promise<void> {
  const wks = search.get("workspace");
  const app = search.get("app");
  const build = search.get("build");
  const process = search.get("process");
  clear(main, h("h1", {}, "Definitions"), h("p", { role: "status" }, "Loading…"));
  try {
    const sections: HTMLElement[] = [];
    const listed = await workspaces();
    sections.push(h("section", {}, h("h2", {}, "Workspaces"), h("ul", {}, listed.map((w) =>
      h("li", {}, link(`/definitions?workspace=${w.id}`, w.name, { "aria-current": w.id === wks ? "page" : null }), " ", h("code", {}, short(w.id)))))));
    if (wks) {
      const apps = (await getJson<{ content: App[] }>(`/api/admin/wks/${wks}/apps`)).content;
      sections.push(h("section", {}, h("h2", {}, "Apps"), h("ul", {}, apps.map((a) =>
        h("li", {}, link(`/definitions?workspace=${wks}&app=${a.id}`, a.name, { "aria-current": a.id === app ? "page" : null }))))));
    }
    if (wks && app) {
      const builds = (await getJson<{ content: BuildRow[] }>(`/api/admin/wks/${wks}/app/${app}/builds`)).content;
      sections.push(h("section", {}, h("h2", {}, "Builds"), h("table", { class: "list" },
        h("thead", {}, h("tr", {}, ["Build", "Status", "Created", "Checksum", "Active"].map((n) => h("th", { scope: "col" }, n)))),
        h("tbody", {}, builds.map((b) => h("tr", { class: b.active ? "active-build" : "" },
          h("td", {}, link(`/definitions?workspace=${wks}&app=${app}&build=${b.buildId}`, short(b.buildId))),
          h("td", {}, b.status), h("td", {}, when(b.createdAt)), h("td", {}, h("code", {}, b.checksum.slice(0, 12))),
          h("td", {}, b.active ? h("strong", {}, "active") : "")))))));
    }
    let canvas: HTMLElement | null = null;
    const base = `/api/admin/wks/${wks}/app/${app}/builds/${build}`;
    if (wks && app && build) {
      const info = await getJson<BuildInfo>(base);
      sections.push(h("section", {}, h("h2", {}, "Processes of build ", h("code", {}, short(build))), h("ul", {}, info.processDefinitions.map((d) => {
        const download = h("button", { type: "button", class: "linkish" }, `download ${d.file}`);
        download.addEventListener("click", () => void saveSource(`${base}/definitions/${encodeURIComponent(d.name)}/source`, d.file));
        return h("li", {}, link(`/definitions?workspace=${wks}&app=${app}&build=${build}&process=${encodeURIComponent(d.name)}`, d.name), " · ", download);
      }))));
      if (process) {
        canvas = h("div", { class: "diagram", id: "definition-diagram" });
        sections.push(h("section", {}, h("h2", {}, "Diagram of ", process), canvas));
      }
    }
    clear(main, h("h1", {}, "Definitions"), h("div", { class: "definitions" }, sections));
    if (canvas && process) {
      await new Diagram(canvas).show(await getText(`${base}/definitions/${encodeURIComponent(process)}/diagram`, "application/xml"));
    }
  } catch (error) {
    clear(main, h("h1", {}, "Definitions"), h("p", { class: "error", role: "alert" }, errorText(error)));
  }
}

async function saveSource(path: string, file: string): Promise<void> {
  const url = URL.createObjectURL(await getBlob(path));
  const anchor = h("a", { href: url, download: file }) as HTMLAnchorElement;
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  URL.revokeObjectURL(url);
}
