import { pasted, tokenProvider } from "../auth";
import { getJson } from "../api";
import { clear, errorText, h, statusLine } from "../dom";
import { navigate } from "../router";

export function signInPage(main: HTMLElement, search: URLSearchParams): void {
  const reason = search.get("reason");
  const field = h("textarea", { id: "token", name: "token", rows: 4, required: true, autocomplete: "off",
    spellcheck: "false", "aria-describedby": "token-help" }) as HTMLTextAreaElement;
  const status = statusLine();
  const form = h(
    "form",
    { class: "card narrow", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    reason ? h("p", { class: "error", role: "alert" }, `Signed out: ${reason}`) : null,
    h("label", { for: "token" }, "Bearer token"),
    field,
    h("p", { id: "token-help", class: "help" },
      "Paste a token: `procflow serve` prints one in its dev banner, `procflow token` mints one. ",
      "It is kept in this tab only (sessionStorage) and sent with every API call."),
    h("button", { type: "submit" }, "Sign in"),
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    pasted.set(field.value);
    status.textContent = "Checking the token…";
    // Any read that needs a token: a refused one comes back as a 401 to this page.
    getJson("/api/admin/workspaces")
      .catch((error: unknown) => {
        if (tokenProvider().token() === null) throw error;
      })
      .then(() => navigate(search.get("next") ?? "/instances"))
      .catch((error: unknown) => (status.textContent = errorText(error)));
  });
  clear(main, form);
  field.focus();
}
