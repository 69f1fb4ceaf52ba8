// Every API call goes through here: the token from the TokenProvider, problem+json errors
// as ApiError, and a 401 that signs out and sends the operator to sign-in with the reason.
import { tokenProvider } from "./auth";
import { navigate } from "./router";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Record<string, unknown>,
  ) {
    super(String(problem.detail ?? problem.title ?? `HTTP ${status}`));
  }
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

async function call(method: string, path: string, body?: unknown, accept = "application/json") {
  const headers: Record<string, string> = { Accept: accept };
  const token = tokenProvider().token();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    const problem = await problemOf(response);
    tokenProvider().signOut();
    const reason = String(problem.detail ?? "The token was refused.");
    navigate(`/sign-in?reason=${encodeURIComponent(reason)}`);
    throw new ApiError(401, problem);
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  return response;
}

async function problemOf(response: Response): Promise<Record<string, unknown>> {
  try {
    const parsed: unknown = await response.json();
    if (parsed && typeof parsed === "object") return parsed as Record<string, unknown>;
  } catch {
    // not JSON: fall through to the status line
  }
  return { title: response.statusText, status: response.status };
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await call("GET", path)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown = {}): Promise<T> {
  return (await (await call("POST", path, body)).json()) as T;
}

export async function getText(path: string, accept: string): Promise<string> {
  return (await call("GET", path, undefined, accept)).text();
}

export async function getBlob(path: string): Promise<Blob> {
  return (await call("GET", path, undefined, "*/*")).blob();
}

export function query(params: Record<string, string | string[] | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) search.append(name, one);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// The answers the console reads (the OpenAPI document at /openapi.json has the full types).
export interface Token {
  id: number;
  uuid: string;
  state: string;
  statusCurrentNode: string;
  currentNodeId: string | null;
  uiActions?: { name: string; uiActionFlowxUuid?: string }[];
  /** The token this one runs inside: the one waiting at its subprocess, or the host of
   * the multi-instance activity it is one instance of. */
  scopeTokenId?: number;
  variables?: JsonObject;
}
export interface ChildInstance {
  uuid: string;
  name: string;
  state: string;
}
export interface Incident {
  id: number;
  type: string;
  message: string;
  nodeId: string | null;
  tokenUuid: string | null;
  at: string;
  resolvedAt: string | null;
  resolvedBy: string | null;
}
export interface Wait {
  id: string;
  kind: string;
  nodeId: string | null;
  tokenUuid: string | null;
  dueAt: string | null;
  fired: number;
}
export interface Status {
  uuid: string;
  state: string;
  processDefinitionName: string;
  buildId: string;
  applicationId: string;
  workspaceId: string;
  tokens: Token[];
  incidents: Incident[];
  waits: Wait[];
  createdAt: string;
  updatedAt: string;
  version: number;
  instanceMetadata: {
    processInstanceId: number;
    copiedFromUuid: string | null;
    lineageRootUuid: string | null;
    parentProcessInstanceUuid: string | null;
    rootProcessInstanceUuid: string | null;
  };
  children: ChildInstance[];
}
export interface Summary {
  uuid: string;
  processInstanceId: number;
  processDefinitionName: string;
  state: string;
  buildId: string;
  applicationId: string;
  copiedFromUuid: string | null;
  lineageRootUuid: string | null;
  parentProcessInstanceUuid: string | null;
  rootProcessInstanceUuid: string | null;
  createdAt: string;
  updatedAt: string;
}
export interface AuditEvent {
  seq: number;
  type: string;
  nodeId: string | null;
  tokenUuid: string | null;
  details: JsonObject;
  at: string;
}
export interface Lineage {
  uuid: string;
  copiedFromUuid: string | null;
  lineageRootUuid: string;
  ancestors: Summary[];
  descendants: Summary[];
}
export interface BuildInfo {
  buildId: string;
  applicationId: string;
  workspaceId: string;
  status: string;
  checksum: string;
  createdAt: string;
  active?: boolean;
  processDefinitions: { name: string; flowxUuid: string; file: string }[];
}
export interface Batch {
  id: string;
  workspaceId: string;
  operation: string;
  state: string;
  total: number;
  done: number;
  failed: number;
  createdAt: string;
}
export interface BatchItem {
  seq: number;
  sourceUuid: string;
  state: string;
  resultUuid: string | null;
  error: JsonObject | null;
}
export interface ExternalTask {
  id: string;
  waitId: string;
  nodeId: string;
  topic: string;
  retries: number;
  lockedBy: string | null;
  lockedUntil: string | null;
  errorMessage: string | null;
}
