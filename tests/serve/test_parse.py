"""The reasoning/content split, fed whole and one character at a time (as SSE sees it)."""
import pytest

from reasonrl.serve.parse import ReasoningSplitter, split_reasoning


def stream_split(text: str, prefill: bool = False) -> tuple[str, str, list[str]]:
    s = ReasoningSplitter(prefill)
    parts = [p for ch in text for p in s.feed(ch)] + s.finish()
    kinds = [k for k, _ in parts]
    return ("".join(t for k, t in parts if k == "reasoning"), "".join(t for k, t in parts if k == "content"), kinds)


@pytest.mark.parametrize("text,prefill,reasoning,content", [
    ("<think>\n3+4=7\n</think>\n<answer>7</answer>", False, "3+4=7", "7"),
    ("  <think>a</think>b", False, "a", "b"),
    ("The answer is <answer>7</answer>.", False, "", "The answer is 7."),
    ("no tags at all", False, "", "no tags at all"),
    ("<thin is not a tag", False, "", "<thin is not a tag"),
    ("3+4=7\n</think>\n<answer>7</answer>", True, "3+4=7", "7"),
    ("<think>先算 3+4。</think>答案是 <answer>七</answer>", False, "先算 3+4。", "答案是 七"),
])
def test_split_whole_and_streamed_agree(text, prefill, reasoning, content):
    assert split_reasoning(text, prefill) == (reasoning, content)
    r, c, kinds = stream_split(text, prefill)
    assert (r.strip(), c.strip()) == (reasoning, content)
    # reasoning pieces all come before content pieces, and no piece carries a half tag
    assert kinds == sorted(kinds, key=lambda k: k != "reasoning")
    assert "<" + "/think" not in r + c and "<answer" not in c


def test_prefill_without_close_is_all_content_when_whole():
    assert split_reasoning("plain answer 42", prefill_think=True) == ("", "plain answer 42")
    # streamed, the text already went out as reasoning: documented in docs/serve.md
    assert stream_split("plain answer 42", prefill=True)[:2] == ("plain answer 42", "")


def test_unclosed_think_is_all_reasoning():
    assert split_reasoning("<think>ran out of tokens") == ("ran out of tokens", "")
    assert ReasoningSplitter().feed("<think>x") == [("reasoning", "x")]
