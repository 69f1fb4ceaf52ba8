// The workspace the console works in: searches and batches are per workspace.
import { getJson } from "./api";

const KEY = "procflow.workspace";

export interface Workspace {
  id: string;
  name: string;
}

export function currentWorkspace(): string | null {
  return sessionStorage.getItem(KEY);
}

export function setWorkspace(id: string): void {
  sessionStorage.setItem(KEY, id);
}

/** The workspaces the token may list (role admin); empty when it may not. */
export async function workspaces(): Promise<Workspace[]> {
  try {
    return (await getJson<{ content: Workspace[] }>("/api/admin/workspaces")).content;
  } catch {
    return [];
  }
}

export async function ensureWorkspace(): Promise<string | null> {
  const chosen = currentWorkspace();
  if (chosen) return chosen;
  const listed = await workspaces();
  if (listed.length > 0) setWorkspace(listed[0].id);
  return currentWorkspace();
}
