"""The provider sandbox: a local stand-in for Twilio, the WhatsApp Cloud API and an SMTP relay.

One real HTTP process (aiohttp) and one SMTP server (aiosmtpd) that speak the providers'
documented APIs, so the platform's outbound adapters talk to it exactly as they talk to the
real providers, and record everything they send:

- Twilio Messages `POST /2010-04-01/Accounts/<sid>/Messages.json`, Calls
  `POST .../Calls.json` (place a call) and `POST .../Calls/<CallSid>.json` (redirect a live call
  with `Twiml` or `Url`), with HTTP basic auth and Twilio's JSON errors;
- WhatsApp Cloud `POST /v<version>/<phone-number-id>/messages` with a bearer token;
- an SMTP relay that keeps every mail.

A caller (`ccsandbox.caller`) plays the customer on the phone: it follows the TwiML the platform
answers (Say, Play, Pause, Gather, Enqueue with its waitUrl, Redirect, Dial, Hangup), and a
live call redirected through the Calls API fetches its new TwiML. `GET /` lists what was sent;
`/sandbox/api/...` is the JSON API (`ccsandbox.client.SandboxClient`), which also scripts
failures (4xx, 5xx, timeouts) for tests.

    python -m ccsandbox            # CC_SANDBOX_HTTP_PORT, CC_SANDBOX_SMTP_PORT (0: free ports)

    async with Sandbox() as sandbox:          # in a test
        endpoint.spec.provider_api_url = sandbox.base_url
"""

from ccsandbox.server import Sandbox, SandboxSettings

__all__ = ["Sandbox", "SandboxSettings"]
