"""Exception types shared across sabr (kept tiny so every module can import them), and the
wording of configuration errors that more than one model uses (sabr.config, sabr.space)."""
from __future__ import annotations

import difflib
from typing import Iterable, Mapping

__all__ = ["ConfigError", "unknown_key"]

class ConfigError(ValueError):
    """A configuration is invalid. Each problem is one line naming the field, the value and
    what is allowed; the message is that line (after ``source``, the config file, when
    given), or for several problems a header with their count and one indented line each.

    Attributes:
        problems: the problem lines, duplicates removed.
        source: the config file the problems are in, or None.
    """

    def __init__(self, *problems: str, source: str | None = None) -> None:
        self.problems = tuple(dict.fromkeys(problems))
        self.source = source
        super().__init__(_message(self.problems, source))


def _message(problems: tuple[str, ...], source: str | None) -> str:
    """One problem: its line; several: 'N errors:' and a line each; ``source`` first."""
    where = f"{source}: " if source else ""
    if len(problems) == 1:
        return where + problems[0]
    return f"{where}{len(problems)} errors:" + "".join(f"\n  {p}" for p in problems)


def _spelling(key: str) -> str:
    """A key as a field name: 'Random-Seeds' and '--random-seeds' read as 'random_seeds'."""
    return str(key).strip().lstrip("-").replace("-", "_").lower()


def unknown_key(loc: str, key: str, allowed: Iterable[str], *,
                flags: Mapping[str, str] | None = None,
                elsewhere: Mapping[str, str] | None = None, what: str = "key") -> str:
    """The line for an unknown ``key`` at ``loc`` (its dotted path): what it probably meant,
    then the allowed keys (``what``: what a key is called, e.g. "run parameter").

    Suggested: the field a command-line flag of that name sets (``flags``: flag -> field,
    e.g. '--random-seeds' -> 'n_random_seeds'); else the closest ``allowed`` key
    (difflib) and a field of that exact name in another section (``elsewhere``: name ->
    dotted path); else the field of the closest flag.
    """
    allowed = sorted(allowed)
    flags, elsewhere = flags or {}, elsewhere or {}
    name = _spelling(key)
    by_flag = {_spelling(f): (field, f) for f, field in flags.items()}
    if name in by_flag:
        guesses = [_flag_guess(*by_flag[name])]
    else:
        guesses = difflib.get_close_matches(name, allowed, n=1)
        guesses += [elsewhere[name]] if name in elsewhere else []
        if not guesses:
            guesses = [_flag_guess(*by_flag[m]) for m in difflib.get_close_matches(name, by_flag, n=1)]
    keys = f"allowed {what}s: {', '.join(allowed)}"
    if not guesses:
        return f"{loc}: unknown {what} (misspelt?); {keys}"
    return f"{loc}: unknown {what}; did you mean {' or '.join(guesses)}? {keys}"


def _flag_guess(field: str, flag: str) -> str:
    """A suggestion that says which flag sets the field."""
    return f"{field} (the config name of {flag})"
