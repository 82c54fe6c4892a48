"""Run the Triton kernel cases on the CPU in the Triton interpreter.

TRITON_INTERPRET=1 only takes effect if it is set before the kernels are
imported, so each group of cases runs in a fresh pytest process with the
variable set. The cases, and the tolerance rule they use, are in
tests/test_kernels_triton_cases.py.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

CASES = Path(__file__).with_name("test_kernels_triton_cases.py")
# Groups split the work so pytest-xdist can run them side by side.
GROUPS = {
    "attention_float32": "attention and float32 or broadcast",
    "attention_float16": "attention and float16",
    "rope": "rope",
}


@pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") == "1", reason="already inside the interpreter run")
@pytest.mark.parametrize("group", list(GROUPS))
def test_triton_kernels_match_reference_in_the_interpreter(group):
    env = dict(os.environ, TRITON_INTERPRET="1")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-k", GROUPS[group], str(CASES)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert " passed" in result.stdout and " failed" not in result.stdout, report
