// Pure formatting helpers: times, status chips, scopes, registration kinds,
// diffs. No DOM, no backend: everything here is unit-tested.

import type { StatusView } from "../bindings";

/** Seconds since the Unix epoch, now (the backend's time unit). */
export function nowSecs(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * A duration in words, coarse: "42 s", "5 min", "3 h", "2 d".
 * Rounds down, so "59 min" stays "59 min" until the hour is full.
 */
export function coarseDuration(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/**
 * A duration for a live countdown: seconds while they matter.
 * "42 s", "4 min 05 s" (under 10 min), "42 min", "1 h 20 min", "2 d 3 h".
 */
export function countdown(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  if (s < 60) return `${s} s`;
  if (s < 600) {
    const m = Math.floor(s / 60);
    return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  }
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) {
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  return h ? `${d} d ${h} h` : `${d} d`;
}

/** "in 5 min", "3 h ago", "just now" for a Unix time relative to `now`. */
export function relativeTime(at: number, now: number): string {
  const diff = at - now;
  if (Math.abs(diff) < 5) return "just now";
  return diff > 0 ? `in ${coarseDuration(diff)}` : `${coarseDuration(-diff)} ago`;
}

/** A Unix time as local date and time; "—" when unknown. */
export function dateTime(at: number | null | undefined): string {
  if (at === null || at === undefined) return "—";
  const d = new Date(at * 1000);
  if (Number.isNaN(d.getTime())) return "—";
  return d.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** A Unix time as "date (relative)", e.g. "3 Mar 2025, 10:00:00 (in 5 min)". */
export function dateTimeRelative(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined) return "—";
  return `${dateTime(at)} (${relativeTime(at, now)})`;
}

export type Tone = "ok" | "busy" | "warn" | "error" | "muted";

export interface Chip {
  /** What the chip says. */
  label: string;
  /** Its colour. */
  tone: Tone;
  /** A longer explanation (the reason), for a tooltip and the detail screen. */
  detail: string | null;
}

/** The status chip of an account: text and colour from its StatusView. */
export function statusChip(status: StatusView, now: number): Chip {
  const reason = status.reason && status.reason.trim() ? status.reason : null;
  switch (status.state) {
    case "active": {
      if (status.expires_at === null) return { label: "Active", tone: "ok", detail: reason };
      const left = status.expires_at - now;
      if (left > 0) return { label: `Active · expires in ${countdown(left)}`, tone: "ok", detail: reason };
      return {
        label: `Active · expired ${coarseDuration(-left)} ago`,
        tone: "warn",
        detail: reason ?? "The access token has expired; it is refreshed when next used.",
      };
    }
    case "refreshing":
      return { label: "Refreshing…", tone: "busy", detail: reason };
    case "upgrading":
      return { label: "Upgrading scopes…", tone: "busy", detail: reason };
    case "needs_sign_in":
      return { label: "Needs sign-in", tone: "warn", detail: reason };
    case "error": {
      if (status.retry_at === null) return { label: "Error", tone: "error", detail: reason };
      const wait = status.retry_at - now;
      return {
        label: wait > 0 ? `Error · retry in ${countdown(wait)}` : "Error · retrying",
        tone: "error",
        detail: reason,
      };
    }
    case "signed_out":
      return { label: "Signed out", tone: "muted", detail: reason };
    default:
      return { label: status.state.replace(/_/g, " ") || "Unknown", tone: "muted", detail: reason };
  }
}

/** Whether the account can be signed in again from the UI (its grant is gone or failing). */
export function needsSignIn(status: StatusView): boolean {
  return status.state === "needs_sign_in" || status.state === "signed_out";
}

/** Splits a typed scope list ("a b, c") into unique scope names, in order. */
export function parseScopes(text: string): string[] {
  return unique(text.split(/[\s,]+/).filter((s) => s.length > 0));
}

/** The unique items of a list, in first-seen order. */
export function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}

export interface ScopeDiff {
  /** Granted now. */
  granted: string[];
  /** Offered by the server (or asked for before) but not granted: upgrade candidates. */
  available: string[];
  /** Asked for but not granted. */
  requestedNotGranted: string[];
}

/** Granted versus offered (and requested) scopes of an account. */
export function scopeDiff(
  granted: readonly string[],
  offered: readonly string[],
  requested: readonly string[] = [],
): ScopeDiff {
  const has = new Set(granted);
  return {
    granted: unique(granted),
    available: unique([...offered, ...requested]).filter((s) => !has.has(s)),
    requestedNotGranted: unique(requested).filter((s) => !has.has(s)),
  };
}

export interface UpgradeOutcome {
  /** Asked for and now granted. */
  added: string[];
  /** Asked for and still not granted. */
  missing: string[];
  /** Granted before, gone now. */
  lost: string[];
}

/** What an upgrade really changed: compares the grants before and after. */
export function upgradeOutcome(
  before: readonly string[],
  after: readonly string[],
  asked: readonly string[],
): UpgradeOutcome {
  const was = new Set(before);
  const now = new Set(after);
  return {
    added: unique(after).filter((s) => !was.has(s)),
    missing: unique(asked).filter((s) => !now.has(s)),
    lost: unique(before).filter((s) => !now.has(s)),
  };
}

/** A sentence saying what an upgrade changed. */
export function describeUpgrade(o: UpgradeOutcome): string {
  const parts: string[] = [];
  parts.push(o.added.length ? `Granted: ${o.added.join(", ")}.` : "No new scope was granted.");
  if (o.missing.length) parts.push(`Not granted: ${o.missing.join(", ")}.`);
  if (o.lost.length) parts.push(`No longer granted: ${o.lost.join(", ")}.`);
  return parts.join(" ");
}

/** The registration kind in words. */
/** What a client registration kind means, for someone who never met the term. */
export function registrationHint(kind: string): string {
  switch (kind) {
    case "pre_registered":
      return "the authorization server registers no apps itself: you need the client id it gave you";
    case "metadata_document":
      return "MCP Auth names itself by a URL that describes it, so nothing needs registering first";
    case "dynamic":
      return "MCP Auth registers itself with the authorization server as it signs you in";
    default:
      return "";
  }
}

export function registrationLabel(kind: string): string {
  switch (kind) {
    case "pre_registered":
      return "Pre-registered client";
    case "metadata_document":
      return "Client ID Metadata Document";
    case "dynamic":
      return "Dynamic client registration";
    default:
      return kind.replace(/_/g, " ");
  }
}

/** The client authentication method in words. */
export function clientAuthLabel(method: string): string {
  switch (method) {
    case "none":
      return "none (public client, PKCE)";
    case "client_secret_basic":
      return "client secret (HTTP Basic)";
    case "client_secret_post":
      return "client secret (form post)";
    case "private_key_jwt":
      return "private key JWT";
    default:
      return method || "—";
  }
}

/** The host (and port) of a URL, or the text itself when it is not a URL. */
export function hostOf(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

/** Whether a string is an http(s) URL with a host. */
export function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text.trim());
    return (u.protocol === "https:" || u.protocol === "http:") && u.host.length > 0;
  } catch {
    return false;
  }
}

/** An account's title: its name, or its server's host and path when the name is the URL. */
export function displayName(a: { name: string; server_url: string }): string {
  if (a.name !== a.server_url || !a.name.includes("://")) return a.name;
  try {
    const u = new URL(a.server_url);
    return u.pathname && u.pathname !== "/" ? `${u.host}${u.pathname}` : u.host;
  } catch {
    return a.name;
  }
}

/** Who an account is signed in as, in words. */
export function subjectLabel(subject: string | null, kind: string): string {
  if (subject && subject.trim()) return subject;
  return kind === "machine" ? "machine account (client credentials)" : "unknown user";
}

export type DiffLineKind = "add" | "del" | "hunk" | "header" | "context";

export interface DiffLine {
  kind: DiffLineKind;
  text: string;
}

/** Splits a unified diff into lines tagged for colouring. */
export function diffLines(diff: string): DiffLine[] {
  const lines = diff.replace(/\n$/, "").split("\n");
  return lines.map((text): DiffLine => {
    if (text.startsWith("+++") || text.startsWith("---")) return { kind: "header", text };
    if (text.startsWith("@@")) return { kind: "hunk", text };
    if (text.startsWith("+")) return { kind: "add", text };
    if (text.startsWith("-")) return { kind: "del", text };
    return { kind: "context", text };
  });
}

/** Counts of added and removed lines in a unified diff. */
export function diffStats(diff: string): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const l of diffLines(diff)) {
    if (l.kind === "add") added++;
    else if (l.kind === "del") removed++;
  }
  return { added, removed };
}

/** Masks a secret for display: its first characters and "****". */
export function maskSecret(secret: string, keep = 6): string {
  if (secret.length <= keep) return "****";
  return `${secret.slice(0, keep)}****`;
}

/** The activity kinds the backend logs, in words. */
export function activityLabel(kind: string): string {
  const labels: Record<string, string> = {
    discovery: "Discovery",
    sign_in: "Sign-in",
    refresh: "Refresh",
    upgrade: "Scope upgrade",
    step_up: "Step-up",
    revocation: "Revocation",
    sign_out: "Sign-out",
    error: "Error",
  };
  return labels[kind] ?? kind.replace(/_/g, " ");
}

/** Pluralizes a count: plural(1, "account") → "1 account". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
