"""Intent training sets as `ccctl` and the ai service exchange them: the label rule and the upload.

What an intent name and a training example may be is one rule both sides apply.

`ccctl ai train-intents` checks every label with `normalise_intent_name` before anything is
uploaded (so an error names the file's line), and the ai service checks the same way before
training (so a set sent by other means is held to the same rule, and nothing the CLI accepts
is refused after the upload).

A name is normalised (Unicode NFC, surrounding blanks dropped, inner runs of blanks become
one `_`); what remains must be 1-100 letters or digits of any script, `_` or `-`. Anything
else (`?`, `.`, `/`, quotes) is refused rather than silently rewritten, since flows match
intents by name and a rewritten name would never match.

A training set travels through the region's object store (`naming.ai_training_bucket`), not
inside the `TrainIntents` request (a real-size set is far larger than one NATS message): the
CLI puts it as `upload_object(tenant, job)` (zlib-compressed JSON `{intent: [examples]}`) and
names the object in the request; the service reads it, trains, and deletes it.
"""

from __future__ import annotations

import re
import unicodedata
import zlib

import orjson

#: The answer when no trained intent fits; a tenant cannot train an intent of that name.
OUT_OF_SCOPE = "out_of_scope"
MAX_INTENT_NAME = 100
MAX_EXAMPLE_CHARS = 1000
_BLANKS = re.compile(r"\s+")


class IntentLabelError(ValueError):
    """An intent name or example that no model may be trained with; the message says why."""


def normalise_intent_name(raw: str) -> str:
    """The intent name as stored, or `IntentLabelError` saying what is wrong with it."""
    name = _BLANKS.sub("_", unicodedata.normalize("NFC", raw).strip())
    if not name:
        raise IntentLabelError("intent name is empty")
    if len(name) > MAX_INTENT_NAME:
        raise IntentLabelError(
            f"intent name {name[:50]!r}... has {len(name)} characters; the maximum is {MAX_INTENT_NAME}"
        )
    wrong = sorted({char for char in name if not (char.isalnum() or char in "_-")})
    if wrong:
        shown = " ".join(repr(char) for char in wrong[:5])
        raise IntentLabelError(
            f"intent name {raw.strip()[:50]!r} has {shown}: only letters, digits, '_' and '-' "
            "(blanks become '_') are allowed"
        )
    if name == OUT_OF_SCOPE:
        raise IntentLabelError(f"{OUT_OF_SCOPE!r} is reserved: it is the answer when no intent fits")
    return name


def check_example(text: str) -> str | None:
    """The example as trained (None for a blank one, which is skipped), or `IntentLabelError`."""
    if not text.strip():
        return None
    if len(text) > MAX_EXAMPLE_CHARS:
        raise IntentLabelError(f"example has {len(text)} characters; the maximum is {MAX_EXAMPLE_CHARS}")
    return text


def upload_object(tenant_id: str, job: str) -> str:
    """The object an uploaded training set is stored as; the service refuses one outside the
    caller's tenant."""
    return f"uploads/{tenant_id}/{job}"


def pack_training_set(examples: dict[str, list[str]]) -> bytes:
    return zlib.compress(orjson.dumps(examples), 6)


def unpack_training_set(data: bytes) -> dict[str, list[str]]:
    """The training set in an uploaded object, or `IntentLabelError` saying what is wrong."""
    try:
        examples = orjson.loads(zlib.decompress(data))
    except (zlib.error, orjson.JSONDecodeError) as error:
        raise IntentLabelError(f"the uploaded training set is not compressed JSON: {error}") from None
    if not isinstance(examples, dict) or not all(
        isinstance(texts, list) and all(isinstance(t, str) for t in texts) for texts in examples.values()
    ):
        raise IntentLabelError("the uploaded training set must map intent names to lists of strings")
    return examples
