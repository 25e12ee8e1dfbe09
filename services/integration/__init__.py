"""The integration service: contact events out to business systems, actions in.

Events out
    `WebhookSubscription` documents (config plane; `ccctl integrations create|list|delete`, or the
    ApplySubscription/ListSubscriptions/DeleteSubscription RPCs) name a tenant, event types, an
    optional CEL filter over the JSON body, an https endpoint (http in local mode, `CC_LOCAL_MODE`)
    and a Standard Webhooks secret. Each subscription gets its own durable JetStream consumer, HTTP
    session and circuit breaker (`service_layer/delivery.py`): at-least-once, in order per contact,
    the event id as `webhook-id`, retries with exponential back-off and jitter honouring
    Retry-After, then the dead-letter store (`ccctl integrations dlq list|replay`). Bodies are
    documented in `domain/payloads.py`. One replica delivers a subscription at a time (a lease in
    the region's bucket); a restarted worker resumes at its consumer's ack floor.

Residency
    A region's service delivers that region's events. Events carrying personal data go only to
    endpoints in the event's region or in the tenant's `residency.personalDataRegions`.

Connectors
    `IntegrationConnector` documents drive REST systems with CEL field mappings: a CRM (customer
    lookup on contact_created -> contact attributes; outcome write-back) and a helpdesk (the AI
    service's ai_ticket -> PUT of the contact's ticket). Same worker, same guarantees.
    A connector's `flowIntegrations` answer journeys' integration steps: routing calls
    InvokeConnector (`service_layer/connector_calls.py`), which GETs the system with the
    customer's identifier from the contact's opening event, within the step's timeout and the
    same residency rule, and returns the mapped fields.

Actions in
    UpdateAttributes, SendFlowEvent, CreateTask, CloseContact over gRPC/NATS and HTTPS
    (`entrypoints/http.py`, `CC_ACTIONS_HTTP_PORT`), integration-role tokens only, each applied at
    most once per idempotency key, published as `ActionRecord`s on `actions-<region>`.

Metrics (OpenTelemetry): contactcenter.integration.deliveries{outcome}, .delivery.latency,
.delivery.retries, .dead_letters, .breaker.state.
"""
