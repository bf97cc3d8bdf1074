from reasonrl.rewards import format_ok, format_score
from reasonrl.rewards.format import format_pieces


def test_strict_format_cases():
    assert format_ok("<think>2+2=4</think><answer>4</answer>")
    assert format_ok("  <think>a</think>\n<answer>4</answer>\n<|im_end|>")
    assert not format_ok("<think>a</think><answer>4</answer> Hope this helps!")
    assert not format_ok("<think>a</think><answer>4</answer><answer>5</answer>")
    assert not format_ok("<think>a</think><answer> </answer>")
    assert not format_ok("Sure! <think>a</think><answer>4</answer>")
    assert not format_ok("<think>a<answer>4</answer>")


def test_prefilled_think_is_treated_as_present():
    # The template wrote "<think>"; the model's part starts after it. Same score either way.
    assert format_ok("a</think><answer>4</answer>")
    assert format_score("a</think><answer>4</answer>") == format_score("<think>a</think><answer>4</answer>") == 1.0


def test_partial_credit_per_piece():
    assert format_score("nothing") == 0.0
    assert format_score("<think>still thinking") == 0.25
    assert format_score("<think>a</think> the answer is 4") == 0.5
    assert format_score("<think>a</think><answer>4") == 0.75
    assert format_pieces("<think>a</think><answer>4</answer> extra") == (True, True, True, False)
