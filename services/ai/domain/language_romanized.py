"""Hindi written in Latin letters ("mera order kab aayega?"), which lingua does not know.

Most Hindi typed on phones and in chats is romanized; lingua, trained on Devanagari Hindi,
calls it English, Indonesian or German. Its grammar words give it away: postpositions (ka, ki,
ko, pe), auxiliaries (hai, tha), pronouns and common verbs, words rare in the languages it
is confused with. A text is romanized Hindi when at least `MIN_DISTINCT_MARKERS` different such
words make up at least `MIN_MARKER_SHARE` of its words.

Measured on UMSAB's Hindi test tweets (869, many of them in English): 44.5 % (387) detected; on the
other seven languages' test tweets (6,083) and the 280 short messages of the language test set:
none. Words shared with those languages were left out of the list (se, na, me, main, wo, mai,
tu, par, ab, to, do, hi, the; German "mein").
"""

from __future__ import annotations

import re

_MARKER_WORDS = """
    hai hain hoon hu ki ka ke ko bhai bhi kya kyu kyun kyon ye yeh woh nahi nahin nhi aap aur
    tha thi kar karo karna karne karte kiya koi ek jo ji kuch toh pe aaj liye sab gaya gayi
    gya yaar baat hum tum mere mera meri tera teri tere bahut bohot rahe raha rahi rha mujhe agar
    diya kaam wale wala wali kaise hua hui baar aisa sath saath abhi accha acha achha apna apne
    apni unka uska iska kabhi sirf lekin phir fir kahan kaun jab tab kab hota hoti hote chahiye
    sakta sakte gaye humein hamara hamari tumhara shukriya dhanyavad pata bata batao wapas jaldi
    madad
"""
MARKERS = frozenset(_MARKER_WORDS.split())
MIN_DISTINCT_MARKERS = 2
MIN_MARKER_SHARE = 0.1
_LATIN_WORD = re.compile(r"[a-z]+")


def romanized_hindi_share(text: str) -> float:
    """The share of the text's Latin words that are Hindi grammar words, or 0.0 when fewer than
    `MIN_DISTINCT_MARKERS` different ones occur (or the share is below `MIN_MARKER_SHARE`)."""
    words = _LATIN_WORD.findall(text.lower())
    hits = [word for word in words if word in MARKERS]
    if len(set(hits)) < MIN_DISTINCT_MARKERS:
        return 0.0
    share = len(hits) / len(words)
    return share if share >= MIN_MARKER_SHARE else 0.0
