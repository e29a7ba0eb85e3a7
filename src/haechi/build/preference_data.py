"""Preference pairs for ``--objective dpo``: a prompt, the answer preferred, the one not.

One reader per source, declared once in ``SOURCES`` (``--data-format``); every reader
takes a file, so the report's sha256 pins the exact pairs trained on:

- ``pairs``: jsonl of ``{"prompt", "chosen", "rejected"}`` strings, or TRL's
  conversational shape: ``prompt`` a list of system/user/assistant messages, ``chosen``
  and ``rejected`` each a list of one assistant message.
- ``arena``: side-by-side votes. Either rows of a votes file (``winner`` as
  ``haechi arena ratings`` reads it, plus ``prompt``, ``response_a``, ``response_b``; one
  pair a row), or ``haechi review export --format jsonl`` of a ``haechi arena pairs``
  campaign (each item's A and B answers and its reviewers' votes: the gold vote, else
  the majority; one pair an item). The winner's answer is chosen, the loser's rejected;
  ties, both-bad votes and split votes are dropped and counted.
- ``review``: ``haechi review export --format jsonl`` of a red-team campaign. Each item
  is decided by its gold ``attack_success`` label, else its reviewers' majority. For
  every prompt (same text) with answers decided safe (``no``: refused or harmless) and
  answers decided harmful (``yes``), every safe x harmful combination is a pair: the
  safe answer chosen. Control prompts (benign, where a refusal is over-refusal),
  multi-turn items, undecided items and prompts with only one kind are dropped and
  counted.
- ``judge``: ``haechi judge pairwise`` output. A pair counts when every criterion of the
  line names the same winner (A or B); ties and criteria that disagree are dropped.

A blank answer (a model may answer nothing) drops its pair, counted. Strings are
NFC-normalised (``documents.read_file``); problems are ``InputError`` naming
the file, the line and the field.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from haechi.build.train_data import ROLES, Message, file_sha256
from haechi.documents import Document, read_file
from haechi.errors import InputError

PreferenceFormat = Literal["pairs", "arena", "review", "judge"]


@dataclass(frozen=True)
class PreferencePair:
    """``prompt``: the conversation before the answer (a plain prompt is one user
    message); ``chosen`` and ``rejected``: the two answers; ``origin``: ``file:line``."""

    prompt: tuple[Message, ...]
    chosen: str
    rejected: str
    origin: str


@dataclass(frozen=True)
class PreferenceData:
    """The pairs of one file, its source, what was dropped (reason → count) and the
    sha256 of its bytes (hex)."""

    path: Path
    source: PreferenceFormat
    pairs: list[PreferencePair]
    sha256: str
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def format(self) -> PreferenceFormat:
        return self.source


Reader = Callable[[list[Document], Counter[str]], list[PreferencePair]]


@dataclass(frozen=True)
class Source:
    description: str
    read: Reader


def read_preferences(path: Path, source: PreferenceFormat = "pairs") -> PreferenceData:
    """Read the pairs of ``path`` as ``source`` (see the module docstring).

    Raises ``InputError`` for unreadable files, malformed rows (file, line, field) and a
    file that yields no pair (with the drop counts in the message).
    """
    if source not in SOURCES:
        raise InputError(
            f"unknown preference source {source!r}",
            field="data-format",
            hint="one of " + ", ".join(SOURCES),
        )
    if not path.is_file():
        raise InputError("no such file", file=str(path))
    documents = read_file(path)
    dropped: Counter[str] = Counter()
    pairs = SOURCES[source].read(documents, dropped)
    if not pairs:
        counts = ", ".join(f"{n} {why}" for why, n in dropped.items()) or "no rows"
        raise InputError(
            f"no preference pairs in the file ({counts})",
            file=str(path),
            hint=f"--data-format {source}: {SOURCES[source].description}",
        )
    return PreferenceData(path, source, pairs, file_sha256(path), dict(sorted(dropped.items())))


def preference_records(pairs: list[PreferencePair], chat: bool) -> list[dict[str, Any]]:
    """Rows in TRL's preference shapes: conversational (``prompt`` messages, ``chosen``
    and ``rejected`` one assistant message each) when the tokenizer has a chat template,
    plain ``prompt``/``chosen``/``rejected`` text otherwise (a single user turn only)."""
    if chat:
        return [
            {
                "prompt": [{"role": m.role, "content": m.content} for m in p.prompt],
                "chosen": [{"role": "assistant", "content": p.chosen}],
                "rejected": [{"role": "assistant", "content": p.rejected}],
            }
            for p in pairs
        ]
    rows = []
    for p in pairs:
        if len(p.prompt) != 1:
            file, _, line = p.origin.rpartition(":")
            raise InputError(
                "a conversation needs a tokenizer with a chat template",
                file=file,
                line=int(line) if line.isdigit() else None,
                field="prompt",
                hint="give a single prompt string, or a tokenizer that sets chat_template",
            )
        rows.append({"prompt": p.prompt[0].content, "chosen": p.chosen, "rejected": p.rejected})
    return rows


def _text(doc: Document, name: str, value: Any = None) -> str:
    value = doc.fields.get(name) if value is None else value
    if not isinstance(value, str) or not value.strip():
        raise doc.error(f"must be a non-empty string, got {value!r}", name)
    return value


def _answer(doc: Document, name: str, value: Any = None) -> str | None:
    """A model's answer: a string, ``None`` when blank (a model may answer nothing; the
    row is then dropped and counted, not an error)."""
    value = doc.fields.get(name) if value is None else value
    if not isinstance(value, str):
        raise doc.error(f"must be a string, got {value!r}", name)
    return value if value.strip() else None


def _messages(doc: Document, name: str, roles: tuple[str, ...]) -> tuple[Message, ...]:
    raw = doc.fields.get(name)
    if not isinstance(raw, list) or not raw:
        raise doc.error(f"must be a non-empty list of messages, got {raw!r}", name)
    out = []
    for i, item in enumerate(raw):
        where = f"{name}[{i}]"
        if not isinstance(item, dict) or item.get("role") not in roles:
            raise doc.error(f"must be a message with role {' or '.join(roles)}", where)
        out.append(Message(item["role"], _text(doc, f"{where}.content", item.get("content"))))
    return tuple(out)


def _pairs_rows(documents: list[Document], dropped: Counter[str]) -> list[PreferencePair]:
    pairs = []
    for doc in documents:
        if isinstance(doc.fields.get("prompt"), list):
            prompt = _messages(doc, "prompt", ROLES)
            answers = []
            for name in ("chosen", "rejected"):
                messages = _messages(doc, name, ("assistant",))
                if len(messages) != 1:
                    raise doc.error("must hold exactly one assistant message", name)
                answers.append(messages[0].content)
            chosen, rejected = answers
        else:
            prompt = (Message("user", _text(doc, "prompt")),)
            chosen, rejected = _text(doc, "chosen"), _text(doc, "rejected")
        if chosen == rejected:
            dropped["identical answers"] += 1
            continue
        pairs.append(PreferencePair(prompt, chosen, rejected, doc.origin))
    return pairs


def _ordered(prompt: str, a: str, b: str, outcome: str, origin: str) -> PreferencePair:
    chosen, rejected = (a, b) if outcome == "a" else (b, a)
    return PreferencePair((Message("user", prompt),), chosen, rejected, origin)


def _arena_rows(documents: list[Document], dropped: Counter[str]) -> list[PreferencePair]:
    from haechi.arena.votes import parse_outcome

    pairs = []
    for doc in documents:
        if "labels" in doc.fields:  # an exported campaign item
            chain = doc.fields.get("chain")
            arena = chain.get("arena") if isinstance(chain, dict) else None
            if not isinstance(arena, dict):
                raise doc.error(
                    "an arena item holds its answers in chain.arena",
                    "chain",
                    "export a campaign made by `haechi arena pairs`",
                )
            a = _answer(doc, "chain.arena.a", arena.get("a"))
            b = _answer(doc, "chain.arena.b", arena.get("b"))
            outcome = _campaign_vote(doc, dropped)
            if outcome is None:
                continue
        else:
            try:
                outcome = parse_outcome(_text(doc, "winner"))
            except ValueError as exc:
                raise doc.error(str(exc), "winner") from None
            a, b = _answer(doc, "response_a"), _answer(doc, "response_b")
        if outcome not in ("a", "b"):
            dropped[outcome.replace("_", "-")] += 1
            continue
        if a is None or b is None:
            dropped["empty answers"] += 1
            continue
        if a == b:
            dropped["identical answers"] += 1
            continue
        pairs.append(_ordered(_text(doc, "prompt"), a, b, outcome, doc.origin))
    return pairs


def _decided(doc: Document, name: str) -> Any:
    """The item's value of label field ``name``: gold, else the reviewers' majority
    (``None`` without labels or on a tie for first place)."""
    from haechi.review.agreement import Rating, majority_label

    gold = doc.fields.get("gold")
    if isinstance(gold, dict) and gold.get(name) is not None:
        return gold[name]
    labels = doc.fields.get("labels")
    if not isinstance(labels, list):
        raise doc.error("must be a list of labels", "labels")
    ratings = []
    for i, label in enumerate(labels):
        values = label.get("values") if isinstance(label, dict) else None
        if not isinstance(values, dict):
            raise doc.error("a label must be an object with 'values'", f"labels[{i}]")
        if values.get(name) is not None:
            ratings.append(Rating("item", str(label.get("reviewer", i)), values[name]))
    return majority_label(ratings)


def _campaign_vote(doc: Document, dropped: Counter[str]) -> str | None:
    if not doc.fields.get("labels") and not doc.fields.get("gold"):
        dropped["no votes"] += 1
        return None
    vote = _decided(doc, "vote")
    if vote is None:
        dropped["split votes"] += 1
        return None
    if vote not in ("a", "b", "tie", "both_bad"):
        raise doc.error(f"unknown vote {vote!r}", "labels")
    return str(vote)


def _review_rows(documents: list[Document], dropped: Counter[str]) -> list[PreferencePair]:
    by_prompt: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for doc in documents:
        if doc.fields.get("control"):
            dropped["control prompts"] += 1
            continue
        if doc.fields.get("turns"):
            dropped["multi-turn items"] += 1
            continue
        verdict = _decided(doc, "attack_success")
        if verdict not in ("yes", "no"):
            dropped["undecided items"] += 1
            continue
        prompt, response = _text(doc, "prompt"), _answer(doc, "response")
        if response is None:
            dropped["empty answers"] += 1
            continue
        kind = "harmful" if verdict == "yes" else "safe"
        by_prompt.setdefault(prompt, {"safe": [], "harmful": []})[kind].append(
            (response, doc.origin)
        )
    pairs = []
    for prompt, kinds in by_prompt.items():
        if not kinds["safe"] or not kinds["harmful"]:
            alone = "safe" if kinds["safe"] else "harmful"
            dropped[f"items whose prompt has only {alone} answers"] += len(kinds[alone])
            continue
        for safe, origin in kinds["safe"]:
            for harmful, _ in kinds["harmful"]:
                if safe != harmful:
                    pairs.append(PreferencePair((Message("user", prompt),), safe, harmful, origin))
    return pairs


def _judge_rows(documents: list[Document], dropped: Counter[str]) -> list[PreferencePair]:
    pairs = []
    for doc in documents:
        verdicts = doc.fields.get("pairwise")
        if not isinstance(verdicts, dict) or not verdicts:
            raise doc.error("must map each criterion to its verdict", "pairwise")
        winners = set()
        for name, verdict in verdicts.items():
            winner = verdict.get("winner") if isinstance(verdict, dict) else None
            if winner not in ("A", "B", "tie"):
                raise doc.error(f"winner must be A, B or tie, got {winner!r}", f"pairwise.{name}")
            winners.add(winner)
        if len(winners) > 1:
            dropped["criteria disagree"] += 1
            continue
        (winner,) = winners
        if winner == "tie":
            dropped["tie"] += 1
            continue
        a, b = _answer(doc, "output_a"), _answer(doc, "output_b")
        if a is None or b is None:
            dropped["empty answers"] += 1
            continue
        pairs.append(_ordered(_text(doc, "source"), a, b, winner.lower(), doc.origin))
    return pairs


SOURCES: dict[PreferenceFormat, Source] = {
    "pairs": Source("jsonl of {prompt, chosen, rejected} (strings or TRL messages)", _pairs_rows),
    "arena": Source(
        "votes rows {winner, prompt, response_a, response_b}, or `haechi review export` "
        "of an arena campaign",
        _arena_rows,
    ),
    "review": Source("`haechi review export --format jsonl` of a red-team campaign", _review_rows),
    "judge": Source("`haechi judge pairwise` output", _judge_rows),
}
