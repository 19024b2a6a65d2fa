// The front end's start-up timeline: named moments in milliseconds since the
// Unix epoch, sent with the first render so that the app can log where its
// start-up time goes (src-tauri/src/startup.rs, bench/app.sh).

import type { StartupMark } from "../bindings";

const marks: StartupMark[] = [];

function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Notes a moment of start-up (the first time only, for each name). */
export function mark(name: string): void {
  if (!marks.some((m) => m.name === name)) marks.push({ name, at: epochNow() });
}

/** Forgets every mark (for tests, which start the app more than once). */
export function resetStartupMarks(): void {
  marks.length = 0;
}

/**
 * Every mark so far, with the page's own navigation moments first: when the
 * web process began loading the page, when the HTML arrived and when the DOM
 * was ready.
 */
export function startupMarks(): StartupMark[] {
  const nav = performance.getEntriesByType?.("navigation")[0] as
    | PerformanceNavigationTiming
    | undefined;
  const page: StartupMark[] = [{ name: "navigation start", at: performance.timeOrigin }];
  if (nav) {
    page.push(
      { name: "html received", at: performance.timeOrigin + nav.responseEnd },
      { name: "dom ready", at: performance.timeOrigin + nav.domInteractive },
    );
  }
  return [...page, ...marks];
}
