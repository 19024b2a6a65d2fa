// Actions several screens share: they call the backend and update the store.

import type { AccountView } from "../bindings";
import { api } from "./api";
import { app } from "./store.svelte";

/** Starts a browser sign-in that renews an account's grant, and shows its detail screen. */
export async function signInAgain(a: AccountView): Promise<boolean> {
  const scopes = a.requested_scopes.length ? a.requested_scopes : a.granted_scopes;
  try {
    const started = await api.beginSignIn({
      mcp_url: a.server_url,
      name: null,
      scopes,
      redirect: app.settings?.redirect ?? "loopback",
      client_id: null,
      client_secret: null,
      authorization_server: null,
      account: a.id,
    });
    app.beginWaiting({
      started,
      purpose: "reauth",
      accountId: a.id,
      before: a.granted_scopes,
      asked: scopes,
      serverUrl: a.server_url,
    });
    app.go({ screen: "detail", id: a.id });
    return true;
  } catch (e) {
    app.error(`Cannot start signing in to ${a.name} again`, e);
    return false;
  }
}
