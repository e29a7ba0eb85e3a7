"""GeDi-guided decoding: exact against a direct computation, steering, identity, errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from tests.guard.conftest import KIND_WORDS, RUDE_WORDS

from haechi.errors import InputError
from haechi.guard import GediGuidance, apply_guard
from haechi.guard.gedi_model import GediModel
from haechi.guard.gedi_processor import GediLogitsProcessor
from haechi.guard.scoring import desired_posterior
from haechi.models import GenerationRequest, load


def direct_guided(
    gedi: GediModel,
    guidance: GediGuidance,
    tokens: list[int],
    target_logits: torch.Tensor,
    vocab: int,
) -> torch.Tensor:
    """The guided scores from first principles: the GeDi run on whole sequences (no KV
    cache), softmax(target) times the posterior to the ω, then the reference filter."""
    config = gedi.config
    means = []
    for code in config.control_code_ids:
        sequence = torch.tensor([[code, *tokens]])
        with torch.no_grad():
            logprobs = torch.log_softmax(gedi.lm(input_ids=sequence).logits[0].double(), -1)
        so_far = sum(logprobs[i, sequence[0, i + 1]] for i in range(len(tokens)))
        means.append((so_far + logprobs[-1, :vocab]) / (len(tokens) + 1))
    desired = config.logit_scale * means[0] + config.class_bias_learned[0] + guidance.class_bias
    undesired = config.logit_scale * means[1] + config.class_bias_learned[1]
    log_desired = desired - torch.logaddexp(desired, undesired)
    weighted = (
        torch.log_softmax(target_logits.double(), -1)[:vocab] + guidance.disc_weight * log_desired
    )
    tau = guidance.target_p
    tau = 1 / (1 + math.exp(-(math.log(tau / (1 - tau)) + guidance.class_bias)))
    order = torch.argsort(log_desired, stable=True)
    cumulative = torch.cumsum(torch.softmax(weighted, -1)[order], 0)
    for rank, token in enumerate(order.tolist()[:-1]):  # the most desired token always stays
        if cumulative[rank] < guidance.filter_p and log_desired[token] < math.log(tau):
            weighted[token] = -math.inf
    return weighted


def left_padded(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    return ids, mask


def test_guided_distribution_equals_the_direct_computation(
    gedi_dir: Path, mixed_target_dir: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(mixed_target_dir)
    target = AutoModelForCausalLM.from_pretrained(mixed_target_dir, dtype=torch.float32).eval()
    gedi = GediModel.load(gedi_dir, device="cpu")
    guidance = GediGuidance(disc_weight=8.0, filter_p=0.9, target_p=0.6, class_bias=0.5)
    pad = tokenizer.eos_token_id
    processor = GediLogitsProcessor(gedi, guidance, pad_token_id=pad, vocab_size=len(tokenizer))
    calls: list[tuple[int, int]] = []
    hook = gedi.lm.register_forward_hook(
        lambda module, args, kwargs, out: calls.append(tuple(kwargs["input_ids"].shape)),
        with_kwargs=True,
    )
    dropped = kept = 0
    try:
        # two generate calls through one processor: the second must start afresh
        for prompts in (["친구 무시", "피해"], ["책 좋은 사람 고마", "거절 후회"]):
            rows = [tokenizer(p)["input_ids"] for p in prompts]
            ids, mask = left_padded(rows, pad)
            calls.clear()
            out = target.generate(
                ids, attention_mask=mask, max_new_tokens=5, do_sample=False, pad_token_id=pad,
                eos_token_id=None, logits_processor=[processor], output_scores=True,
                output_logits=True, return_dict_in_generate=True,
            )  # fmt: skip
            steps = len(out.scores)
            # one GeDi forward per step over both codes (2 rows a prompt); after the first,
            # only the newest token goes in: the KV cache carries the rest
            assert calls == [(4, ids.shape[1] + 1)] + [(4, 1)] * (steps - 1)
            for step in range(steps):
                for row, prompt in enumerate(rows):
                    generated = out.sequences[row, ids.shape[1] : ids.shape[1] + step].tolist()
                    direct = direct_guided(
                        gedi, guidance, prompt + generated, out.logits[step][row], len(tokenizer)
                    )
                    guided = out.scores[step][row].double()
                    assert torch.equal(torch.isinf(guided), torch.isinf(direct))
                    difference = torch.softmax(guided, -1) - torch.softmax(direct, -1)
                    assert difference.abs().max().item() < 1e-5
                    dropped += int(torch.isinf(direct).sum())
                    kept += int((~torch.isinf(direct)).sum())
    finally:
        hook.remove()
    assert dropped > 0 and kept > 2 * 2 * 5  # the filter acted, yet kept several tokens


def test_guidance_raises_the_desired_posterior_of_generated_text(
    gedi_dir: Path, mixed_target_dir: Path
) -> None:
    target = load(f"hf/{mixed_target_dir}")
    guarded = apply_guard(target, f"gedi:{gedi_dir}")
    sampled = [
        GenerationRequest(prompt=p, max_new_tokens=12, temperature=1.0, seed=s)
        for s in range(4)
        for p in ("친구", "피해")
    ]
    greedy = [GenerationRequest(prompt=p, max_new_tokens=12) for p in ("친구 책", "피해 무시 변")]
    plain = [g.text for g in target.generate(sampled + greedy)]
    guided = [g.text for g in guarded.generate(sampled + greedy)]
    gedi = GediModel.load(gedi_dir, device="cpu")
    before, after = desired_posterior(gedi, plain), desired_posterior(gedi, guided)
    mean_before, mean_after = sum(before) / len(before), sum(after) / len(after)
    assert mean_after - mean_before > 0.3, (plain, guided)
    rude_before = sum(t.count(w) for t in plain for w in RUDE_WORDS)
    rude_after = sum(t.count(w) for t in guided for w in RUDE_WORDS)
    assert rude_after < rude_before
    assert sum(t.count(w) for t in guided for w in KIND_WORDS) > 0
    assert guarded.stats.generated_tokens > 0 and target.logits_processors == []


def test_the_guard_enters_the_fingerprint_and_describe(
    gedi_dir: Path, mixed_target_dir: Path
) -> None:
    target = load(f"hf/{mixed_target_dir}")
    guarded = apply_guard(target, f"gedi:{gedi_dir}")
    stronger = apply_guard(target, f"gedi:{gedi_dir},disc_weight=60,filter_p=0.5")
    fingerprints = {target.fingerprint, guarded.fingerprint, stronger.fingerprint}
    assert len(fingerprints) == 3
    assert "guards" not in target.describe()
    (guard,) = guarded.describe()["guards"]  # type: ignore[misc]
    assert guard["kind"] == "gedi" and guard["path"] == str(gedi_dir.resolve())
    assert guard["disc_weight"] == 30.0 and guard["filter_p"] == 0.8
    assert len(guard["weights"]) == 16 and len(guard["config"]) == 16
    assert stronger.describe()["guards"][0]["disc_weight"] == 60.0  # type: ignore[index]
    assert guarded.name == target.name and guarded.model is target.model  # weights shared


def test_mismatched_tokenizers_and_other_backends_are_refused(
    gedi_dir: Path, tiny_qwen2_dir: Path
) -> None:
    qwen = load(f"hf/{tiny_qwen2_dir}")
    with pytest.raises(InputError, match="uses another tokenizer than the target") as caught:
        apply_guard(qwen, f"gedi:{gedi_dir}")
    assert caught.value.field == "guard" and "shares the target's tokenizer" in str(caught.value)
    api = load("openai/some-model", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(InputError, match="needs the hf backend"):
        apply_guard(api, f"gedi:{gedi_dir}")
    with pytest.raises(InputError, match="no GeDi folder"):
        apply_guard(qwen, "gedi:/nonexistent/gedi")
    with pytest.raises(InputError, match="not a trained GeDi"):
        apply_guard(qwen, f"gedi:{tiny_qwen2_dir}")
