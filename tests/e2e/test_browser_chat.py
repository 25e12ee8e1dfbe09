"""A customer, an agent and a supervisor, each in real headless Chromium, with the whole platform running.

The platform starts as `make run` starts it: nats-server and the five services as processes,
the example ContactCenter (with AI insights streamed) and channel endpoints applied, the example
queue and agents of examples/workspace/eu.yaml loaded through the services' own APIs. Then, in
isolated browser contexts:

- the agent opens /agent, logs in with a token and goes available;
- the customer opens the chat page of the `acme-webchat` endpoint and writes;
- the agent's page shows the offer; the agent accepts, sees the customer's message and replies;
- the customer's widget shows "agent joined" and the reply; after a reload the widget restores
  the conversation (same visitor, same contact);
- a later customer message reaches the agent live with its AI insights; the customer asks for a
  call back; the supervisor page shows the queue and the agents by state; the agent wraps up.

Every wait polls a DOM condition with a generous limit (a guard against hangs, never a timing
assertion). On failure the test saves screenshots and prints the pages' console output and the
service logs' tails.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest

from ccctl.launcher import (
    LaunchPlan,
    Platform,
    apply_examples,
    seed_examples,
    start_nats,
    start_services,
    stop,
    wait_until_serving,
)
from ccmesh.auth import TokenAuthority
from ccmesh.configplane.loader import load_file
from ccmesh.configplane.models import ContactCenter
from ccmesh.configplane.store import ConfigStore
from ccmesh.natsserver import free_port
from tests.e2e.cdp_browser import HeadlessChromium, Page, find_chromium

REPO = Path(__file__).resolve().parents[2]
TENANT = "acme"
AGENT_ID = "alice"
ENDPOINT = "acme-webchat"
#: The widget lives in a shadow root on the chat page.
WIDGET = "document.querySelector('.cc-chat-host').shadowRoot"

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(
            "no chromium on this machine: `make browser` (tools/install_chromium.sh) installs it; "
            "it needs root for apt-get"
        )
    return path


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    plan = LaunchPlan(
        data_dir=tmp_path / "data",
        regions=["eu"],
        examples_dir=REPO / "examples",
        nats_port=free_port(),
        nats_monitor_port=free_port(),
        grpc_base_port=0,
        gateway_http_port=free_port(),
        ready_timeout=60,
    )
    (plan.data_dir / "logs").mkdir(parents=True)
    (plan.data_dir / "auth-secret").write_text("browser-e2e-secret-" + "x" * 32)
    running = Platform(plan)
    try:
        await asyncio.to_thread(start_nats, running)
        await apply_examples(running)
        await _stream_ai_insights(running)
        start_services(running, (plan.data_dir / "auth-secret").read_text().strip())
        await wait_until_serving(running)
        # The `support` queue the web chat endpoint hands new contacts to, and its agents.
        await seed_examples(running, (plan.data_dir / "auth-secret").read_text().strip())
        yield running
    finally:
        await asyncio.to_thread(stop, running)


async def _stream_ai_insights(platform: Platform) -> None:
    """The example region with `ai.streamInsights` on, so insights reach the agent's panel."""
    (sourced,) = load_file(REPO / "examples" / "eu.yaml")
    document = sourced.document
    assert isinstance(document, ContactCenter)
    ai = document.spec.ai.model_copy(update={"stream_insights": True})
    document = document.model_copy(update={"spec": document.spec.model_copy(update={"ai": ai})})
    nc = await nats.connect(platform.nats_url)
    try:
        await (await ConfigStore.open(nc.jetstream())).apply(document)
    finally:
        await nc.close()


def _token(platform: Platform, role: str, subject: str) -> str:
    secret = (platform.plan.data_dir / "auth-secret").read_text().strip()
    return TokenAuthority(secret).mint(TENANT, role, subject, 600)


def _log_tails(platform: Platform, lines: int = 40) -> str:
    report = []
    for log in sorted((platform.plan.data_dir / "logs").glob("*.log")):
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        report.append(f"--- {log.name} (last {len(tail)} lines) ---")
        report.extend(tail)
    return "\n".join(report)


async def _log_in_available(agent: Page, base: str, token: str) -> None:
    await agent.goto(f"{base}/agent")
    await agent.type_into("document.getElementById('token')", token)
    await agent.click("document.querySelector('#login-form button[type=submit]')")
    await agent.wait_for("!document.getElementById('workspace').hidden")
    # Choosing an option in a <select> is not a key or mouse sequence chromium replays headless;
    # set it and fire the same change event the browser fires when a person picks it.
    await agent.evaluate(
        "(() => { const s = document.getElementById('state-select'); s.value = 'available';"
        " s.dispatchEvent(new Event('change', {bubbles: true})); })()"
    )
    await agent.wait_for("document.getElementById('state-select').dataset.state === 'available'")


def _widget_messages(kind: str) -> str:
    return f"[...{WIDGET}.querySelectorAll('.message.{kind} .text')].map(e => e.textContent)"


async def test_customer_chats_with_an_agent_in_real_browsers(
    tmp_path: Path, chromium: str, platform: Platform
) -> None:
    base = f"http://127.0.0.1:{platform.plan.gateway_http_port}"
    # Markup in customer text must come out as text on every page, never as elements.
    question = "Hello, where is my order <b>4711</b>?"
    reply = "Hi! Your order left our warehouse today."
    async with HeadlessChromium.launch(tmp_path / "browser", chromium) as browser:
        try:
            agent = await browser.new_page("agent")
            # A token that does not verify is refused, and the page says so and asks again.
            await agent.goto(f"{base}/agent")
            await agent.type_into("document.getElementById('token')", "cct1.forged.token")
            await agent.click("document.querySelector('#login-form button[type=submit]')")
            await agent.wait_for("document.getElementById('connection').textContent.includes('not accepted')")
            assert await agent.evaluate("!document.getElementById('login').hidden")
            await agent.evaluate("document.getElementById('token').value = ''")
            await _log_in_available(agent, base, _token(platform, "agent", AGENT_ID))

            customer = await browser.new_page("customer")
            await customer.goto(f"{base}/chat/{ENDPOINT}")
            await customer.wait_for(f"{WIDGET}.querySelector('.title').textContent === 'ACME support'")
            await customer.wait_for(f"{WIDGET}.querySelector('.status').textContent.startsWith('Connected')")
            await customer.type_into(f"{WIDGET}.querySelector('textarea')", question)
            await customer.press_enter()
            # Acked: the "sending..." mark gives way to the time.
            await customer.wait_for(
                f"[...{WIDGET}.querySelectorAll('.message.customer .meta')]"
                ".some(e => !e.textContent.includes('sending'))"
            )

            offer = await agent.wait_for("document.querySelector('#offers .offer')?.textContent", seconds=60)
            assert question in offer
            assert "Web chat" in offer and "support" in offer
            assert "expires in" in offer  # the countdown to the offer's deadline
            # The customer by a name (a web chat visitor's is masked), never by an internal id.
            assert "Web visitor" in offer
            await agent.click("document.querySelector('#offers .offer button.accept')")
            await agent.wait_for(
                "[...document.querySelectorAll('#messages .message.customer .text')]"
                f".some(e => e.textContent === {question!r})"
            )
            assert await agent.evaluate("document.querySelectorAll('#workspace b').length") == 0
            tab = await agent.evaluate("document.querySelector('#contacts [role=tab]').textContent")
            assert "Web visitor" in tab, tab
            # The AI insights about the first message, made before or after the accept.
            await agent.wait_for("document.getElementById('insight-language').textContent === 'en'")
            await customer.wait_for(
                f"[...{WIDGET}.querySelectorAll('.message.notice')]"
                ".some(e => /agent joined/i.test(e.textContent))"
            )

            await agent.type_into("document.getElementById('reply')", reply)
            await agent.press_enter()
            assert reply in await customer.wait_for(f"{_widget_messages('agent')}.join('\\n')")
            await agent.wait_for(
                "[...document.querySelectorAll('#messages .message.agent .text')]"
                f".some(e => e.textContent === {reply!r})"
            )

            # A reload is the same visitor on the same contact: the widget restores the history.
            await customer.goto(f"{base}/chat/{ENDPOINT}")
            restored = await customer.wait_for(
                f"(() => {{ const c = {_widget_messages('customer')}, a = {_widget_messages('agent')};"
                f" return c.includes({question!r}) && a.includes({reply!r}) ? [c, a] : null; }})()"
            )
            assert restored == [[question], [reply]]

            # The connection drops and the customer writes on: the widget reconnects and delivers
            # the message once. It reaches the agent live, and so do the AI insights about it.
            assert await customer.drop_websockets() == 1
            follow_up = "Could you also send the tracking number please?"
            await customer.type_into(f"{WIDGET}.querySelector('textarea')", follow_up)
            await customer.press_enter()
            await agent.wait_for(
                "[...document.querySelectorAll('#messages .message.customer .text')]"
                f".some(e => e.textContent === {follow_up!r})"
            )
            await customer.wait_for(f"{WIDGET}.querySelector('.status').textContent.startsWith('Connected')")
            assert (await customer.evaluate(_widget_messages("customer"))).count(follow_up) == 1
            agent_sees = await agent.evaluate(
                "[...document.querySelectorAll('#messages .message.customer .text')].map(e => e.textContent)"
            )
            assert agent_sees == [question, follow_up]
            await agent.wait_for(
                "(() => { const last = [...document.querySelectorAll('#messages .message.customer')].pop();"
                " const panel = document.getElementById('insights');"
                " return panel.dataset.messageId === last.dataset.messageId; })()"
            )
            assert await agent.evaluate("document.getElementById('insight-language').textContent") == "en"

            # The agent reloads the page: the contact comes back with its queue and customer name,
            # and the page shows one state (routing's: busy with a contact), in one place.
            await agent.goto(f"{base}/agent")
            meta = await agent.wait_for(
                "(() => { const m = document.getElementById('contact-meta').textContent;"
                " return m.includes('queue support') ? m : null; })()",
                seconds=60,
            )
            assert "Web visitor" in meta and "?" not in meta, meta
            state = await agent.wait_for(
                "(() => { const s = document.getElementById('state-select');"
                " return s.dataset.state"
                " ? [s.dataset.state, s.value, s.selectedOptions[0].textContent] : null; })()"
            )
            assert (
                state[0] == state[1] and state[2] == {"busy": "Busy", "available": "Available"}[state[0]]
            ), state
            assert await agent.evaluate("document.querySelectorAll('#routing-state').length") == 0
            # The insight panel speaks for people and names the contact's channel.
            await agent.wait_for("document.getElementById('insight-channel').textContent === 'Web chat'")
            intent = await agent.evaluate("document.getElementById('insight-intent').textContent")
            assert "out_of_scope" not in intent, intent

            # "Call me back": the widget's form sends the request; the gateway confirms it.
            await customer.click(f"{WIDGET}.querySelector('.callback-toggle')")
            await customer.type_into(f"{WIDGET}.getElementById('cc-chat-phone')", "+44 20 7946 0958")
            await customer.click(f"{WIDGET}.querySelector('.callback button[type=submit]')")
            await customer.wait_for(
                f"[...{WIDGET}.querySelectorAll('.message.notice')]"
                ".some(e => e.textContent.includes('we will call you back'))"
            )

            # The supervisor sees the queue and the agents by state.
            supervisor = await browser.new_page("supervisor")
            await supervisor.goto(f"{base}/supervisor")
            await supervisor.type_into(
                "document.getElementById('token')", _token(platform, "supervisor", "sue")
            )
            await supervisor.click("document.querySelector('#login-form button[type=submit]')")
            row = await supervisor.wait_for("document.querySelector('tr[data-queue=support]')?.textContent")
            assert "acme-retail" in row
            # What the prediction rests on: measured arrivals, the handle time (default until
            # measured), the estimate with abandons and the load verdict.
            basis = await supervisor.evaluate(
                "(() => { const r = document.querySelector('tr[data-queue=support]');"
                " return ['arrivals', 'handle-time', 'with-abandons', 'abandon-rate']"
                ".map(c => r.querySelector('td.' + c)?.textContent ?? null); })()"
            )
            assert all(cell is not None for cell in basis), basis
            assert float(basis[0]) > 0, basis  # the customer who just wrote arrived in the window
            assert basis[1].endswith("s") or basis[1].endswith("(default)"), basis
            agents = await supervisor.wait_for(
                "[...document.querySelectorAll('#agent-states .count')]"
                ".reduce((n, e) => n + Number(e.textContent), 0)"
            )
            assert agents >= 2  # alice and bob, the roster's agents
            # Bob is configured but never logged in: offline, counted and listed.
            offline = await supervisor.evaluate(
                "Number(document.querySelector('#agent-states [data-state=offline] .count').textContent)"
            )
            assert offline >= 1
            rows = await supervisor.wait_for(
                "(() => { const r = [...document.querySelectorAll('#agent-rows tr')].map(tr =>"
                " [tr.dataset.agent, ...[...tr.children].map(c => c.textContent)]);"
                " return r.some(x => x[0] === 'alice') && r.some(x => x[0] === 'bob') ? r : null; })()"
            )
            by_agent = {row[0]: row[1:] for row in rows}
            assert by_agent["bob"][1] == "Offline", by_agent
            assert by_agent["alice"][1] in ("Busy", "Available") and by_agent["alice"][3].startswith("1"), (
                by_agent
            )
            assert all(" 60 s" not in row[2] for row in by_agent.values())
            levels = await supervisor.wait_for(
                "document.querySelector('#levels-by-channel tr[data-channel=webchat]')?.textContent"
            )
            assert levels.startswith("Web chat"), levels
            assert await supervisor.evaluate(
                "document.querySelector('#levels-by-queue tr[data-queue=support]') !== null"
            )

            # A person can look at the pages mid-conversation: CC_E2E_SCREENSHOTS=<folder>.
            if os.environ.get("CC_E2E_SCREENSHOTS"):
                await browser.screenshots(Path(os.environ["CC_E2E_SCREENSHOTS"]))

            # Wrap-up closes the agent's side of the contact.
            await agent.click("document.querySelector('#wrapup-form button[type=submit]')")
            await agent.wait_for("document.getElementById('connection').textContent.includes('Wrapped up')")
            await agent.wait_for("!document.getElementById('no-conversation').hidden")
        except BaseException:
            shots = await browser.screenshots(tmp_path / "screenshots")
            print("screenshots:", *shots)
            print(browser.console_report())
            print(_log_tails(platform))
            raise
