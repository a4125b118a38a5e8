"""``ragls tune``: a LoRA trained on train-data examples, written as a llama.cpp adapter that ragls's
own llama backend loads — and that does in llama.cpp what it did in transformers.

The tests that train need the ``tune`` extra (torch, transformers, peft) and the real SmolLM2 GGUF;
without them they skip and say why. The input checks and the adapter file format need neither.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ragls.training.lora_gguf import LoraPair, permute_rows, write_lora_gguf
from ragls.training.tune import TuneError, TuneOptions, load_examples, missing_libraries

HERE = Path(__file__).resolve().parent
MISSING = missing_libraries()
needs_tune_extra = pytest.mark.skipif(
    bool(MISSING), reason=f"the tune extra is not installed ({', '.join(MISSING)} missing): pip install -e '.[tune]'"
)
QUESTION = "How long is the default request timeout?"


def _load(name: str, path: Path):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


train_workspace = _load("ragls_tests_train_workspace", HERE / "conftest.py")
gguf_factory = _load("ragls_tests_gguf_factory", HERE.parent / "model" / "gguf_factory.py")


def ragls(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ragls", *args], capture_output=True, text=True, timeout=timeout)


def example(answer: str, passages: int = 2) -> dict:
    user = "Passages:\n\n" + "\n\n".join(f"[{n}] A\nline {n}" for n in range(1, passages + 1))
    return {
        "messages": [
            {"role": "system", "content": "You are ragls."},
            {"role": "user", "content": user + "\n\nQuestion: what?"},
            {"role": "assistant", "content": answer},
        ]
    }


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


# --- input checks (no extra needed) ----------------------------------------------------------------

def test_examples_are_read_and_bad_data_files_are_refused_with_the_line(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [example("It is 30 seconds [2]."), example("The workspace does not cover this question.")])
    assert [m[-1]["content"] for m in load_examples(good)] == ["It is 30 seconds [2].", "The workspace does not cover this question."]
    cases = {
        "missing": (tmp_path / "nope.jsonl", "data file not found"),
        "empty": (write_jsonl(tmp_path / "empty.jsonl", []), "holds no examples"),
        "not json": (write_jsonl(tmp_path / "bad.jsonl", [example("A [1]."), "{not json"]), "bad.jsonl line 2 is not JSON"),
        "no messages": (write_jsonl(tmp_path / "shape.jsonl", [{"text": "hi"}]), "expected {\"messages\""),
        "no answer": (write_jsonl(tmp_path / "user.jsonl", [{"messages": example("A [1].")["messages"][:2]}]), "last message must be the assistant"),
        "invalid citation": (write_jsonl(tmp_path / "cite.jsonl", [example("A [1].", passages=2), example("B [4].", passages=2)]), "cite.jsonl line 2: the answer cites [4], which its prompt does not show (passages: [1], [2])"),
    }
    for name, (path, message) in cases.items():
        with pytest.raises(TuneError) as raised:
            load_examples(path)
        assert message in str(raised.value), (name, str(raised.value))


def test_options_refuse_bad_values_clearly() -> None:
    for kwargs, message in (
        ({"rank": 0}, "--rank must be at least 1"),
        ({"alpha": 0}, "--alpha must be positive"),
        ({"steps": 0}, "--steps must be at least 1"),
        ({"steps": 3, "epochs": 1.0}, "not both"),
        ({"lr": float("nan")}, "--lr must be a positive number"),
        ({"max_length": 4}, "--max-length must be at least 16"),
        ({"targets": "attn_q,lm_head"}, "unknown LoRA target 'lm_head'"),
    ):
        with pytest.raises(TuneError, match=message.replace("[", r"\[")):
            TuneOptions(**kwargs)
    assert TuneOptions(targets="q_proj, v_proj,attn_q").targets == ("attn_q", "attn_v")


# --- the adapter file (gguf + llama.cpp, no extra needed) -------------------------------------------

def test_permute_rows_interleaves_each_heads_rotary_halves() -> None:
    # 2 heads of head_dim 4: rows (h0: 0 1 | 2 3, h1: 4 5 | 6 7) -> pairs (0 2 1 3, 4 6 5 7).
    rows = np.arange(8, dtype=np.float32).reshape(8, 1)
    assert permute_rows(rows, 2)[:, 0].tolist() == [0, 2, 1, 3, 4, 6, 5, 7]
    with pytest.raises(ValueError):
        permute_rows(np.zeros((6, 1)), 2)


def test_a_written_adapter_has_llama_cpps_layout_and_ragls_loads_it(tmp_path: Path) -> None:
    import gguf

    from ragls.model.host import ModelHost
    from ragls.settings import AdapterSpec, ModelSettings

    shape = gguf_factory.TINY
    model = gguf_factory.write_model(tmp_path / "tiny.gguf", shape)
    rng = np.random.default_rng(0)
    e, kv, rank = shape.embedding, shape.kv_heads * shape.head_dim, 4
    pairs = {
        (block, target): LoraPair(a=rng.standard_normal((rank, e)).astype(np.float32) * 0.3, b=rng.standard_normal((out, rank)).astype(np.float32) * 0.3)
        for block in range(shape.blocks)
        for target, out in (("attn_q", e), ("attn_k", kv), ("attn_v", kv), ("attn_output", e))
    }
    out = write_lora_gguf(tmp_path / "lora.gguf", pairs, alpha=8.0, heads=shape.heads, kv_heads=shape.kv_heads)
    assert not list(tmp_path.glob("*.part"))
    reader = gguf.GGUFReader(str(out))
    fields = {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}
    assert fields["general.type"] == "adapter" and fields["adapter.type"] == "lora" and fields["adapter.lora.alpha"] == 8.0
    assert fields["general.architecture"] == "llama"
    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == 2 * len(pairs)
    a, b = tensors["blk.1.attn_k.weight.lora_a"], tensors["blk.1.attn_k.weight.lora_b"]
    assert list(a.shape) == [e, rank] and list(b.shape) == [rank, kv]  # GGUF lists dimensions innermost first
    # B of the key is stored in llama.cpp's row order; A and the value's B as trained.
    assert np.array_equal(np.asarray(b.data).reshape(kv, rank), permute_rows(pairs[(1, "attn_k")].b, shape.kv_heads))
    assert np.array_equal(np.asarray(tensors["blk.1.attn_v.weight.lora_b"].data).reshape(kv, rank), pairs[(1, "attn_v")].b)

    settings = ModelSettings(path=str(model), context_size=2048, max_tokens=64, gpu_layers=0, adapters=(AdapterSpec("t", str(out)),))
    host = ModelHost(settings, logging.getLogger("ragls.test.tune"))
    host.start()
    try:
        assert host.wait_ready(120), host.status()
        assert [a.name for a in host.status().adapters] == ["t"], host.status().warnings
        text = "the server returns the default value"
        base = np.array(host._backend.next_token_logits(text, []))
        tuned = np.array(host._backend.next_token_logits(text, [("t", 1.0)]))
        zero = np.array(host._backend.next_token_logits(text, [("t", 0.0)]))
        assert np.abs(tuned - base).max() > 1e-3
        assert np.array_equal(zero, base)
    finally:
        host.close()


# --- training (the tune extra and the real SmolLM2) --------------------------------------------------

@pytest.fixture(scope="module")
def train_data(tmp_path_factory) -> Path:
    """train-data's examples for the small test workspace, made by the real command."""
    root = tmp_path_factory.mktemp("tune-data")
    workspace = train_workspace.write_workspace(root / "ws")
    out = root / "train.jsonl"
    done = ragls("train-data", "--workspace", str(workspace), "--out", str(out), "--index-dir", str(root / "idx"), "--seed", "0")
    assert done.returncode == 0, done.stderr
    return out


def _ask(workspace: Path, index: Path, model: Path, *adapter: str) -> str:
    flags = [f"--adapter={a}" for a in adapter]
    done = ragls(
        "ask", str(workspace), QUESTION, "--index-dir", str(index), "--model", str(model), *flags,
        "--temperature", "0", "--seed", "1", "--ctx-size", "2048", "--max-tokens", "64", "--json",
        # the model's own text, compared with and without the adapter (the grounded guard could
        # replace either with the same extractive answer)
        "--grounded-guard", "off", timeout=300,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["source"].startswith("model:"), (answer["answer"], answer.get("warnings"))
    return answer["answer"]


@pytest.mark.slow
@pytest.mark.timeout(1500)  # train-data, a training and three model loads: 8 min on a busy 2-core machine
@needs_tune_extra
def test_tune_writes_an_adapter_that_ragls_ask_loads_and_that_changes_the_answer(train_data: Path, smollm2_gguf: Path, tmp_path: Path) -> None:
    adapter = tmp_path / "smol.gguf"
    done = ragls(
        "tune", "--base", str(smollm2_gguf), "--data", str(train_data), "--out", str(adapter),
        # (a deliberately large step: the training answers now match what the base model already
        # says here, and 3 small steps leave its greedy text as it was; 5e-2 made it loop inside
        # its first sentence once the prompts showed the compact header, which the host answers
        # from the passages instead)
        "--steps", "3", "--lr", "3e-2", "--threads", "2", "--seed", "0", "--json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["steps"] == 3 and len(summary["losses"]) == 3 and summary["tokensPerSecond"] > 0
    assert summary["answerTokens"] < summary["tokens"]  # the loss counts the answers, not the prompts
    assert "tune" in done.stderr and "tokens/s" in done.stderr and "ETA" in done.stderr  # the progress bar
    assert adapter.is_file() and not list(tmp_path.glob("*.part"))

    workspace = train_workspace.write_workspace(tmp_path / "ws")
    index = tmp_path / "idx"
    base = _ask(workspace, index, smollm2_gguf)
    tuned = _ask(workspace, index, smollm2_gguf, f"{adapter}:1.0")
    zero = _ask(workspace, index, smollm2_gguf, f"{adapter}:0")
    assert tuned != base
    assert zero == base

    again = ragls("tune", "--base", str(smollm2_gguf), "--data", str(train_data), "--out", str(adapter), "--steps", "1")
    assert again.returncode == 2 and "exists; pass --force" in again.stderr


def _kl(p_logits: np.ndarray, q_logits: np.ndarray) -> float:
    """KL(softmax(p) || softmax(q))."""
    lp = p_logits - p_logits.max()
    lp = lp - np.log(np.exp(lp).sum())
    lq = q_logits - q_logits.max()
    lq = lq - np.log(np.exp(lq).sum())
    return float((np.exp(lp) * (lp - lq)).sum())


@pytest.mark.slow
@needs_tune_extra
def test_llama_cpp_with_the_adapter_moves_to_the_fine_tuned_transformers_model(train_data: Path, smollm2_gguf: Path, tmp_path: Path) -> None:
    """The adapter is right, not only loadable: on a prompt it was not trained on, llama.cpp's next-token
    distribution with the adapter comes close to the transformers model it was trained in. The q/k
    part alone shows the row permutation matters: written without it, llama.cpp moves away."""
    import torch

    from ragls.model.host import ModelHost
    from ragls.settings import AdapterSpec, ModelSettings
    from ragls.training.tune import lora_pairs, tune

    # Few, large steps: an update well above the noise llama.cpp's quantised arithmetic adds.
    result = tune(
        smollm2_gguf, train_data, tmp_path / "tuned.gguf", TuneOptions(steps=6, lr=5e-3, seed=1, threads=2),
        keep_model=True, log=lambda message: None,
    )
    model, tokenizer = result.model, result.tokenizer
    pairs = lora_pairs(model)
    qk = {key: pair for key, pair in pairs.items() if key[1] in ("attn_q", "attn_k")}
    config = model.config
    write_lora_gguf(tmp_path / "qk.gguf", qk, alpha=16.0, heads=config.num_attention_heads, kv_heads=config.num_key_value_heads)
    # heads = rows / 2 makes the permutation the identity: Hugging Face's row order as it is.
    write_lora_gguf(tmp_path / "qk-unpermuted.gguf", qk, alpha=16.0, heads=config.hidden_size // 2, kv_heads=pairs[(0, "attn_k")].b.shape[0] // 2)

    text = "The client retries failed requests, and the default request timeout is"
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])

    def transformers_logits(keep: tuple[str, ...] | None) -> np.ndarray:
        """Logits with the adapter's projections in ``keep`` only (None: all; (): none)."""
        saved = {}
        for name, module in model.named_modules():
            if hasattr(module, "lora_B") and "default" in getattr(module, "lora_B", {}):
                target = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output"}[name.rsplit(".", 1)[1]]
                if keep is not None and target not in keep:
                    saved[name] = module.lora_B["default"].weight.data.clone()
                    module.lora_B["default"].weight.data.zero_()
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, -1].numpy()
        for name, module in model.named_modules():
            if name in saved:
                module.lora_B["default"].weight.data.copy_(saved[name])
        return logits

    tuned_hf, qk_hf = transformers_logits(None), transformers_logits(("attn_q", "attn_k"))
    names = {"tuned": tmp_path / "tuned.gguf", "qk": tmp_path / "qk.gguf", "qk-unpermuted": tmp_path / "qk-unpermuted.gguf"}
    settings = ModelSettings(
        path=str(smollm2_gguf), context_size=1024, max_tokens=64, gpu_layers=0,
        adapters=tuple(AdapterSpec(name, str(path)) for name, path in names.items()),
    )
    host = ModelHost(settings, logging.getLogger("ragls.test.tune"))
    host.start()
    try:
        assert host.wait_ready(120), host.status()
        assert len(host.status().adapters) == 3, host.status().warnings
        llama = {name: np.array(host._backend.next_token_logits(text, [(name, 1.0)])) for name in names}
        llama_base = np.array(host._backend.next_token_logits(text, []))
    finally:
        host.close()

    assert _kl(tuned_hf, llama["tuned"]) < 0.5 * _kl(tuned_hf, llama_base)
    delta_hf, delta_llama = tuned_hf - transformers_logits(()), llama["tuned"] - llama_base
    assert float(delta_hf @ delta_llama / np.linalg.norm(delta_hf) / np.linalg.norm(delta_llama)) > 0.6
    assert _kl(qk_hf, llama["qk"]) < _kl(qk_hf, llama["qk-unpermuted"])


def _refused(args: list[str], out: Path, message: str) -> None:
    done = ragls("tune", *args, "--out", str(out), "--steps", "1")
    assert done.returncode == 2, (args, done.stderr)
    assert message in done.stderr, (message, done.stderr)
    assert "Traceback" not in done.stderr
    assert not out.exists() and not list(out.parent.glob("*.part"))


@needs_tune_extra
def test_a_base_model_of_another_architecture_is_refused(gemma3_gguf: Path, train_data: Path, tmp_path: Path) -> None:
    _refused(["--base", str(gemma3_gguf), "--data", str(train_data)], tmp_path / "a.gguf", "is a 'gemma3' model; ragls tune trains adapters for llama")


@needs_tune_extra
def test_tune_refuses_bad_input_clearly(train_data: Path, smollm2_gguf: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.gguf"
    empty = write_jsonl(tmp_path / "empty.jsonl", [])
    bad_citation = write_jsonl(tmp_path / "cite.jsonl", [example("B [3].", passages=2)])
    not_gguf = gguf_factory.write_not_gguf(tmp_path / "notes.gguf")
    for args, message in (
        (["--base", str(not_gguf), "--data", str(train_data)], "notes.gguf is not a usable GGUF model"),
        (["--base", str(tmp_path / "none.gguf"), "--data", str(train_data)], "base model not found"),
        (["--base", str(smollm2_gguf), "--data", str(tmp_path / "none.jsonl")], "data file not found"),
        (["--base", str(smollm2_gguf), "--data", str(empty)], "holds no examples"),
        (["--base", str(smollm2_gguf), "--data", str(bad_citation)], "the answer cites [3], which its prompt does not show"),
        (["--base", str(smollm2_gguf), "--data", str(train_data), "--rank", "0"], "--rank must be at least 1"),
        (["--base", str(smollm2_gguf), "--data", str(train_data), "--max-length", "20"], "longer than --max-length 20 tokens"),
    ):
        _refused(args, out, message)


@pytest.mark.slow
@needs_tune_extra
def test_ctrl_c_during_training_leaves_no_adapter(train_data: Path, smollm2_gguf: Path, tmp_path: Path) -> None:
    out = tmp_path / "a.gguf"
    process = subprocess.Popen(
        [sys.executable, "-m", "ragls", "tune", "--base", str(smollm2_gguf), "--data", str(train_data), "--out", str(out), "--steps", "500"],
        stderr=subprocess.PIPE, text=True,
    )
    seen = []
    deadline = time.monotonic() + 300
    assert process.stderr is not None
    for line in process.stderr:  # not a terminal: a progress line per step at first, then every 5 s
        seen.append(line)
        if line.startswith("tune: ") or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    rest = process.communicate(timeout=120)[1]
    assert process.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_without_the_extra_the_command_names_the_install(tmp_path: Path) -> None:
    """A Python that cannot import torch (a stand-in module that raises on import, first on the path)."""
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "torch.py").write_text("raise ImportError('no torch here')\n")
    (blocker / "sitecustomize.py").write_text(
        "import importlib.util, sys\n"
        "_find = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a, **k: None if name in ('torch', 'peft') else _find(name, *a, **k)\n"
    )
    import os

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-m", "ragls", "tune", "--base", "m.gguf", "--data", "d.jsonl", "--out", str(tmp_path / "a.gguf")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "ragls tune needs torch, " in done.stderr and "(not installed): pip install -e '.[tune]'" in done.stderr
