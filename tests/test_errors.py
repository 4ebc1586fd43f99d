"""gan3d.errors: pydantic problems turned into one error that names the file, each bad field and the fix."""

import pytest
from pydantic import BaseModel, ConfigDict, Field

from gan3d.errors import CheckpointError, InputError, field_problems, validated


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(8, gt=0)
    pivot: tuple[float, float, float] = (0.0, 0.0, 0.0)
    psi: float = Field(0.7, le=1)

    def __init__(self, **data):
        super().__init__(**data)
        if self.size & (self.size - 1):
            raise InputError(f"size must be a power of two, got {self.size}")


def test_every_bad_field_is_named_by_the_files_spelling_with_its_value():
    with pytest.raises(CheckpointError) as info:
        validated(Settings, {"size": -4, "pivot": [1.0, 2.0], "psi": 1.5, "colour": "red"}, source="run/config.py",
                  names={"pivot": "params['pivot']"}, fix="Edit run/config.py.")
    lines = str(info.value).splitlines()
    assert lines[0] == "run/config.py holds 4 value(s) gan3d cannot use (Settings):"
    assert "  size = -4: Input should be greater than 0" in lines
    assert "  params['pivot'] = [1.0, 2.0]: too few items (item 2 is missing)" in lines
    assert "  psi = 1.5: Input should be less than or equal to 1" in lines
    assert "  colour = 'red': Extra inputs are not permitted" in lines and lines[-1] == "Edit run/config.py."


def test_the_models_own_checks_and_non_mappings_get_the_same_treatment():
    with pytest.raises(InputError, match=r"^cfg.json: size must be a power of two, got 6\nfix it$"):
        validated(Settings, {"size": 6}, source="cfg.json", fix="fix it", error=InputError)
    with pytest.raises(CheckpointError, match=r"cfg.json: expected a mapping of Settings fields, got list"):
        validated(Settings, [1, 2], source="cfg.json", fix="fix it")
    assert validated(Settings, {"size": 16}, source="cfg.json", fix="") == Settings(size=16)


def test_field_problems_prefers_the_longest_mapped_path():
    from pydantic import ValidationError

    class Outer(BaseModel):
        inner: Settings

    with pytest.raises(ValidationError) as info:
        Outer(inner={"psi": 2, "pivot": "x"})
    got = field_problems(info.value, {"inner": "the inner block", "inner.psi": "psi in the file"})
    assert got[0].startswith("the inner block.pivot = 'x': ") and got[1].startswith("psi in the file = 2:")
