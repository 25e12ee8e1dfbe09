"""Extractive summaries of a conversation: so far (live) and at wrap-up.

Sentences are scored by how many of the conversation's content words they carry (words
said more than once weigh more), the customer's first request always leads, the agent's most
telling sentence follows when the agent said anything (both sides of the conversation), and
chosen sentences keep their original order and speaker so the summary reads as a short story.
Input is the redacted text: a summary never holds personal data.

The sentences are quoted as they were said; the words around them (speaker labels, what the
contact was about, the mood) are written in the customer's language where a template exists
(`TEMPLATES`), and otherwise in English with a note saying so.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_SENTENCE = re.compile(r"(?<=[.!?。\uff01\uff1f])\s+|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "to",
        "of",
        "in",
        "on",
        "for",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "i",
        "you",
        "we",
        "it",
        "my",
        "your",
        "me",
        "this",
        "that",
        "with",
        "at",
        "have",
        "has",
        "had",
        "do",
        "does",
        "did",
        "not",
        "no",
        "so",
        "can",
        "could",
        "would",
        "will",
        "just",
        "please",
        "hi",
        "hello",
        "thanks",
        "thank",
        "ok",
        "okay",
        "el",
        "la",
        "los",
        "las",
        "de",
        "que",
        "y",
        "en",
        "un",
        "una",
        "por",
        "con",
        "para",
        "es",
        "mi",
        "me",
        "lo",
        "le",
        "se",
        "no",
        "si",
        "le",
        "du",
        "des",
        "et",
        "est",
        "je",
        "il",
        "ne",
        "pas",
        "der",
        "die",
        "das",
        "und",
        "ist",
        "ich",
        "nicht",
        "ein",
        "eine",
        "zu",
        "mit",
        "o",
        "a",
        "os",
        "as",
        "um",
        "uma",
        "do",
        "da",
        "em",
        "com",
        "para",
    ]
)


@dataclass(frozen=True)
class Turn:
    speaker: str  # "customer", "agent" or "bot"
    text: str


def reply_speaker(sender: str) -> str:
    """Who wrote a `MessageSent`: `agent:<id>` -> "agent"; `bot`, `bot:<flow>` -> "bot"."""
    return "agent" if sender.startswith("agent") else "bot"


def _sentences(turns: Sequence[Turn]) -> list[tuple[int, Turn, str]]:
    out = []
    for index, turn in enumerate(turns):
        for sentence in _SENTENCE.split(turn.text.strip()):
            if len(_WORD.findall(sentence)) >= 2:
                out.append((index, turn, sentence.strip()))
    return out


@dataclass(frozen=True)
class Template:
    customer: str
    agent: str
    bot: str
    #: {topic}, {messages}, {mood}
    headline: str
    unclassified: str
    improved: str
    worsened: str
    steady: str


TEMPLATES: dict[str, Template] = {
    "en": Template(
        "Customer:", "Agent:", "Bot:",
        "Contact about {topic}; {messages} customer message(s); the customer's mood {mood}.",
        "an unclassified request", "improved", "worsened", "stayed steady",
    ),
    "es": Template(
        "Cliente:", "Agente:", "Bot:",
        "Contacto sobre {topic}; {messages} mensaje(s) del cliente; el ánimo del cliente {mood}.",
        "una consulta sin clasificar", "mejoró", "empeoró", "se mantuvo estable",
    ),
    "pt": Template(
        "Cliente:", "Agente:", "Bot:",
        "Contato sobre {topic}; {messages} mensagem(ns) do cliente; o humor do cliente {mood}.",
        "um pedido não classificado", "melhorou", "piorou", "manteve-se estável",
    ),
    "fr": Template(
        "Client :", "Agent :", "Bot :",
        "Contact au sujet de {topic} ; {messages} message(s) du client ; l'humeur du client {mood}.",
        "une demande non classée", "s'est améliorée", "s'est dégradée", "est restée stable",
    ),
    "de": Template(
        "Kunde:", "Agent:", "Bot:",
        "Kontakt zu {topic}; {messages} Kundennachricht(en); die Stimmung des Kunden {mood}.",
        "einem nicht eingeordneten Anliegen", "hat sich verbessert", "hat sich verschlechtert",
        "blieb unverändert",
    ),
    "it": Template(
        "Cliente:", "Operatore:", "Bot:",
        "Contatto riguardo a {topic}; {messages} messaggio/i del cliente; l'umore del cliente {mood}.",
        "una richiesta non classificata", "è migliorato", "è peggiorato", "è rimasto stabile",
    ),
    "ja": Template(
        "お客様:", "担当者:", "ボット:",
        "{topic}に関するお問い合わせ。お客様のメッセージ{messages}件。お客様の気分は{mood}。",
        "未分類のご要望", "改善しました", "悪化しました", "変わりませんでした",
    ),
    "ar": Template(
        "العميل:", "الموظف:", "الروبوت:",
        "تواصل بخصوص {topic}؛ {messages} رسالة من العميل؛ مزاج العميل {mood}.",
        "طلب غير مصنف", "تحسّن", "ساء", "بقي مستقرًا",
    ),
}  # fmt: skip
DEFAULT_LANGUAGE = "en"


def template_for(language: str) -> tuple[Template, str]:
    """The template for `language`, or English with a note saying the language has none."""
    code = language.split("-")[0].lower()
    if code in TEMPLATES:
        return TEMPLATES[code], ""
    if not code or code == "und":
        return TEMPLATES[DEFAULT_LANGUAGE], ""
    return TEMPLATES[DEFAULT_LANGUAGE], f"(Summary in English: no summary template for language {code!r}.)"


def summarize(turns: Sequence[Turn], max_sentences: int = 3, language: str = DEFAULT_LANGUAGE) -> str:
    template, note = template_for(language)
    gist = _gist(turns, max_sentences, template)
    return f"{gist} {note}".strip() if gist else ""


def _gist(turns: Sequence[Turn], max_sentences: int, template: Template) -> str:
    sentences = _sentences(turns)
    if not sentences:
        return ""
    words = Counter(
        w for _, _, s in sentences for w in {w.lower() for w in _WORD.findall(s)} if w.lower() not in _STOP
    )

    def weight(item: tuple[int, Turn, str]) -> float:
        content = [w.lower() for w in _WORD.findall(item[2]) if w.lower() not in _STOP]
        return float(sum(words[w] for w in set(content)) / (1 + len(content) ** 0.5))

    first_customer = next((s for s in sentences if s[1].speaker == "customer"), sentences[0])
    chosen = [first_customer]
    # Both sides: the agent's most telling sentence, when the agent said anything.
    agent = sorted((s for s in sentences if s[1].speaker == "agent"), key=weight, reverse=True)
    if agent and max_sentences > 1:
        chosen.append(agent[0])
    ranked = sorted((s for s in sentences if s not in chosen), key=weight, reverse=True)
    chosen += ranked[: max(0, max_sentences - len(chosen))]
    chosen.sort(key=lambda s: sentences.index(s))
    return " ".join(f"{_label(turn.speaker, template)} {_sentence_end(text)}" for _, turn, text in chosen)


def _label(speaker: str, template: Template) -> str:
    return {"customer": template.customer, "agent": template.agent, "bot": template.bot}.get(
        speaker, f"{speaker}:"
    )


def _sentence_end(text: str) -> str:
    return text if text[-1:] in ".!?。\uff01\uff1f" else f"{text}."


def wrap_up(
    turns: Sequence[Turn], intent: str, sentiment_trend: float, language: str = DEFAULT_LANGUAGE
) -> str:
    """The end-of-contact summary: the gist, what it was about and how the customer left, in the
    customer's language where there is a template (the intent name itself stays as trained)."""
    template, note = template_for(language)
    gist = _gist(turns, 4, template)
    mood = (
        template.improved
        if sentiment_trend > 0.2
        else template.worsened
        if sentiment_trend < -0.2
        else template.steady
    )
    topic = intent.replace("_", " ") if intent and intent != "out_of_scope" else template.unclassified
    messages = sum(1 for t in turns if t.speaker == "customer")
    headline = template.headline.format(topic=topic, messages=messages, mood=mood)
    return " ".join(part for part in (headline, gist, note) if part)
