// A real HTTP forward proxy (the `proxy` package: plain requests and CONNECT
// tunnels), for tests of HTTPS_PROXY / HTTP_PROXY / NO_PROXY. Listens on
// 127.0.0.1 at a free port and prints one JSON line on stdout once it does:
//   {"url": "http://127.0.0.1:P"}
// then one JSON line per request it forwards, as it receives it:
//   {"method": "GET", "target": "http://127.0.0.1:4402/mcp"}
//   {"method": "CONNECT", "target": "127.0.0.1:4404"}
// Ends when stdin closes (the test process is gone) or on SIGTERM.

import http from 'node:http';

import { createProxy } from 'proxy';

const server = createProxy(http.createServer());
const line = (value) => process.stdout.write(`${JSON.stringify(value)}\n`);
server.on('request', (req) => line({ method: req.method, target: req.url }));
server.on('connect', (req) => line({ method: 'CONNECT', target: req.url }));

server.listen(0, '127.0.0.1', () => line({ url: `http://127.0.0.1:${server.address().port}` }));

const stop = () => {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
};
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
