"""Keyboard slips: the spelling errors a person makes typing a name into a form."""

from __future__ import annotations

import random

_NEIGHBOURS = {
    "A": "QWSZ", "B": "VGHN", "C": "XDFV", "D": "SERFCX", "E": "WSDR", "F": "DRTGVC", "G": "FTYHBV",
    "H": "GYUJNB", "I": "UJKO", "J": "HUIKMN", "K": "JIOLM", "L": "KOP", "M": "NJK", "N": "BHJM",
    "O": "IKLP", "P": "OL", "Q": "WA", "R": "EDFT", "S": "AWEDXZ", "T": "RFGY", "U": "YHJI",
    "V": "CFGB", "W": "QASE", "X": "ZSDC", "Y": "TGHU", "Z": "ASX",
}  # fmt: skip


def keyboard_typo(rng: random.Random, text: str) -> str:
    """One slip: a neighbouring key, a dropped or doubled letter, or two letters swapped."""
    if len(text) < 3:
        return text
    position = rng.randrange(1, len(text))  # people rarely get the first letter wrong
    kind = rng.randrange(4)
    letter = text[position]
    if kind == 0 and letter.upper() in _NEIGHBOURS:
        replacement = rng.choice(_NEIGHBOURS[letter.upper()])
        replacement = replacement if letter.isupper() else replacement.lower()
        return text[:position] + replacement + text[position + 1 :]
    if kind == 1:
        return text[:position] + text[position + 1 :]
    if kind == 2:
        return text[:position] + letter + text[position:]
    if position < len(text) - 1 and text[position] != text[position + 1]:
        return text[:position] + text[position + 1] + text[position] + text[position + 2 :]
    return text[:position] + text[position + 1 :]
