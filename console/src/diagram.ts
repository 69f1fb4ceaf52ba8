// The BPMN diagram (bpmn-js NavigatedViewer: pan and zoom, bpmn.io watermark kept as its
// licence asks) with the instance drawn on it: tokens, incidents, waits, the path taken.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";
import "bpmn-js/dist/assets/diagram-js.css";
import "bpmn-js/dist/assets/bpmn-js.css";
import type { AuditEvent, ExternalTask, Status } from "./api";
import { h, when } from "./dom";

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
      .filter((e) => !/(SequenceFlow|Process|Participant|Lane|Label|Association)$/.test(e.type) && !e.id.endsWith("_label"))
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

  /** Tokens (with their status and a count where several stand), incidents, waits. */
  overlayInstance(status: Status, events: AuditEvent[], tasks: ExternalTask[] = []): void {
    const overlays = this.viewer.get("overlays") as Overlays;
    const active = status.tokens.filter((t) => t.state === "ACTIVE" && this.has(t.currentNodeId));
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
        html: h("span", { class: "pf-wait" }, waitLabel(wait, events, tasks)),
      });
    }
  }
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
  return wait.kind;
}
