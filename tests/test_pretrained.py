"""gan3d's safe checkpoint form: what save writes, and that read refuses a pair not written together."""

import json

import pytest
import torch

import gan3d
from gan3d import pretrained
from gan3d.errors import CheckpointError

CARD = gan3d.ModelCard(name="tiny/net", method="tiny", dataset="none", resolution=4,
                       camera=gan3d.CameraDefaults(radius=2.7, focal=4.2647))


class Tiny(gan3d.Generator):
    def __init__(self, width: int = 3):
        super().__init__(CARD)
        self.width = width
        self.lin = torch.nn.Linear(width, width)

    def export_config(self) -> dict:
        return {"width": self.width}


def test_save_then_read_round_trip(tmp_path):
    G = Tiny()
    out = G.save_pretrained(tmp_path / "m")
    meta = json.loads((out / "config.json").read_text())
    assert meta["method"] == "tiny" and meta["config"] == {"width": 3} and len(meta["weights_sha256"]) == 64
    for where in (out, out / "config.json", out / "weights.pt"):  # folder, config or weights path
        form = pretrained.read(where, "tiny")
        assert form is not None and form.card() == CARD
        sd = form.state_dict()
        assert torch.equal(sd["lin.weight"], G.lin.weight)
    assert pretrained.read(out, "eg3d") is None  # another method's hook passes
    assert pretrained.read(tmp_path, "tiny") is None  # no config.json there


def test_a_pair_not_written_together_is_refused(tmp_path):
    out = Tiny().save_pretrained(tmp_path / "m")
    config_before = (out / "config.json").read_text()
    # an overwrite interrupted after the new weights.pt and before its config.json
    Tiny().save_pretrained(out)
    (out / "config.json").write_text(config_before)
    with pytest.raises(CheckpointError, match="not the weights file its config.json was written with"):
        pretrained.read(out, "tiny").state_dict()
    # folders written before the hash was recorded still load
    meta = json.loads(config_before)
    del meta["weights_sha256"]
    (out / "config.json").write_text(json.dumps(meta))
    assert "lin.bias" in pretrained.read(out, "tiny").state_dict()


def test_broken_safe_forms_name_the_problem(tmp_path):
    out = Tiny().save_pretrained(tmp_path / "m")
    (out / "weights.pt").unlink()
    with pytest.raises(CheckpointError, match="has no weights.pt beside it"):
        pretrained.read(out, "tiny").state_dict()
    meta = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**meta, "card": {"name": "no-slash"}}))
    with pytest.raises(CheckpointError, match="no valid model card"):
        pretrained.read(out, "tiny").card()
    (out / "config.json").write_text("{not json")
    assert pretrained.read(out, "tiny") is None  # not a gan3d config: no plugin claims it
