// History-API routing under /console/: the server answers every page path with index.html.
export const BASE = "/console";

type Render = (params: Record<string, string>, search: URLSearchParams) => Promise<void> | void;
interface Route {
  pattern: RegExp;
  names: string[];
  render: Render;
}

const routes: Route[] = [];
let notFound: Render = () => undefined;
let current = 0;

export function route(path: string, render: Render): void {
  const names: string[] = [];
  const source = path.replace(/:([a-zA-Z]+)/g, (_, name: string) => {
    names.push(name);
    return "([^/]+)";
  });
  routes.push({ pattern: new RegExp(`^${source}/?$`), names, render });
}

export function otherwise(render: Render): void {
  notFound = render;
}

export function navigate(path: string, replace = false): void {
  const url = `${BASE}${path}`;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  void dispatch();
}

/** A number that changes on every navigation: pages stop their timers when it moved on. */
export function generation(): number {
  return current;
}

export async function dispatch(): Promise<void> {
  current += 1;
  const path = location.pathname.startsWith(BASE)
    ? location.pathname.slice(BASE.length) || "/"
    : "/";
  const search = new URLSearchParams(location.search);
  for (const candidate of routes) {
    const match = candidate.pattern.exec(path);
    if (match) {
      const params: Record<string, string> = {};
      candidate.names.forEach((name, i) => (params[name] = decodeURIComponent(match[i + 1])));
      await candidate.render(params, search);
      return;
    }
  }
  await notFound({}, search);
}

export function start(): void {
  window.addEventListener("popstate", () => void dispatch());
  document.addEventListener("click", (event) => {
    const anchor = (event.target as Element | null)?.closest?.("a[data-internal]");
    if (!anchor || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    const href = anchor.getAttribute("href") ?? BASE;
    navigate(href.slice(BASE.length) || "/");
  });
  void dispatch();
}
