// The UI over the fake backend, for looking at screens without the app.
import { installFakeBackend } from "./fake-backend";
import { sampleAccounts } from "./fixtures";

const q = new URLSearchParams(location.search);
const fake = installFakeBackend({
  accounts: q.has("empty") ? [] : sampleAccounts(),
  pendingLink: q.has("link") ? { url: "https://mcp.example.com/mcp", scopes: ["mcp:read", "mcp:write"] } : null,
  discover:
    q.get("fail") === "discover"
      ? {
          kind: "protocol",
          message:
            "the authorization server `https://auth.example.com` does not advertise PKCE with S256 (code_challenge_methods_supported: plain); MCP requires it, so MCP Auth will not sign in there",
        }
      : undefined,
  upgrade: q.get("upgrade") === "browser" ? "browser" : "refresh",
  latency: 150,
});
(window as unknown as { fake: typeof fake }).fake = fake;

await import("../main");
