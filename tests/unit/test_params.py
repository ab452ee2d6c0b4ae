import subprocess
import sys

import numpy as np
import pytest

from sabr.config import ParameterBoxConfig
from sabr.numerics.params import SabrParams


def test_valid_params_round_trip():
    p = SabrParams(alpha=0.25, beta=0.5, nu=0.4, rho=-0.3)
    assert p.as_dict() == {"alpha": 0.25, "beta": 0.5, "nu": 0.4, "rho": -0.3}
    np.testing.assert_array_equal(p.as_array(), [0.25, 0.5, 0.4, -0.3])


@pytest.mark.parametrize("field, value, allowed", [
    ("alpha", 0.0, "> 0"), ("alpha", -0.1, "> 0"), ("alpha", np.nan, "> 0"),
    ("beta", -0.01, "0 <= beta <= 1"), ("beta", 1.01, "0 <= beta <= 1"),
    ("nu", -0.1, "nu >= 0"),
    ("rho", 1.0, "-1 < rho < 1"), ("rho", -1.0, "-1 < rho < 1"), ("rho", 1.5, "-1 < rho < 1"),
])
def test_invalid_params_name_field_and_range(field, value, allowed):
    kwargs = dict(alpha=0.25, beta=0.5, nu=0.4, rho=-0.3)
    kwargs[field] = value
    with pytest.raises(ValueError) as err:
        SabrParams(**kwargs)
    message = str(err.value)
    assert message.startswith(f"{field}=") and allowed in message
    assert "\n" not in message


def test_edge_values_are_accepted():
    SabrParams(alpha=1e-6, beta=0.0, nu=0.0, rho=-0.999)
    SabrParams(alpha=2.0, beta=1.0, nu=3.0, rho=0.999)


def test_parameter_box_defaults_are_funahashis():
    """Funahashi (2022), "SABR equipped with AI wings", Quantitative Finance 23(2)."""
    box = ParameterBoxConfig()
    assert (box.alpha, box.beta, box.nu, box.rho) == (
        (0.05, 0.6), (0.3, 0.9), (0.05, 0.9), (-0.75, 0.75))


def test_sabr_core_never_imports_prefect():
    code = ("import sys, sabr, sabr.numerics, sabr.numerics.params, sabr.numerics.hagan,"
            " sabr.numerics.black, sabr.numerics.grid, sabr.numerics.montecarlo;"
            "print('prefect' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
