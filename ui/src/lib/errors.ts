// Errors from the backend: every command rejects with an AppError {kind, message};
// anything else (no backend, a bug) is turned into one here.

import type { AppError } from "../bindings";

/** The kind given to failures where the Tauri backend is not there at all. */
export const NO_BACKEND = "no_backend";

export const NO_BACKEND_MESSAGE =
  "The MCP Auth backend is not available: this page runs outside the MCP Auth app, so nothing can be loaded or changed.";

/** Whether a value is an AppError as the backend sends it. */
export function isAppError(e: unknown): e is AppError {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as { kind?: unknown }).kind === "string" &&
    typeof (e as { message?: unknown }).message === "string"
  );
}

/** Any thrown value as an AppError. */
export function toAppError(e: unknown): AppError {
  if (isAppError(e)) return e.step ? { kind: e.kind, message: e.message, step: e.step } : { kind: e.kind, message: e.message };
  if (typeof e === "string") return { kind: "failure", message: e };
  if (e instanceof Error) return { kind: "failure", message: e.message || e.name };
  try {
    return { kind: "failure", message: JSON.stringify(e) };
  } catch {
    return { kind: "failure", message: String(e) };
  }
}

/** A one-line message for an error, with a hint for the kinds that have one. */
export function errorText(e: AppError): string {
  switch (e.kind) {
    case "keyring":
      return `${e.message} (the system keyring may be locked: unlock it and try again)`;
    default:
      return e.message;
  }
}

/** The names the backend gives its discovery steps (DiscoveryPreview.steps[].name). */
export const DISCOVERY_STEPS = [
  "MCP server",
  "Protected resource metadata",
  "Authorization server",
  "Client registration",
] as const;

export type DiscoveryStepName = (typeof DISCOVERY_STEPS)[number];

/**
 * Which discovery step a failed `discover` most likely stopped at, from the
 * engine's error message (the backend does not say it in a field).
 */
export function failedStep(message: string): DiscoveryStepName {
  const m = message.toLowerCase();
  // Messages that name the document's URL say best where it stopped.
  if (m.includes("/.well-known/oauth-protected-resource")) return "Protected resource metadata";
  if (
    m.includes("/.well-known/oauth-authorization-server") ||
    m.includes("/.well-known/openid-configuration")
  ) {
    return "Authorization server";
  }
  if (m.includes("protected resource metadata") || m.includes("authorization_servers")) {
    return "Protected resource metadata";
  }
  if (m.includes("is not one of the authorization servers")) return "Protected resource metadata";
  if (
    m.includes("client identity") ||
    m.includes("client registration") ||
    m.includes("client metadata document") ||
    m.includes("was registered with")
  ) {
    return "Client registration";
  }
  if (
    m.includes("authorization server") ||
    m.includes("issuer") ||
    m.includes("pkce") ||
    m.includes("code_challenge")
  ) {
    return "Authorization server";
  }
  return "MCP server";
}
