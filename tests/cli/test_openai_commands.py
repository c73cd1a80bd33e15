"""`studio import`, `studio cascade` and `studio forward` end to end, on tiny checkpoints written the way
OpenAI's code saves them (a torch.save'd state dict under the reference's names)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.cli import main
from studio.models.files import read_model_info

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "openai"
sys.path.insert(0, str(FIXTURES))
from weights import weights  # noqa: E402


def checkpoint(tmp_path, name):
    """The fixture's reference weights as a .pt, its flags as JSON, its inputs as an .npz."""
    data = np.load(FIXTURES / f"{name}.npz")
    shapes = dict(zip(data["names"].tolist(), map(tuple, json.loads(str(data["shapes"]))), strict=True))
    torch.save({k: torch.from_numpy(v) for k, v in weights(shapes).items()}, tmp_path / f"{name}.pt")
    (tmp_path / "flags.json").write_text(str(data["flags"]))
    np.savez(tmp_path / "in.npz", **{k: data[k] for k in data.files if k.startswith("in_")})
    return data


@pytest.mark.parametrize("name", ["adm_unet_new_order", "glide_upsample_inpaint", "adm_classifier_attention"])
def test_import_then_forward_reproduces_the_reference(tmp_path, capsys, name):
    data = checkpoint(tmp_path, name)
    family = str(data["family"])
    out = tmp_path / "m.safetensors"
    assert main(["import", family, str(tmp_path / f"{name}.pt"), "--flags", str(tmp_path / "flags.json"),
                 "--out", str(out)]) == 0
    info = read_model_info(out)
    assert info.config.architecture.value == family and info.config.openai is not None
    assert "MIT" in info.card.licence and f"{name}.pt" in info.card.training
    assert main(["forward", str(out), "--inputs", str(tmp_path / "in.npz"), "--out", str(tmp_path / "o.npz")]) == 0
    key = "out_logits" if "out_logits" in data else "out_model"
    got, expected = np.load(tmp_path / "o.npz")[key], data[key]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_a_hostile_checkpoint_is_refused_in_one_line(tmp_path, capsys):
    class Hostile:
        def __reduce__(self):
            return (open, (str(tmp_path / "marker"), "w"))

    torch.save({"w": Hostile()}, tmp_path / "evil.pt")
    assert main(["import", "adm", str(tmp_path / "evil.pt"), "--out", str(tmp_path / "m.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.splitlines()[-1].startswith("studio: error: ")
    assert "evil.pt: refused: it names io.open" in err
    assert not (tmp_path / "marker").exists() and not (tmp_path / "m.safetensors").exists()


def test_tensors_that_do_not_fit_the_flags_are_named(tmp_path, capsys):
    checkpoint(tmp_path, "adm_unet_legacy_order")
    flags = json.loads((tmp_path / "flags.json").read_text()) | {"num_classes": 10}
    (tmp_path / "flags.json").write_text(json.dumps(flags))
    assert main(["import", "adm", str(tmp_path / "adm_unet_legacy_order.pt"), "--flags", str(tmp_path / "flags.json"),
                 "--out", str(tmp_path / "m.safetensors")]) == 2
    assert "lacks 'label_emb.weight'" in capsys.readouterr().err


def test_a_small_checkpoint_matches_no_preset_and_says_what_to_pass(tmp_path, capsys):
    checkpoint(tmp_path, "adm_unet_legacy_order")
    assert main(["import", "adm", str(tmp_path / "adm_unet_legacy_order.pt"), "--out", str(tmp_path / "m.st")]) == 2
    assert "match no adm preset; pass --flags" in capsys.readouterr().err


def test_an_unknown_preset_lists_the_family_s_presets(tmp_path, capsys):
    checkpoint(tmp_path, "adm_unet_legacy_order")
    assert main(["import", "glide", str(tmp_path / "adm_unet_legacy_order.pt"), "--preset", "adm-64",
                 "--out", str(tmp_path / "m.st")]) == 2
    assert "no glide preset 'adm-64'; the presets are glide-base, glide-upsample" in capsys.readouterr().err


def test_import_never_overwrites_without_being_asked(tmp_path, capsys):
    checkpoint(tmp_path, "adm_unet_legacy_order")
    (tmp_path / "m.safetensors").write_bytes(b"keep")
    args = ["import", "adm", str(tmp_path / "adm_unet_legacy_order.pt"), "--flags", str(tmp_path / "flags.json"),
            "--out", str(tmp_path / "m.safetensors")]
    assert main(args) == 2 and (tmp_path / "m.safetensors").read_bytes() == b"keep"
    assert main([*args, "--overwrite"]) == 0


def test_cascade_ties_base_upsampler_and_classifier(tmp_path, capsys):
    files = {}
    for name, role in (("adm_unet_new_order", "base"), ("adm_super_res", "sr"),
                       ("adm_classifier_attention", "classifier")):
        checkpoint(tmp_path, name)
        files[role] = tmp_path / f"{role}.safetensors"
        assert main(["import", "adm", str(tmp_path / f"{name}.pt"), "--flags", str(tmp_path / "flags.json"),
                     "--out", str(files[role])]) == 0
    assert main(["cascade", "--name", "ADM tiny", "--base", str(files["base"]), "--sr", str(files["sr"]),
                 "--classifier", str(files["classifier"]), "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "cascade.json").read_text())
    assert data == {"name": "ADM tiny", "base": "base.safetensors", "sr": "sr.safetensors",
                    "classifier": "classifier.safetensors"}
    assert main(["cascade", "--name", "x", "--base", str(files["sr"]), "--out", str(tmp_path / "c2.json")]) == 2
    assert "is a sr model, listed as base" in capsys.readouterr().err
    assert not (tmp_path / "c2.json").exists()


def test_forward_refuses_missing_inputs_in_one_line(tmp_path, capsys):
    checkpoint(tmp_path, "glide_base")
    out = tmp_path / "m.safetensors"
    assert main(["import", "glide", str(tmp_path / "glide_base.pt"), "--flags", str(tmp_path / "flags.json"),
                 "--out", str(out)]) == 0
    np.savez(tmp_path / "bad.npz", in_x=np.zeros((1, 3, 8, 8), np.float32), in_timesteps=np.array([5]))
    assert main(["forward", str(out), "--inputs", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "o.npz")]) == 2
    assert "text-conditioned: pass tokens and mask" in capsys.readouterr().err


def test_a_glide_import_stores_gpt2s_merges_and_tokenizes_like_the_reference(tmp_path, capsys, monkeypatch):
    import studio.engine.openai_import as importer

    monkeypatch.setattr(importer, "resources_folder", lambda: ROOT / "resources")  # this checkout's files
    data = checkpoint(tmp_path, "glide_base")
    flags = json.loads(str(data["flags"])) | {"vocab_size": 50257}
    shapes = dict(zip(data["names"].tolist(), map(tuple, json.loads(str(data["shapes"]))), strict=True))
    shapes["token_embedding.weight"] = (50257, shapes["token_embedding.weight"][1])
    torch.save({k: torch.from_numpy(v) for k, v in weights(shapes).items()}, tmp_path / "glide.pt")
    (tmp_path / "flags.json").write_text(json.dumps(flags))
    out = tmp_path / "glide.safetensors"
    assert main(["import", "glide", str(tmp_path / "glide.pt"), "--flags", str(tmp_path / "flags.json"),
                 "--out", str(out)]) == 0
    assert len(read_model_info(out).config.openai.text.merges) == 50000
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert "<50000 BPE merges>" in capsys.readouterr().out
    from studio.models.files import load_model

    case = json.loads((FIXTURES / "bpe_cases.json").read_text())[0]
    tokens, mask = load_model(out).module.text.encode_prompts([case["prompt"], ""])
    assert tokens.shape == (2, 8) and tokens[0].tolist() == case["tokens"][:8] and mask[0].all()
    assert tokens[1].tolist() == [50256] * 8 and not mask[1].any()
