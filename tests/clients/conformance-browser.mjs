#!/usr/bin/env node
// The "browser" of conformance runs (BROWSER): the suite's authorization
// server approves at once, answering the authorization request with a
// redirect; this follows it to mcpauth's loopback listener, as a browser
// would. Nothing else: no cookies, no pages.
const url = process.argv[2];
if (!url) {
  console.error('usage: conformance-browser.mjs <authorization URL>');
  process.exit(2);
}
const authorize = await fetch(url, { redirect: 'manual' });
const location = authorize.headers.get('location');
if (!location) {
  console.error(`conformance-browser: ${authorize.status} from the authorization server, no redirect`);
  process.exit(0);
}
// The listener answers the callback (with a page, or an error for a refused
// response); its status is not the browser's business.
await fetch(new URL(location, url), { redirect: 'manual' }).catch((e) => {
  console.error(`conformance-browser: the redirect to ${location} failed: ${e.message}`);
});
