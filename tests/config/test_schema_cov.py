"""algo.cov_clip_*: validated at load."""
import pytest
from pydantic import ValidationError

from reasonrl.config.schema import Config


def test_cov_clip_defaults_off_and_bounds_checked():
    assert Config().algo.cov_clip_frac == 0.0
    assert Config.model_validate({"algo": {"cov_clip_frac": 0.05}}).algo.cov_clip_bounds == (1.0, 5.0)
    with pytest.raises(ValidationError, match="low < high"):
        Config.model_validate({"algo": {"cov_clip_bounds": [5.0, 1.0]}})
    with pytest.raises(ValidationError):
        Config.model_validate({"algo": {"cov_clip_frac": 2.0}})
