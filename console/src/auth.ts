// Sign-in. The rest of the console asks a TokenProvider for a bearer token and never knows
// where it came from. Today the only provider is a pasted token kept in sessionStorage
// (closed with the tab; tests set it directly). An OIDC authorization-code + PKCE login for
// PROCFLOW_JWKS_URL deployments is another provider: its signIn() redirects to the issuer,
// a /console/callback page exchanges the code, and token() returns (or refreshes) the
// access token. See docs/console.md, "Adding OIDC".

export const TOKEN_KEY = "procflow.token";

export interface TokenProvider {
  /** The bearer token for the next API call, or null when signed out. */
  token(): string | null;
  /** Forget the token (a 401, or the operator signs out). */
  signOut(): void;
  /** A short name for the sign-in method, shown on the sign-in page. */
  readonly kind: string;
}

export class PastedToken implements TokenProvider {
  readonly kind = "pasted bearer token";

  token(): string | null {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  set(token: string): void {
    sessionStorage.setItem(TOKEN_KEY, token.trim().replace(/^Bearer\s+/i, ""));
  }

  signOut(): void {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

export const pasted = new PastedToken();
let provider: TokenProvider = pasted;

export function tokenProvider(): TokenProvider {
  return provider;
}

/** The seam for another sign-in method (OIDC): install it before the first page renders. */
export function useTokenProvider(next: TokenProvider): void {
  provider = next;
}

/** The token's subject, read from its payload for display only (the server verifies it). */
export function subjectOf(token: string | null): string | null {
  if (!token) return null;
  const part = token.split(".")[1];
  if (!part) return null;
  try {
    const text = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const payload: unknown = JSON.parse(text);
    if (payload && typeof payload === "object" && "sub" in payload) {
      return String((payload as { sub: unknown }).sub);
    }
  } catch {
    return null;
  }
  return null;
}
