"""`reasonrl export --format ollama` (GGUF + Modelfile) and `--format hf` (a self-contained folder + model card)."""
import json

import pytest
import torch

from reasonrl.export.cli import main as export_main
from reasonrl.tasks import Problem, render_prompt

SMOL_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def _prompt(tok, question: str) -> str:
    return render_prompt(tok, Problem(id="t:0", question=question, answer="9", task="t", lang="en"), "chat_think")[0]


def test_ollama_modelfile_writes_the_training_prompt(tiny_run, tmp_path):
    from reasonrl.model import load_tokenizer

    out = tmp_path / "ollama"
    assert export_main([str(tiny_run), "--format", "ollama", "--quant", "f16", "--out", str(out)]) == 0
    text = (out / "Modelfile").read_text()
    assert text.startswith("FROM ./tiny-run-f16.gguf\n") and (out / "tiny-run-f16.gguf").is_file()
    template = text.split('TEMPLATE """', 1)[1].split('"""', 1)[0]
    system = text.split('SYSTEM """', 1)[1].split('"""', 1)[0]
    assert system == SMOL_SYSTEM  # the system prompt the run trained with (the tokenizer's default)
    assert 'PARAMETER stop "</answer>"' in text.splitlines()
    # Ollama fills {{ .System }} and {{ .Prompt }}: the result is the run's own prompt, byte for byte
    tok = load_tokenizer(tiny_run / "checkpoints" / "step_000003")
    filled = template.replace("{{ .System }}", system).replace("{{ .Prompt }}", "What is 4 + 5?")
    assert filled == _prompt(tok, "What is 4 + 5?")


def test_hf_folder_is_self_contained_and_serves_as_trained(tiny_run, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from reasonrl.model import load_model
    from reasonrl.serve.profile import profile_for_model

    out = tmp_path / "hf"
    assert export_main([str(tiny_run), "--format", "hf", "--out", str(out)]) == 0
    assert {"model.safetensors", "config.json", "tokenizer.json", "generation_config.json", "README.md",
            "reasonrl.yaml"} <= {p.name for p in out.iterdir()}
    src, tok_src, _ = load_model(tiny_run)
    back = AutoModelForCausalLM.from_pretrained(out).eval()
    ids = tok_src("What is 4 + 5?", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(src.eval()(ids).logits, back(ids).logits)
    tok = AutoTokenizer.from_pretrained(out)  # plain transformers: the chat template alone builds the run's prompt
    assert tok.apply_chat_template([{"role": "user", "content": "What is 4 + 5?"}], tokenize=False,
                                   add_generation_prompt=True) == _prompt(tok_src, "What is 4 + 5?")
    assert GenerationConfig.from_pretrained(out).stop_strings == ["</answer>"]
    # reasonrl itself reads the run's settings from reasonrl.yaml and gets the tokenizer's own template back
    assert profile_for_model(out) == profile_for_model(tiny_run / "checkpoints" / "step_000003")
    _, tok_rr, _ = load_model(out)
    assert tok_rr.chat_template == tok_src.chat_template


def test_model_card_figures_come_from_the_run_files(tiny_run, tmp_path):
    out = tmp_path / "hf"
    assert export_main([str(tiny_run), "--format", "hf", "--out", str(out)]) == 0
    card = (out / "README.md").read_text()
    assert "| steps | 3 |" in card and "| wall time | 604 s (201.5 s/step) |" in card
    assert "| 0 | before | 20 | 0.35 | 0.00 | 0.00 |" in card and "| 3 | after | 20 | 0.70 | 0.66 | 1.00 |" in card
    assert "`accuracy_strict` x1, `accuracy_lenient` x0.5, `format_reasoned` x0.25" in card
    assert "advantage `grpo`" in card and "`chain_sum`" in card and "`chat_think`" in card
    assert "| machine | not recorded |" in card  # the run did not write it: no figure is made up


def test_model_card_names_the_machine_the_run_recorded(tiny_run, tmp_path):
    import json
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "machine": "AMD EPYC, 2 cores (avx2)"}))
    assert export_main([str(run), "--format", "hf", "--out", str(tmp_path / "hf")]) == 0
    assert "| machine | AMD EPYC, 2 cores (avx2) |" in (tmp_path / "hf" / "README.md").read_text()


def test_model_card_without_run_files_says_not_recorded():
    from reasonrl.export.hf import model_card

    card = model_card("m", None, None, [], [])
    assert "| steps | not recorded |" in card and "not recorded: the run logged no held-out evaluation." in card


def test_missing_model_is_one_line_error(tmp_path, capsys):
    assert export_main([str(tmp_path / "nope"), "--format", "hf"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reasonrl export: ") and err.count("\n") == 1 and "not a Hugging Face model folder" in err
