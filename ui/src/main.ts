// Entry point of the MCP Auth front end. The real account list arrives with
// the app's commands; for now the page only marks itself ready so tests can
// tell the script ran.

function markReady(): void {
  document.documentElement.dataset.ready = "true";
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", markReady, { once: true });
} else {
  markReady();
}
