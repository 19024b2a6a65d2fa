"""The Python SDK test server (`mcp` 2.3.0, MCPServer over Streamable HTTP).

One endpoint serves both eras, as the SDK does by default: requests with
`MCP-Protocol-Version: 2026-07-28` go to its stateless modern handler, all
others to its sessionful 2025 transport (initialize, Mcp-Session-Id, GET
stream, DELETE). Auth is the SDK's own: a TokenVerifier plus AuthSettings,
which give the 401/403 challenges and the path-aware PRM route. The verifier
asks the main AS's `POST /__test/verify` (start.mjs), so this server accepts
exactly the tokens the Node servers accept.

    .venv/bin/python py_server.py --issuer URL --verify-url URL [--port N]

Binds 127.0.0.1 (port 0 = any), prints one JSON line {"url", "prm"} on stdout
once it accepts connections, logs to stderr, and exits when stdin closes.
"""

import argparse
import json
import logging
import socket
import sys
import threading
import warnings
from typing import Annotated, Any

import anyio
import anyio.abc
import httpx2  # what mcp 2.3.0 itself depends on (the httpx fork), no extra package
import uvicorn
from pydantic import AnyHttpUrl, BaseModel, Field

from mcp.server import MCPServer
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, Resolve, Sample
from mcp.server.subscriptions import InMemorySubscriptionBus, ToolsListChanged
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import CreateMessageResult, SamplingMessage, TextContent

# The legacy-era out-of-request notifications (session.send_*) are deprecated
# in 2.x but are exactly what a 2025 client gets; no warning per call.
warnings.filterwarnings("ignore", category=MCPDeprecationWarning)

UNICODE_TEXT = "\n".join(["héllo wörld — 你好, мир 🌍"] * 2000)  # same as tools.mjs
MODERN = "2026-07-28"


def log(*parts: Any) -> None:
    print(*parts, file=sys.stderr, flush=True)


def compact(value: Any) -> str:
    """JSON as the Node servers write it (no spaces)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# httpx2 logs every verify request at INFO; the SDK's own INFO lines (sessions
# created and ended) stay.
logging.getLogger("httpx2").setLevel(logging.WARNING)


args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
args.add_argument("--issuer", required=True)
args.add_argument("--verify-url", required=True)
args.add_argument("--port", type=int, default=0)
opts = args.parse_args()

# The resource URL contains the port, and AuthSettings wants it up front: bind
# first, hand the socket to uvicorn later.
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", opts.port))
PORT = sock.getsockname()[1]
RESOURCE = f"http://127.0.0.1:{PORT}/mcp"
PRM = f"http://127.0.0.1:{PORT}/.well-known/oauth-protected-resource/mcp"


class VerifyEndpoint(TokenVerifier):
    """Asks start.mjs's `/__test/verify` (jose, exact iss/aud, typ at+jwt)."""

    def __init__(self) -> None:
        self.http = httpx2.AsyncClient(timeout=30)

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            r = await self.http.post(opts.verify_url, json={"token": token, "audience": RESOURCE})
        except httpx2.HTTPError as err:
            log("verify request failed:", repr(err))
            return None
        if r.status_code != 200:
            log("token rejected:", r.text)
            return None
        claims = r.json()
        return AccessToken(
            token=token,
            client_id=claims["client_id"],
            scopes=claims["scope"].split(),
            expires_at=claims["exp"],
            resource=RESOURCE,
            subject=claims["sub"],
            claims={"iss": opts.issuer, **claims},
        )


bus = InMemorySubscriptionBus()  # kept, to publish from outside any request
mcp = MCPServer(
    "mcpauth-test-py",
    version="2.3.0",
    subscriptions=bus,
    token_verifier=VerifyEndpoint(),
    auth=AuthSettings(
        issuer_url=AnyHttpUrl(opts.issuer),
        resource_server_url=AnyHttpUrl(RESOURCE),
        required_scopes=["mcp:read"],
        # The verify endpoint has checked aud == RESOURCE exactly already.
        validate_token_resource=False,
    ),
)
background: anyio.abc.TaskGroup | None = None  # work that outlives a request (set in main)
aborted = 0  # `slow` calls cancelled since start


@mcp.tool()
def echo(text: str) -> str:
    """Returns its text."""
    return text


@mcp.tool()
def whoami() -> str:
    """Subject, scope and client of the access token."""
    token = get_access_token()
    claims = (token.claims or {}) if token else {}
    return compact({"sub": claims.get("sub"), "scope": claims.get("scope"), "client_id": token.client_id if token else None})


@mcp.tool()
async def progress(ctx: Context, steps: int = 3) -> str:
    """Sends `steps` progress notifications 50 ms apart (with a progressToken)."""
    for i in range(1, steps + 1):
        await ctx.report_progress(i, total=steps)  # a no-op without a progressToken
        # Also after the last: see sendProgress in tools.mjs.
        await anyio.sleep(0.05)
    return f"done {steps}"


@mcp.tool()
async def slow(ms: int = 30000) -> str:
    """Waits `ms`; stops when cancelled (counted, see `cancelled`)."""
    global aborted
    try:
        await anyio.sleep(ms / 1000)
    except anyio.get_cancelled_exc_class():
        aborted += 1  # modern: the stream closed; legacy: notifications/cancelled
        raise
    return "slow done"


@mcp.tool()
def cancelled() -> str:
    """How many `slow` calls were aborted on this server."""
    return compact({"aborted": aborted})


class Name(BaseModel):
    name: str


def ask_name() -> Elicit[Name]:
    return Elicit("Your name?", Name)


# Resolve() is era-portable: on 2026-07-28 the SDK answers input_required and
# resumes on the retry; on 2025 it sends elicitation/create in the middle of
# the call. Same for sampling below.
@mcp.tool()
async def elicit(answer: Annotated[ElicitationResult[Name], Resolve(ask_name)]) -> str:
    """Asks the user for a name (form elicitation)."""
    if isinstance(answer, AcceptedElicitation):
        return f"accept:{answer.data.name}"
    return answer.action


def ask_llm() -> Sample:
    return Sample([SamplingMessage(role="user", content=TextContent(type="text", text="Say hi"))], max_tokens=20)


@mcp.tool()
async def sample(answer: Annotated[CreateMessageResult, Resolve(ask_llm)]) -> str:
    """Asks the client's model to say hi (sampling)."""
    content = answer.content
    return f"sampled:{content.text if content.type == 'text' else content.type}"


@mcp.tool()
async def notify_later(ctx: Context) -> str:
    """Sends tools/list_changed 100 ms later (and a log message on 2025 sessions)."""
    legacy = ctx.protocol_version != MODERN
    session = ctx.session

    async def later() -> None:
        await anyio.sleep(0.1)
        await bus.publish(ToolsListChanged())  # every subscriptions/listen stream (2026-07-28)
        if legacy:  # no related request: the session's GET stream
            await session.send_tool_list_changed()
            await session.send_log_message(level="info", data="out-of-band hello")

    background.start_soon(later)
    return "scheduled"


@mcp.tool()
def unicode() -> str:
    """Long non-ASCII text."""
    return UNICODE_TEXT


# SEP-2243: `region` travels in Mcp-Param-Region too; the SDK checks it.
@mcp.tool()
def route(region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})], q: str | None = None) -> str:
    """Answers `routed <region>`."""
    return f"routed {region}"


# An x-mcp-header on an object is invalid. Registered only if the SDK lets us.
try:

    @mcp.tool()
    def bad_header(filter: Annotated[dict[str, Any], Field(json_schema_extra={"x-mcp-header": "Filter"})]) -> str:
        """Declares x-mcp-header on an object property (invalid)."""
        return "should not be listed"

except Exception as err:  # noqa: BLE001 - any refusal is fine, we only report it
    log(f"bad_header not registered: the SDK refuses it ({type(err).__name__}: {err})")


@mcp.resource("test://greeting", mime_type="text/plain")
def greeting() -> str:
    return "hello resource"


@mcp.resource("test://items/{id}")
def item(id: str) -> str:
    return f"item {id}"


@mcp.prompt()
def greet(name: str) -> str:
    return f"Hello {name}"


def exit_on_stdin_eof(server: uvicorn.Server) -> None:
    """start.mjs holds our stdin: EOF means it is gone (or stopping us)."""
    def watch() -> None:
        sys.stdin.buffer.read()
        server.should_exit = True

    threading.Thread(target=watch, daemon=True).start()


async def main() -> None:
    global background
    config = uvicorn.Config(
        mcp.streamable_http_app(),  # its lifespan runs the session manager
        log_level="warning",
        timeout_graceful_shutdown=1,  # open SSE streams would hold the shutdown otherwise
    )
    server = uvicorn.Server(config)
    exit_on_stdin_eof(server)

    async def announce() -> None:
        while not server.started:
            await anyio.sleep(0.01)
        print(compact({"url": RESOURCE, "prm": PRM}), flush=True)

    async with anyio.create_task_group() as tg:
        background = tg
        tg.start_soon(announce)
        await server.serve(sockets=[sock])
        tg.cancel_scope.cancel()


if __name__ == "__main__":
    anyio.run(main)
