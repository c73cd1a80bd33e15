"""Reading `.pt` checkpoints: every layout torch writes, and nothing from the file ever runs."""

import os
import pickle
import zipfile

import pytest
import torch

from studio.models.files import ModelFileError
from studio.models.pt_files import read_pt_state_dict


def _state() -> dict[str, torch.Tensor]:
    flat = torch.arange(20, dtype=torch.float16)  # the fp16 trainers' flat buffer
    return {"w": torch.randn(3, 4), "view.a": flat[:10].view(2, 5), "view.b": flat[10:]}


def _check(loaded: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> None:
    assert list(loaded) == list(state)
    for name, tensor in state.items():
        assert torch.equal(loaded[name], tensor) and loaded[name].dtype == tensor.dtype


def test_the_zip_format_reads_with_views_into_one_storage_made_separate(tmp_path):
    state = _state()
    torch.save(state, tmp_path / "m.pt")
    loaded = read_pt_state_dict(tmp_path / "m.pt")
    _check(loaded, state)
    a, b = loaded["view.a"], loaded["view.b"]
    assert a.untyped_storage().data_ptr() != b.untyped_storage().data_ptr()
    assert a.untyped_storage().nbytes() == 20 and b.untyped_storage().nbytes() == 20


def test_the_pre_1_6_non_zip_format_reads(tmp_path):
    state = _state()
    torch.save(state, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    assert not zipfile.is_zipfile(tmp_path / "old.pt")
    _check(read_pt_state_dict(tmp_path / "old.pt"), state)


@pytest.mark.parametrize("root", ["archive", "64x64_diffusion"])
def test_either_zip_root_folder_name_reads(tmp_path, root):
    state = _state()
    torch.save(state, tmp_path / "src.pt")
    with zipfile.ZipFile(tmp_path / "src.pt") as src, zipfile.ZipFile(tmp_path / "out.pt", "w") as out:
        for info in src.infolist():
            out.writestr(root + "/" + info.filename.split("/", 1)[1], src.read(info))
    _check(read_pt_state_dict(tmp_path / "out.pt"), state)


class _Hostile:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 4])
def test_a_pickle_that_would_run_code_is_refused_in_one_line_and_runs_nothing(tmp_path, protocol):
    marker = tmp_path / "marker"
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"w": torch.zeros(2), "x": _Hostile(marker)}, f, protocol=protocol)
    with pytest.raises(ModelFileError) as caught:
        read_pt_state_dict(tmp_path / "evil.pt")
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{tmp_path / 'evil.pt'}: refused: ")
    assert "no code from a checkpoint is run" in message
    assert not marker.exists()


def test_the_refusal_names_the_global_the_pickle_asks_for(tmp_path):
    torch.save({"w": torch.zeros(2), "x": _Hostile(tmp_path / "m")}, tmp_path / "evil.pt")
    with pytest.raises(ModelFileError, match=r"it names (posix|os)\.system"):
        read_pt_state_dict(tmp_path / "evil.pt")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(("content", "problem"), [
    ([torch.zeros(1)], "holds a list, not a state dict"),
    ({"w": torch.zeros(1), "step": 5}, "entry 'step' is not a named tensor"),
    ({}, "holds no tensors"),
])
def test_anything_but_a_flat_state_dict_is_refused(tmp_path, content, problem):
    torch.save(content, tmp_path / "x.pt")
    with pytest.raises(ModelFileError, match=problem):
        read_pt_state_dict(tmp_path / "x.pt")


def test_a_file_that_is_not_a_checkpoint_says_so(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelFileError, match="x.pt: (is not a readable PyTorch checkpoint|refused)"):
        read_pt_state_dict(tmp_path / "x.pt")
    with pytest.raises(ModelFileError, match="no such file"):
        read_pt_state_dict(tmp_path / "missing.pt")
