"""The restricted unpickler: plain data in, nothing executed, clear errors."""

import collections
import io
import os
import pickle

import pytest
import torch

from gan3d.errors import CheckpointError, UnsafeCheckpointError
from gan3d.unpickle import PickledObject, load_pickle, load_state_dict


def test_a_pickle_that_would_run_a_command_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"G_ema": Evil()}))
    with pytest.raises(UnsafeCheckpointError, match=r"posix\.system|os\.system"):
        load_pickle(path)
    assert not marker.exists()


def test_any_unlisted_global_is_refused_by_name(tmp_path):
    data = pickle.dumps(collections.Counter("abc"))
    with pytest.raises(UnsafeCheckpointError, match="collections.Counter"):
        load_pickle(io.BytesIO(data))


def test_tensors_ordered_dicts_and_stub_classes_load_as_data():
    sd = collections.OrderedDict(w=torch.arange(6.0).reshape(2, 3), p=torch.nn.Parameter(torch.ones(2)))
    obj = load_pickle(io.BytesIO(pickle.dumps({"sd": sd, "s": {1, 2}})))
    assert torch.equal(obj["sd"]["w"], sd["w"]) and isinstance(obj["sd"], collections.OrderedDict)
    assert obj["s"] == {1, 2}
    # a class under a declared module prefix becomes an inert record, never imported
    payload = pickle.dumps(torch.nn.Softplus(beta=2))
    stub = load_pickle(io.BytesIO(payload), stub_modules=("torch.nn.modules.",))
    assert isinstance(stub, PickledObject) and stub.cls_path.endswith("Softplus")
    assert stub.state["beta"] == 2
    with pytest.raises(UnsafeCheckpointError, match="Softplus"):
        load_pickle(io.BytesIO(payload))


def test_truncated_pickle_is_a_clear_error(tmp_path):
    data = pickle.dumps({"a": torch.ones(100)})
    path = tmp_path / "cut.pkl"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_pickle(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_pickle(tmp_path / "missing.pkl")


def test_state_dicts_load_weights_only(tmp_path):
    good = tmp_path / "w.pt"
    torch.save({"a": torch.ones(3)}, good)
    assert torch.equal(load_state_dict(good)["a"], torch.ones(3))
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    bad = tmp_path / "bad.pt"
    torch.save({"a": Evil()}, bad)
    with pytest.raises(UnsafeCheckpointError, match="weights-only"):
        load_state_dict(bad)
    assert not marker.exists()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_state_dict(cut)


def test_check_state_dict_names_missing_unexpected_and_mis_shaped_keys():
    from gan3d.unpickle import check_state_dict

    expected = {"a": (2, 3), "b": (4,)}
    check_state_dict({"a": torch.zeros(2, 3), "b": torch.zeros(4)}, expected, "ok.pt")
    with pytest.raises(CheckpointError) as e:
        check_state_dict({"a": torch.zeros(3, 3), "c": torch.zeros(1)}, expected, "bad.pt")
    msg = str(e.value)
    assert "bad.pt" in msg and "1 missing (e.g. b)" in msg and "1 unexpected (e.g. c)" in msg
    assert "a [3, 3] vs [2, 3]" in msg
    with pytest.raises(CheckpointError, match="maps names to tensors"):
        check_state_dict({"a": "not a tensor"}, expected, "odd.pt")
