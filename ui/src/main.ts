// Entry point of the MCP Auth front end: mounts the Svelte app and starts
// listening to the backend. `data-ready` tells end-to-end tests the script ran.

import "./styles.css";
import { mount } from "svelte";

import App from "./App.svelte";
import { app } from "./lib/store.svelte";

const target = document.getElementById("app");
if (!target) throw new Error("index.html has no #app element");

mount(App, { target });
document.documentElement.dataset.ready = "true";
void app.start();
