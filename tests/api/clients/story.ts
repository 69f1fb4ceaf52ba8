// The README story written against the types openapi-typescript generates from /openapi.json.
// Only type-checked (tsc --noEmit) by tests/api/test_generated_clients.py, never run.
import type { components, operations } from "./procflow-api";

type Schemas = components["schemas"];
type StartBody = NonNullable<operations["startProcess"]["requestBody"]>["content"]["application/json"];
type StartAnswer = operations["startProcess"]["responses"][200]["content"]["application/json"];
type StartHeaders = NonNullable<operations["startProcess"]["parameters"]["header"]>;
type CopyQuery = NonNullable<operations["startWithCopiedData"]["parameters"]["query"]>;
type CopyAnswer = operations["startWithCopiedData"]["responses"][200]["content"]["application/json"];
type ActionPath = operations["executeAction"]["parameters"]["path"];
type NotFound = operations["getStatus"]["responses"][404]["content"]["application/problem+json"];
type SearchQuery = NonNullable<operations["searchInstances"]["parameters"]["query"]>;

const base = "http://127.0.0.1:8080";
const app = `${base}/api/runtime/wks/00000000-0000-0000-0000-000000000001/app/00000000-0000-0000-0000-0000000000a1`;

async function call<T>(token: string, method: string, url: string, body?: object): Promise<T> {
  const answer = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!answer.ok) {
    const problem = (await answer.json()) as NotFound;
    throw new Error(`${problem.status} ${problem.code}: ${problem.message}`);
  }
  return (await answer.json()) as T;
}

export async function story(token: string): Promise<string[]> {
  const loan: StartBody = { applicant: { name: "Ada", income: 5000 }, loan: { amount: 12000 } };
  const headers: StartHeaders = { "Idempotency-Key": "loan-ada-1", "Flowx-Platform": "web" };
  void headers;
  const started = await call<StartAnswer>(token, "POST", `${app}/process-name/loan_application/start`, loan);
  const review: Schemas["Token"] | undefined = started.tokens.find((t) => t.currentNodeId === "review");
  const data = await call<Schemas["ProcessData"]>(token, "GET", `${base}/api/runtime/process/${started.uuid}/data`);
  void data;
  const action: ActionPath = { uuid: started.uuid, tokenUuid: review?.uuid ?? "", actionName: "approve" };
  const acted = await call<Schemas["StartResponse"]>(
    token,
    "POST",
    `${base}/api/runtime/process/${action.uuid}/token/${action.tokenUuid}/action/${action.actionName}/execute`,
    { decision: { by: "sam" } },
  );
  const finished: Schemas["InstanceState"] = acted.state;
  const query: CopyQuery = { paramsToCopy: "applicant,loan", withoutParams: "decision", dryRun: false };
  const copy = await call<CopyAnswer>(
    token,
    "POST",
    `${app}/process-name/loan_application/start/copyDataFrom/${started.uuid}?paramsToCopy=${query.paramsToCopy}`,
    { retryReason: "manual-rerun" },
  );
  const copyUuid = "uuid" in copy ? copy.uuid : "";
  const lineage = await call<Schemas["Lineage"]>(token, "GET", `${base}/api/runtime/process/${copyUuid}/lineage`);
  const search: SearchQuery = { processName: "loan_application", limit: 10 };
  const page = await call<Schemas["SearchPage"]>(token, "GET", `${base}/api/runtime/wks/x/process-instances?limit=${search.limit}`);
  const cursor: string | null = page.nextCursor;
  return [finished, copyUuid, ...lineage.ancestors.map((a) => a.uuid), cursor ?? "last page"];
}
