// An MCP client built on the official TypeScript SDK that talks to
// `mcpauth proxy` over stdio, as Claude Desktop or Cursor would. Used by the
// CLI's tests: node proxy-client.mjs <mcpauth binary> <proxy args...>
// It lists the tools, calls whoami, write_note (which needs a step-up) and
// unobtainable (which never succeeds), and prints one JSON summary on stdout.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: node proxy-client.mjs <mcpauth binary> proxy <account>');
  process.exit(2);
}
const transport = new StdioClientTransport({ command, args, env: process.env, stderr: 'inherit' });
const client = new Client({ name: 'mcpauth-proxy-test', version: '1.0.0' });
const summary = {};
const text = (result) => result.content?.map((c) => c.text).join('') ?? '';
try {
  await client.connect(transport);
  summary.server = client.getServerVersion()?.name;
  summary.tools = (await client.listTools()).tools.map((t) => t.name).sort();
  summary.whoami = JSON.parse(text(await client.callTool({ name: 'whoami', arguments: {} })));
  summary.write_note = text(await client.callTool({ name: 'write_note', arguments: { text: 'hi' } }));
  try {
    const result = await client.callTool({ name: 'unobtainable', arguments: {} });
    summary.unobtainable = { unexpected_result: result };
  } catch (err) {
    summary.unobtainable = { error: err.message };
  }
} catch (err) {
  summary.fatal = err.message;
} finally {
  await client.close().catch(() => {});
}
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(summary.fatal ? 1 : 0);
