// Imported first by start.mjs: stdout is reserved for the single JSON line
// that start.mjs prints once everything listens, so every console method that
// would write to stdout (oidc-provider prints its NOTICEs with console.info)
// is redirected to stderr. Use `emitStdout` for the one intended line.

const toStderr = (...args) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

/** Write one line to the real stdout. */
export function emitStdout(line) {
  process.stdout.write(`${line}\n`);
}

/** Prefixed logger writing to stderr. */
export function logger(name) {
  return (...args) => console.error(`[${name}]`, ...args);
}
