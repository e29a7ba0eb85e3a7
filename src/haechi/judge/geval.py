"""G-Eval (Liu et al., 2023): auto chain-of-thought steps, form filling, and scores.

Scoring methods, per item and criterion:
- ``logprobs``: the probability-weighted score Σ p(s)·s over the valid scores, p
  renormalised over them. ``hf``/``vllm`` judges read it exactly from one scoring pass
  (the log-likelihood of each score after the form, sharing the prompt); ``openai``
  judges from the ``top_logprobs`` of the first non-blank generated token.
- ``sampling``: the mean of ``samples`` parsed answers at ``temperature`` (the paper
  sampled 20 at temperature 2). Unparseable answers are recorded and counted, not scored 0.
- ``greedy``: one greedy answer, parsed.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from haechi.errors import InputError
from haechi.evaluate.cache import ResponseCache
from haechi.evaluate.execute import run_generation, run_loglikelihood
from haechi.io import write_json_atomic
from haechi.judge.criteria import Criterion
from haechi.judge.parsing import parse_score, score_token
from haechi.judge.prompts import JudgeItem, form_prompt, pair_prompt, steps_prompt
from haechi.models import ChatMessage, GenerationRequest, LanguageModel, LoglikelihoodRequest
from haechi.paths import cache_dir

Method = Literal["logprobs", "sampling", "greedy"]


@dataclass(frozen=True)
class CriterionScore:
    """One criterion's score for one item, with how it was reached."""

    score: float | None
    method: str
    distribution: dict[int, float] = field(default_factory=dict)
    answers: tuple[str, ...] = ()
    unparsed: int = 0

    def record(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "method": self.method,
            "distribution": {str(k): v for k, v in self.distribution.items()},
            "answers": list(self.answers),
            "unparsed": self.unparsed,
        }


def evaluation_steps(
    judge: LanguageModel,
    criteria: Sequence[Criterion],
    *,
    pinned: dict[str, str] | None = None,
    folder: Path | None = None,
) -> dict[str, str]:
    """Steps per criterion: pinned (``--steps FILE``) > fixed in the criterion > generated
    once by this judge (greedy) and stored, keyed by judge fingerprint and criterion
    digest, so later runs reuse them and scores stay comparable."""
    folder = folder or cache_dir() / "geval-steps"
    steps: dict[str, str] = {}
    for c in criteria:
        if pinned and c.name in pinned:
            steps[c.name] = pinned[c.name]
            continue
        if c.steps:
            steps[c.name] = c.steps
            continue
        path = folder / f"{judge.fingerprint}-{c.name}-{c.digest()}.json"
        if path.exists():
            steps[c.name] = json.loads(path.read_text(encoding="utf-8"))["steps"]
            continue
        (answer,) = judge.generate([GenerationRequest(prompt=steps_prompt(c), max_new_tokens=256)])
        steps[c.name] = answer.text.strip()
        write_json_atomic(path, {"criterion": c.name, "digest": c.digest(), "steps": steps[c.name]})
    return steps


def load_pinned_steps(path: Path) -> dict[str, str]:
    """``--steps FILE``: a JSON object mapping criterion name → steps text."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read steps: {exc}", file=str(path)) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InputError("expected a JSON object of criterion → steps text", file=str(path))
    return data


def score_items(
    judge: LanguageModel,
    items: Sequence[JudgeItem],
    criteria: Sequence[Criterion],
    steps: dict[str, str],
    *,
    method: Method = "logprobs",
    samples: int = 20,
    temperature: float = 2.0,
    seed: int = 0,
    cache: ResponseCache | None = None,
    progress: bool = True,
    chat: bool = False,
) -> list[dict[str, CriterionScore]]:
    """Scores of every item on every criterion, in item order. With ``chat`` the sampling
    and greedy methods send each form as one user message (the judge's chat template, or a
    server's ``/chat/completions``: hosted chat models take no plain prompts)."""
    out: list[dict[str, CriterionScore]] = [{} for _ in items]
    for c in criteria:
        prompts = [form_prompt(c, steps[c.name], item) for item in items]
        if method == "logprobs" and not judge.name.startswith("openai/"):
            scores = _exact_distribution(judge, c, prompts, cache, progress)
        elif method == "logprobs":
            scores = _top_logprob_distribution(judge, c, prompts, cache, progress)
        else:
            scores = _sampled(
                judge, c, prompts, method, samples, temperature, seed, cache, progress, chat
            )
        for row, score in zip(out, scores, strict=True):
            row[c.name] = score
    return out


def weighted(distribution: dict[int, float]) -> float | None:
    return sum(s * p for s, p in distribution.items()) if distribution else None


def _normalise(logprobs: dict[int, float]) -> dict[int, float]:
    if not logprobs:
        return {}
    top = max(logprobs.values())
    weights = {s: math.exp(lp - top) for s, lp in logprobs.items()}
    total = sum(weights.values())
    return {s: w / total for s, w in sorted(weights.items())}


def _exact_distribution(
    judge: LanguageModel,
    c: Criterion,
    prompts: Sequence[str],
    cache: ResponseCache | None,
    progress: bool,
) -> list[CriterionScore]:
    requests = [LoglikelihoodRequest(p, f" {s}") for p in prompts for s in c.scores]
    results, _ = run_loglikelihood(judge, requests, chunk=256, cache=cache, progress=progress)
    k = len(c.scores)
    scores = []
    for i in range(len(prompts)):
        chunk = results[i * k : (i + 1) * k]
        distribution = _normalise({s: r.logprob for s, r in zip(c.scores, chunk, strict=True)})
        scores.append(CriterionScore(weighted(distribution), "logprobs", distribution))
    return scores


def _top_logprob_distribution(
    judge: LanguageModel,
    c: Criterion,
    prompts: Sequence[str],
    cache: ResponseCache | None,
    progress: bool,
) -> list[CriterionScore]:
    requests = [GenerationRequest(prompt=p, max_new_tokens=3, top_logprobs=20) for p in prompts]
    # top_logprobs are not cached (the cache keeps texts only): always ask the judge
    generations, _ = run_generation(judge, requests, chunk=64, cache=None, progress=progress)
    scores = []
    for g in generations:
        steps = (g.logprobs or ((),))[0]
        first = next((t for t in steps if t.token.strip()), None)
        found: dict[int, float] = {}
        if first is not None:
            for token, logprob in {**first.top, first.token: first.logprob}.items():
                s = score_token(token, c.score_min, c.score_max)
                if s is not None:
                    found[s] = max(found.get(s, -math.inf), logprob)
        distribution = _normalise(found)
        unparsed = 0 if distribution else 1
        scores.append(
            CriterionScore(weighted(distribution), "logprobs", distribution, (g.text,), unparsed)
        )
    return scores


def _sampled(
    judge: LanguageModel,
    c: Criterion,
    prompts: Sequence[str],
    method: str,
    samples: int,
    temperature: float,
    seed: int,
    cache: ResponseCache | None,
    progress: bool,
    chat: bool,
) -> list[CriterionScore]:
    greedy = method == "greedy"
    requests = [
        GenerationRequest(
            prompt=None if chat else p,
            messages=(ChatMessage("user", p),) if chat else None,
            max_new_tokens=16 if chat else 5,  # a chat model may write "점수: 7" or "7점"
            n=1 if greedy else samples,
            temperature=0.0 if greedy else temperature,
            top_p=1.0,
            seed=seed,
        )
        for p in prompts
    ]
    generations, _ = run_generation(judge, requests, chunk=64, cache=cache, progress=progress)
    scores = []
    for g in generations:
        parsed = [parse_score(t, c.score_min, c.score_max) for t in g.texts]
        values = [v for v in parsed if v is not None]
        mean = sum(values) / len(values) if values else None
        scores.append(CriterionScore(mean, method, {}, g.texts, len(parsed) - len(values)))
    return scores


@dataclass(frozen=True)
class PairVerdict:
    """``winner``: "A", "B" or "tie" (the two orders disagree); ``orders`` the raw picks
    ("" where a chat judge named no letter)."""

    winner: str
    orders: tuple[str, str]


def pairwise(
    judge: LanguageModel, c: Criterion, steps: str, source: str, a: str, b: str
) -> PairVerdict:
    """A vs B in both positions (see ``pairwise_many``)."""
    return pairwise_many(judge, c, steps, [(source, a, b)])[0]


def pairwise_many(
    judge: LanguageModel,
    c: Criterion,
    steps: str,
    pairs: Sequence[tuple[str, str, str]],
    *,
    cache: ResponseCache | None = None,
    progress: bool = False,
    chat: bool = False,
) -> list[PairVerdict]:
    """Each (source, A, B) judged with A first, then with B first (through ``cache``, so a
    killed run resumes); a preference that flips with the position is a tie. Each order is
    decided by the log-likelihood of " A" and " B" after the prompt, or with ``chat`` by
    the first letter A or B of the judge's greedy answer to the prompt sent as a user
    message (no letter: "" in ``orders``, and the pair is a tie)."""
    prompts = [
        prompt
        for source, a, b in pairs
        for prompt in (pair_prompt(c, steps, source, a, b), pair_prompt(c, steps, source, b, a))
    ]
    picks = (
        _letters(judge, prompts, cache, progress)
        if chat
        else _likelier(judge, prompts, cache, progress)
    )
    verdicts = []
    for first, second in zip(picks[::2], picks[1::2], strict=True):
        second_as_original = {"A": "B", "B": "A"}.get(second, "")
        winner = first if first and first == second_as_original else "tie"
        verdicts.append(PairVerdict(winner, (first, second)))
    return verdicts


def _likelier(
    judge: LanguageModel, prompts: Sequence[str], cache: ResponseCache | None, progress: bool
) -> list[str]:
    requests = [LoglikelihoodRequest(p, letter) for p in prompts for letter in (" A", " B")]
    results, _ = run_loglikelihood(judge, requests, chunk=256, cache=cache, progress=progress)
    return [
        "A" if results[2 * i].logprob >= results[2 * i + 1].logprob else "B"
        for i in range(len(prompts))
    ]


_LETTER = re.compile(r"(?<![A-Za-z])([AB])(?![A-Za-z])")  # "A", "B가 낫다", "(A)"; not "AB"


def _letters(
    judge: LanguageModel, prompts: Sequence[str], cache: ResponseCache | None, progress: bool
) -> list[str]:
    requests = [
        GenerationRequest(messages=(ChatMessage("user", p),), max_new_tokens=8) for p in prompts
    ]
    generations, _ = run_generation(judge, requests, chunk=64, cache=cache, progress=progress)
    found = [_LETTER.search(unicodedata.normalize("NFKC", g.text)) for g in generations]
    return [m.group(1) if m else "" for m in found]
