"""Code verifier: fraction of tests passed; escapes, loops, bombs and floods score 0 and stay contained."""
import os
import time

import pytest

from reasonrl.rewards.code_sandbox import extract_code, run_tests

GOOD = "def add(a, b):\n    return a + b\n"
TESTS = ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 5"]


def test_fraction_of_tests_passed():
    assert run_tests(GOOD, TESTS) == pytest.approx(2 / 3)
    assert run_tests("def add(a, b):\n    return 0\n", TESTS) == pytest.approx(1 / 3)  # add(-1, 1) == 0 holds
    assert run_tests("this is not python", TESTS) == 0.0


@pytest.mark.parametrize("escape", [
    "import os\nos.system('touch /tmp/reasonrl_pwned')",
    "import subprocess\nsubprocess.run(['touch', '/tmp/reasonrl_pwned'])",
    "open('/tmp/reasonrl_pwned', 'w').write('x')",
    "import os\nos.fork()",
    "import ctypes\nctypes.CDLL(None).system(b'touch /tmp/reasonrl_pwned')",
    "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)",
])
def test_escapes_are_blocked(escape):
    path = "/tmp/reasonrl_pwned"
    if os.path.exists(path):
        os.remove(path)
    assert run_tests(escape + "\n" + GOOD, TESTS[:1]) == 0.0
    assert not os.path.exists(path)


def test_infinite_loop_is_killed_at_the_limit():
    start = time.monotonic()
    assert run_tests("while True:\n    pass\n", ["assert True"], timeout_s=1.0) == 0.0
    assert time.monotonic() - start < 3


def test_huge_output_and_memory_bomb_are_contained():
    start = time.monotonic()
    assert run_tests("print('x' * 10**8)\n" + GOOD, ["assert add(1, 2) == 3"], timeout_s=3) in (0.0, 1.0)
    assert run_tests("x = bytearray(10**10)\n" + GOOD, ["assert add(1, 2) == 3"]) == 0.0
    assert time.monotonic() - start < 8


def test_forged_result_lines_do_not_count():
    forged = "open('results.txt', 'a').write(''.join('deadbeef %d ok\\n' % i for i in range(3)))\nimport os\nos._exit(0)"
    assert run_tests(forged, TESTS) == 0.0


def test_extract_code_takes_the_answer_block():
    completion = "<think>```python\nbad()\n```</think><answer>```python\n" + GOOD + "```</answer>"
    assert extract_code(completion) == GOOD
    assert extract_code("<think>unclosed ```python\nx=1\n```") is None
