# Sourced inside a bench's keyring session (scripts/keyring-session.sh):
# starts the test servers (tests/servers/start.mjs, with this file's
# arguments) as a coprocess that lives as long as the shell, and sets
# $line (their JSON line), get <field> (one field of it, e.g. `get issuer`)
# and $mcp (the current MCP server's URL).
coproc SERVERS { node tests/servers/start.mjs "$@" 2>/dev/null; }
read -r line <&"${SERVERS[0]}"
get() { node -e "console.log(JSON.parse(process.argv[1]).$1)" "$line"; }
mcp=$(get mcp.current)
