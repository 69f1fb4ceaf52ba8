import "./style.css";
import { subjectOf, tokenProvider } from "./auth";
import { clear, h, link } from "./dom";
import { batchesPage, batchPage, newBatchPage } from "./pages/batches";
import { definitionsPage } from "./pages/definitions";
import { instancePage } from "./pages/instance";
import { instancesPage } from "./pages/instances";
import { rerunPage } from "./pages/rerun";
import { signInPage } from "./pages/signin";
import { navigate, otherwise, route, start } from "./router";
import { currentWorkspace, setWorkspace, workspaces } from "./workspace";

const main = document.getElementById("main") as HTMLElement;
const nav = document.getElementById("nav") as HTMLElement;
const who = document.getElementById("who") as HTMLElement;

const PAGES: [string, string][] = [["/instances", "Instances"], ["/batches", "Batches"], ["/definitions", "Definitions"]];

async function chrome(title: string): Promise<boolean> {
  document.title = `${title} · Procflow console`;
  const token = tokenProvider().token();
  clear(nav, token ? h("ul", {}, PAGES.map(([path, text]) => h("li", {}, link(path, text, {
    "aria-current": location.pathname.startsWith(`/console${path}`) ? "page" : null,
  })))) : null);
  if (!token) {
    clear(who);
    const next = location.pathname.slice("/console".length) + location.search;
    navigate(`/sign-in?next=${encodeURIComponent(next || "/instances")}`, true);
    return false;
  }
  const out = h("button", { type: "button", class: "linkish" }, "Sign out");
  out.addEventListener("click", () => {
    tokenProvider().signOut();
    navigate("/sign-in");
  });
  const picker = h("select", { id: "workspace", "aria-label": "Workspace" }) as HTMLSelectElement;
  clear(who, h("label", { for: "workspace", class: "visually-hidden" }, "Workspace"), picker,
    h("span", { class: "help" }, subjectOf(token) ?? "signed in"), out);
  void workspaces().then((found) => {
    const chosen = currentWorkspace();
    if (!chosen && found.length) setWorkspace(found[0].id);
    clear(picker, found.map((w) => h("option", { value: w.id, selected: w.id === currentWorkspace() }, w.name)));
    if (found.length > 0) return;
    // A token without role admin cannot list workspaces: the operator types the id.
    const typed = h("input", { id: "workspace-id", type: "text", size: 36, "aria-label": "Workspace id",
      placeholder: "workspace id", value: currentWorkspace() ?? "" }) as HTMLInputElement;
    typed.addEventListener("change", () => {
      setWorkspace(typed.value.trim());
      navigate("/instances");
    });
    picker.replaceWith(typed);
  });
  picker.addEventListener("change", () => {
    setWorkspace(picker.value);
    navigate("/instances");
  });
  return true;
}

function page(title: string, render: (params: Record<string, string>, search: URLSearchParams) => Promise<void> | void) {
  return async (params: Record<string, string>, search: URLSearchParams) => {
    if (!(await chrome(title))) return;
    await render(params, search);
    main.focus({ preventScroll: true });
  };
}

route("/sign-in", (_, search) => {
  document.title = "Sign in · Procflow console";
  clear(nav);
  clear(who);
  signInPage(main, search);
});
route("/", () => navigate("/instances", true));
route("/instances", page("Instances", (_, search) => instancesPage(main, search)));
route("/instances/:uuid", page("Instance", ({ uuid }) => instancePage(main, uuid)));
route("/instances/:uuid/rerun", page("Rerun", ({ uuid }) => rerunPage(main, uuid)));
route("/batches", page("Batches", () => batchesPage(main)));
route("/batches/new", page("New batch", (_, search) => newBatchPage(main, search)));
route("/batches/:id", page("Batch", ({ id }) => batchPage(main, id)));
route("/definitions", page("Definitions", (_, search) => definitionsPage(main, search)));
otherwise(page("Not found", () => clear(main, h("h1", {}, "Not found"), h("p", {}, "No such page. ", link("/instances", "Instances")))));
start();
