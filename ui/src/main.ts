// Entry point of the MCP Auth front end: mounts the Svelte app and starts
// listening to the backend. `data-ready` tells end-to-end tests the script ran.

import "./styles.css";
import { mount } from "svelte";

import App from "./App.svelte";
import { mark } from "./lib/startup";
import { app } from "./lib/store.svelte";

mark("script");
// Before the first render: styles.css picks the fonts by this (see there).
if (/Linux/.test(navigator.userAgent) && !/Android/.test(navigator.userAgent)) {
  document.documentElement.dataset.os = "linux";
}

const target = document.getElementById("app");
if (!target) throw new Error("index.html has no #app element");

mount(App, { target });
mark("mounted");
document.documentElement.dataset.ready = "true";
void app.start();
