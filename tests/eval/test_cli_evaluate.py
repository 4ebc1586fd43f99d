"""``gan3d evaluate`` end to end on the toy plugin's sphere (no faces: counted, not a crash)."""

import json

from gan3d.cli.main import main


def test_evaluate_writes_results_json(tmp_path, capsys):
    out = tmp_path / "results.json"
    code = main(["evaluate", "toy/sphere", "--metrics", "pose,smile,id", "--pose-backend", "dlib",
                 "--smile-backend", "dlib", "--id-backend", "dlib", "--num", "2", "--smile-frames", "2",
                 "--device", "cpu", "--quiet", "--out", str(out)])
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "pose_yaw_error" in stdout and "undetected=2" in stdout
    data = json.loads(out.read_text())  # strict JSON: NaN written as null
    names = [r["name"] for r in data["results"]]
    assert names == ["pose_yaw_error", "pose_yaw_corr", "smile_std", "id"]
    assert all(r["model"] == "toy/sphere" and len(r["protocol_hash"]) == 16 for r in data["results"])
    assert data["results"][0]["value"] is None and data["results"][0]["details"]["undetected"] == 2
    # the sphere renders with random jitter, so every batch is whole (8 renders): pose 2 latents x 1 view,
    # smile 2 x 2 frames, id 2 x 2 views, each padded to a full batch (see gan3d.eval.harness)
    assert data["timing"]["images"] == 8 + 8 + 8
    assert data["results"][0]["details"]["batch_size"] == 8


def test_evaluate_user_errors_are_one_line(tmp_path, capsys):
    assert main(["evaluate", "toy/sphere", "--metrics", "fdi"]) == 2
    assert "unknown metric 'fdi'; did you mean 'fid'" in capsys.readouterr().err
    assert main(["evaluate", "toy/sphere", "--metrics", "fid"]) == 2
    assert "--ref" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["evaluate", "toy/sphere", "--metrics", "kid", "--ref", str(tmp_path / "empty")]) == 2
    assert "holds no images" in capsys.readouterr().err
    assert main(["evaluate", "toy/sphere", "--metrics", "pose", "--cameras", "dataset"]) == 2
    assert "needs the dataset" in capsys.readouterr().err
    assert main(["evaluate", "--list"]) == 0
    assert "smile" in capsys.readouterr().out
