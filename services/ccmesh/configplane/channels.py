"""Channel endpoints: where customers reach a tenant (a number, a WhatsApp line, an address, a widget).

One `ChannelEndpoint` document per entry point. The gateway finds it by name in the webhook
URL (`/v1/twilio/<name>/sms`, `/v1/whatsapp/<name>`, `/v1/generic/<name>/messages`,
`/chat/<name>`) or, for e-mail, by the recipient address; it carries the provider's
credentials (never logged, masked by `ccctl get`) and what happens to a new contact: the
journey (`flow`) to start, or the `queue` to hand it to directly.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from ccmesh.channels import Channel, ChannelField
from ccmesh.configplane.base import Model, ObjectMeta, RegionName, ResourceId

#: A logical prompt name, optionally with a language suffix (`welcome`, `welcome.es`, `main-menu.pt-BR`).
_PROMPT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}(\.[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?)?$")

ProviderName = Literal["twilio", "whatsapp_cloud", "smtp", "webchat", "generic"]

#: The provider each channel is served by (tasks come from integrations, not from an endpoint).
PROVIDER_OF_CHANNEL: dict[Channel, str] = {
    Channel.SMS: "twilio",
    Channel.VOICE: "twilio",
    Channel.WHATSAPP: "whatsapp_cloud",
    Channel.EMAIL: "smtp",
    Channel.WEBCHAT: "webchat",
    Channel.API: "generic",
}


def _secret(value: str, *, minimum: int = 1, maximum: int = 4000) -> str:
    # Lengths are checked here rather than with min/max_length so an error never quotes the value.
    if len(value) < minimum:
        raise ValueError(f"must be at least {minimum} characters, got {len(value)}")
    if len(value) > maximum:
        raise ValueError(f"must be at most {maximum} characters, got {len(value)}")
    return value


class TwilioCredentials(Model):
    account_sid: str = Field(
        pattern=r"^AC[0-9a-zA-Z]{32}$", description="Twilio account SID (`AC` + 32 characters)."
    )
    auth_token: str = Field(
        description=(
            "Twilio auth token: verifies `X-Twilio-Signature` on webhooks and authenticates the REST API. "
            "Never logged."
        )
    )

    @field_validator("auth_token")
    @classmethod
    def _token(cls, value: str) -> str:
        return _secret(value, minimum=16, maximum=200)


class WhatsAppCredentials(Model):
    phone_number_id: str = Field(
        pattern=r"^[0-9]{1,32}$",
        description="WhatsApp Business phone number id (`metadata.phone_number_id` in webhooks).",
    )
    app_secret: str = Field(
        description="Meta app secret: verifies `X-Hub-Signature-256` on webhook POSTs. Never logged."
    )
    verify_token: str = Field(
        description="Token Meta echoes in the GET verification challenge (`hub.verify_token`). Never logged."
    )
    access_token: str = Field(
        default="", description="Graph API access token for outbound messages. Never logged."
    )

    @field_validator("app_secret", "verify_token")
    @classmethod
    def _required_secret(cls, value: str) -> str:
        return _secret(value, minimum=8, maximum=500)

    @field_validator("access_token")
    @classmethod
    def _access_token(cls, value: str) -> str:
        return _secret(value, minimum=0, maximum=4000)


class GenericCredentials(Model):
    signing_secret: str = Field(
        description=(
            "HMAC-SHA256 key: the provider signs `<timestamp>.<body>` and sends `X-CC-Signature: "
            "sha256=<hex>` with `X-CC-Timestamp`. Never logged."
        )
    )
    callback_url: str = Field(
        default="",
        max_length=2000,
        description="Where replies to the customer are POSTed (signed the same way); empty: no outbound.",
    )

    @field_validator("signing_secret")
    @classmethod
    def _signing_secret(cls, value: str) -> str:
        return _secret(value, minimum=16, maximum=500)


class SmtpRelay(Model):
    host: str = Field(min_length=1, max_length=253, description="Outbound SMTP relay host.")
    port: int = Field(default=587, ge=1, le=65535, description="Outbound SMTP relay port.")
    starttls: bool = Field(default=True, description="Upgrade the relay connection with STARTTLS.")
    username: str = Field(default="", max_length=500, description="Relay login; empty: no AUTH.")
    password: str = Field(default="", description="Relay password. Never logged.")

    @field_validator("password")
    @classmethod
    def _password(cls, value: str) -> str:
        return _secret(value, minimum=0, maximum=500)


class WebchatSettings(Model):
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to open the chat WebSocket (e.g. `https://shop.example`); empty: any.",
    )
    title: str = Field(default="Chat with us", max_length=200, description="Title shown by the widget.")


class RateLimit(Model):
    per_second: float = Field(default=50.0, gt=0, le=100000, description="Sustained requests per second.")
    burst: int = Field(default=100, ge=1, le=1000000, description="Requests allowed in a burst.")


class CallbackRetry(Model):
    attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Calls placed for one call-back request before it fails (no answer, busy, failed).",
    )
    spacing_seconds: float = Field(
        default=120.0,
        ge=0,
        le=3600,
        description="Wait between a call that was not answered and the next attempt, in seconds.",
    )


class ChannelEndpointSpec(Model):
    region: RegionName = Field(description="Region whose gateway serves this endpoint.")
    tenant: ResourceId = Field(description="Tenant the customers reach.")
    brand: str = Field(
        default="", max_length=63, description="Brand of the entry point; empty: the tenant's."
    )
    channel: ChannelField = Field(
        description="Channel customers use here (`api`: the signed generic provider API, once `generic`)."
    )
    provider: ProviderName = Field(
        description=(
            "Who carries the channel: `twilio` (sms, voice), `whatsapp_cloud`, `smtp`, `webchat`, `generic`."
        )
    )
    address: str = Field(
        min_length=1,
        max_length=320,
        description=(
            "The entry point's address: E.164 number (sms, voice), WhatsApp phone number id, e-mail "
            "address (the SMTP recipient), widget id (webchat) or provider name (api)."
        ),
    )
    flow: str = Field(default="", max_length=200, description="Journey (flow) started for a new contact.")
    alias: str = Field(default="", max_length=63, description="Flow alias to run; empty: `live`.")
    queue: str = Field(
        default="", max_length=200, description="Queue a new contact goes to when no flow is set."
    )
    language: str = Field(default="", max_length=16, description="Default language hint, e.g. `en`.")
    prompts: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Texts of the journey's prompts on this text channel: logical prompt name -> text; "
            "`<name>.<language>` (e.g. `welcome.es`) wins for that language. A prompt without a text "
            "is sent as its name."
        ),
    )
    provider_api_url: str = Field(
        default="",
        max_length=2000,
        description=(
            "Base URL of the provider's REST API for outbound messages; empty: the provider's public one."
        ),
    )
    twilio: TwilioCredentials | None = Field(default=None, description="Twilio account (sms, voice).")
    whatsapp: WhatsAppCredentials | None = Field(default=None, description="WhatsApp Cloud API line.")
    generic: GenericCredentials | None = Field(default=None, description="Generic provider signing.")
    smtp: SmtpRelay | None = Field(default=None, description="E-mail: the relay replies are sent through.")
    webchat: WebchatSettings | None = Field(default=None, description="Web chat widget settings.")
    rate_limit: RateLimit = Field(default_factory=RateLimit, description="Inbound request limit.")
    callback: CallbackRetry = Field(
        default_factory=CallbackRetry,
        description="Voice: how call backs placed from this endpoint are retried when not answered.",
    )
    record_calls: bool = Field(
        default=False,
        description=(
            "Voice: record each call (caller and agent on two channels) into the region's recordings "
            "store; a recording is transcribed after the call when no live media stream transcribed it."
        ),
    )
    enabled: bool = Field(default=True, description="False: the endpoint answers 404 and accepts nothing.")

    @field_validator("prompts")
    @classmethod
    def _prompts(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 500:
            raise ValueError(f"at most 500 prompts, got {len(value)}")
        for name, text in value.items():
            if not _PROMPT_NAME.match(name):
                raise ValueError(
                    f"prompt name {name!r}: letters, digits, '-', '_' and an optional '.<language>'"
                )
            if not text.strip() or len(text) > 4000:
                raise ValueError(f"prompt {name!r}: the text must be 1-4000 characters")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ChannelEndpointSpec:
        expected = PROVIDER_OF_CHANNEL.get(self.channel)
        if expected is None:
            served = ", ".join(PROVIDER_OF_CHANNEL)
            raise ValueError(f"channel: no endpoint serves channel {self.channel}; one of {served}")
        if self.provider != expected:
            raise ValueError(
                f"provider: channel {self.channel} is served by {expected!r}, not {self.provider!r}"
            )
        needs = {"twilio": "twilio", "whatsapp_cloud": "whatsapp", "generic": "generic"}.get(self.provider)
        if needs is not None and getattr(self, needs) is None:
            raise ValueError(f"{needs}: credentials are required for provider {self.provider}")
        if self.record_calls and self.channel != Channel.VOICE:
            raise ValueError(f"recordCalls: only voice endpoints record calls, this one is {self.channel}")
        if not self.flow and not self.queue:
            raise ValueError("flow or queue: a new contact needs a journey to start or a queue to wait in")
        if self.channel in (Channel.SMS, Channel.VOICE) and not (
            self.address.startswith("+") and self.address[1:].isdigit() and 8 <= len(self.address) <= 16
        ):
            raise ValueError("address: sms and voice endpoints need an E.164 number, e.g. +442071838750")
        if self.channel == Channel.EMAIL and "@" not in self.address:
            raise ValueError("address: an e-mail endpoint needs the address customers write to")
        return self


class ChannelEndpoint(Model):
    """One place customers reach a tenant: channel, provider, credentials and first step."""

    api_version: Literal["contactcenter.dev/v1alpha1"] = Field(
        alias="apiVersion", description="Versioned schema of this document."
    )
    kind: Literal["ChannelEndpoint"] = Field(description="Always `ChannelEndpoint`.")
    metadata: ObjectMeta = Field(description="Name (part of the webhook URL) and labels.")
    spec: ChannelEndpointSpec = Field(description="Channel, provider, credentials and first step.")
