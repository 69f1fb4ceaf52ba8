// The BPMN diagram (bpmn-js NavigatedViewer: pan and zoom, bpmn.io watermark kept as its
// licence asks) with the instance drawn on it: tokens, incidents, waits, the path taken.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import type { AuditEvent, ExternalTask, Status, Token } from "./api";
import { h, link, short, when } from "./dom";

interface Canvas {
  zoom(level: string): void;
  resized(): void;
  addMarker(id: string, marker: string): void;
  removeMarker(id: string, marker: string): void;
}
interface Overlays {
  add(id: string, overlay: { position: Record<string, number>; html: HTMLElement }): void;
}
interface ElementRegistry {
  get(id: string): { id: string; type: string; businessObject: { name?: string; sourceRef?: { id: string }; targetRef?: { id: string } } } | undefined;
  getAll(): { id: string; type: string; businessObject: { sourceRef?: { id: string }; targetRef?: { id: string } } }[];
}
interface EventBus {
  on(event: string, callback: (event: { element: { id: string; type: string } }) => void): void;
}

export class Diagram {
  private readonly viewer: NavigatedViewer;

  constructor(readonly container: HTMLElement) {
    this.viewer = new NavigatedViewer({ container });
  }

  async show(xml: string): Promise<void> {
    await this.viewer.importXML(xml);
    this.canvas().zoom("fit-viewport");
    // A narrower window (or a rotated phone) fits the whole diagram again.
    let width = this.container.clientWidth;
    new ResizeObserver(() => {
      const { clientWidth, clientHeight } = this.container;
      if (clientWidth === width || clientWidth === 0 || clientHeight === 0 || !this.container.isConnected) return;
      width = this.container.clientWidth;
      this.canvas().resized();
      this.canvas().zoom("fit-viewport");
    }).observe(this.container);
    const svg = this.container.querySelector("svg");
    svg?.setAttribute("role", "img");
    svg?.setAttribute("aria-label", "BPMN diagram");
  }

  private canvas(): Canvas {
    return this.viewer.get("canvas") as Canvas;
  }

  private registry(): ElementRegistry {
    return this.viewer.get("elementRegistry") as ElementRegistry;
  }

  has(id: string | null): id is string {
    return id !== null && this.registry().get(id) !== undefined;
  }

  nodeName(id: string): string {
    return this.registry().get(id)?.businessObject.name ?? id;
  }

  /** The flow nodes (not flows, lanes or the process), for a keyboard choice of startAt. */
  flowNodes(): { id: string; name: string }[] {
    return this.registry().getAll()
      // A collapsed subprocess's drilled-down plane is a root element named `<id>_plane`.
      .filter((e) => !/(SequenceFlow|Process|Participant|Lane|Label|Association)$/.test(e.type)
        && !e.id.endsWith("_label") && !e.id.endsWith("_plane"))
      .map((e) => ({ id: e.id, name: this.nodeName(e.id) }));
  }

  /** Flow nodes a token can start at (for startAt): tasks, events, gateways. */
  onNodeClick(callback: (id: string) => void): void {
    const bus = this.viewer.get("eventBus") as EventBus;
    bus.on("element.click", ({ element }) => {
      if (element.type !== "bpmn:Process" && !element.type.endsWith("SequenceFlow")) callback(element.id);
    });
  }

  mark(id: string, marker: string): void {
    if (this.has(id)) this.canvas().addMarker(id, marker);
  }

  unmark(id: string, marker: string): void {
    if (this.has(id)) this.canvas().removeMarker(id, marker);
  }

  /** Shade the nodes the audit log saw, and the flows between two of them. */
  shadePath(events: AuditEvent[]): Set<string> {
    const visited = new Set(events.map((e) => e.nodeId).filter((id): id is string => this.has(id)));
    for (const id of visited) this.mark(id, "pf-visited");
    for (const element of this.registry().getAll()) {
      const { sourceRef, targetRef } = element.businessObject;
      if (element.type === "bpmn:SequenceFlow" && sourceRef && targetRef
          && visited.has(sourceRef.id) && visited.has(targetRef.id)) {
        this.mark(element.id, "pf-visited");
      }
    }
    return visited;
  }

  /** Tokens (with their status and a count where several stand), incidents, waits; a
   * multi-instance activity's progress; a subprocess's tokens inside. A token inside a
   * collapsed subprocess is drawn on the subprocess's own plane (bpmn-js drill-down: the
   * overlays follow the plane shown), and the collapsed shape says how many are inside. */
  overlayInstance(status: Status, events: AuditEvent[], tasks: ExternalTask[] = []): void {
    const overlays = this.viewer.get("overlays") as Overlays;
    const hosts = loopHosts(status);
    for (const host of status.tokens.filter((t) => hosts.has(t.id) && this.has(t.currentNodeId))) {
      const node = host.currentNodeId as string;
      const { total, completed } = loopProgress(host, status, events);
      const running = status.tokens.filter((t) => t.state === "ACTIVE" && t.scopeTokenId === host.id).length;
      overlays.add(node, {
        position: { bottom: -4, left: 0 }, // under the shape, above a wait's label
        html: h("span", { class: "pf-loop", "data-node": node, title: `multi-instance: ${running} running` },
          `${completed}/${total} done`),
      });
    }
    for (const [node, inside] of tokensInside(status, hosts)) {
      if (!this.has(node) || inside === 0) continue;
      overlays.add(node, {
        position: { bottom: 10, right: 40 },
        html: h("span", { class: "pf-inside", "data-node": node, title: "open the subprocess to see them" },
          `${inside} inside`),
      });
    }
    const active = status.tokens.filter((t) => t.state === "ACTIVE" && !hosts.has(t.id) && this.has(t.currentNodeId));
    const byNode = new Map<string, typeof active>();
    for (const token of active) {
      const list = byNode.get(token.currentNodeId as string) ?? [];
      list.push(token);
      byNode.set(token.currentNodeId as string, list);
    }
    for (const [node, tokens] of byNode) {
      this.mark(node, "pf-active");
      const statuses = [...new Set(tokens.map((t) => t.statusCurrentNode))].join(", ");
      const count = tokens.length > 1 ? ` ×${tokens.length}` : "";
      overlays.add(node, {
        position: { top: -14, left: -6 },
        html: h("span", { class: "pf-token", "data-node": node, title: `token ${statuses}` }, `● ${statuses}${count}`),
      });
    }
    for (const incident of status.incidents.filter((i) => i.resolvedAt === null)) {
      if (!this.has(incident.nodeId)) continue;
      this.mark(incident.nodeId, "pf-incident");
      overlays.add(incident.nodeId, {
        position: { bottom: -6, left: -6 },
        html: h("span", { class: "pf-incident-badge", title: incident.message }, `⚠ ${incident.type}`),
      });
    }
    for (const wait of status.waits) {
      if (!this.has(wait.nodeId)) continue;
      overlays.add(wait.nodeId, {
        position: { bottom: -24, left: 0 },
        html: h("span", { class: "pf-wait" }, waitContent(wait, events, tasks)),
      });
    }
  }
}

/** Tokens that host a multi-instance activity: live instance tokens run inside them at the
 * same node. They wait for their instances; the instances are what an operator acts on. */
export function loopHosts(status: Status): Set<number> {
  const live = status.tokens.filter((t) => t.state === "ACTIVE");
  const byId = new Map(live.map((t) => [t.id, t]));
  const hosts = new Set<number>();
  for (const token of live) {
    const scope = token.scopeTokenId === undefined ? undefined : byId.get(token.scopeTokenId);
    if (scope && scope.currentNodeId === token.currentNodeId) hosts.add(scope.id);
  }
  return hosts;
}

/** A multi-instance host's instances, from the audit: its latest start and completions. */
function loopProgress(host: Token, status: Status, events: AuditEvent[]): { total: number; completed: number } {
  const started = events.filter((e) => e.type === "multi_instance_started" && e.tokenUuid === host.uuid).pop();
  const total = typeof started?.details.instances === "number"
    ? started.details.instances
    : status.tokens.filter((t) => t.scopeTokenId === host.id).length;
  const done = events.filter((e) => e.type === "multi_instance_instance_completed"
    && e.nodeId === host.currentNodeId && (started === undefined || e.seq > started.seq)).pop();
  return { total, completed: typeof done?.details.completed === "number" ? done.details.completed : 0 };
}

/** For each subprocess (or multi-instance) node a live token waits at: how many live
 * tokens stand inside it at other nodes (a multi-instance host's own instances excluded). */
function tokensInside(status: Status, hosts: Set<number>): Map<string, number> {
  const live = status.tokens.filter((t) => t.state === "ACTIVE");
  const byId = new Map(live.map((t) => [t.id, t]));
  const inside = new Map<string, number>();
  const scopes = new Set(live.map((t) => t.scopeTokenId).filter((id) => id !== undefined));
  for (const token of live) {
    if (scopes.has(token.id) || hosts.has(token.id)) continue; // only the innermost count
    // Each enclosing node once: a multi-instance subprocess's instance and host stand at
    // the same node.
    const enclosing = new Set<string>();
    let scope = token.scopeTokenId === undefined ? undefined : byId.get(token.scopeTokenId);
    while (scope) {
      if (scope.currentNodeId && scope.currentNodeId !== token.currentNodeId) enclosing.add(scope.currentNodeId);
      scope = scope.scopeTokenId === undefined ? undefined : byId.get(scope.scopeTokenId);
    }
    for (const node of enclosing) inside.set(node, (inside.get(node) ?? 0) + 1);
  }
  return inside;
}

/** The child instance a call activity's wait waits for (its audit names it). */
export function calledChild(wait: Status["waits"][number], events: AuditEvent[]): string | null {
  if (wait.kind !== "call") return null;
  const started = events.find((e) => e.type === "call_activity_started" && e.details.waitId === wait.id);
  return typeof started?.details.childUuid === "string" ? started.details.childUuid : null;
}

/** waitLabel, with a call activity's wait as a link to its child instance. */
export function waitContent(wait: Status["waits"][number], events: AuditEvent[], tasks: ExternalTask[] = []): Node | string {
  const child = calledChild(wait, events);
  if (child === null) return waitLabel(wait, events, tasks);
  return h("span", {}, "↪ waits for ",
    link(`/instances/${child}`, short(child), { class: "pf-child-link", "data-child": child, "aria-label": `Child instance ${child}` }));
}

/** What a wait waits for: a timer's due time, a message's name and key, a task's topic. */
export function waitLabel(wait: Status["waits"][number], events: AuditEvent[], tasks: ExternalTask[] = []): string {
  const task = tasks.find((t) => t.waitId === wait.id);
  if (task) {
    const lock = task.lockedBy ? `locked by ${task.lockedBy} until ${when(task.lockedUntil)}` : "not locked";
    return `⚙ topic ${task.topic} · ${lock} · ${task.retries} retries left`;
  }
  const origin = events.find((e) => e.details && e.details.waitId === wait.id);
  const details = origin?.details ?? {};
  if (wait.kind === "timer" || wait.kind === "expiry") return `⏱ due ${when(wait.dueAt)}`;
  if (details.messageName !== undefined) {
    return `✉ ${String(details.messageName)} key ${JSON.stringify(details.correlationKey)}`;
  }
  if (details.topic !== undefined) return `⚙ topic ${String(details.topic)}`;
  const child = calledChild(wait, events);
  if (child !== null) return `↪ waits for ${short(child)}`;
  return wait.kind;
}
