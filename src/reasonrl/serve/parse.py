"""Split a completion into `reasoning_content` (inside <think>...</think>) and `content` (the answer).

Rules (the DeepSeek-R1 convention, documented in docs/serve.md):
  * `<think>` opens reasoning only at the start of the output (leading whitespace allowed).
  * With `prefill_think` the prompt already ends with "<think>\\n", so the output starts inside the
    reasoning and text before `</think>` is reasoning without an opening tag.
  * Content is the text after `</think>` with `<answer>` / `</answer>` tags removed (the text between
    them is kept).
  * With `answer_only` (a run trained to answer inside <answer>) content is only the text inside
    `<answer>...</answer>`; text around it is dropped. A reply with no `<answer>` keeps all of its content
    (held back until the stream ends, since an `<answer>` could still come).
  * No think tags at all: everything is content. In streaming with `prefill_think` the text before
    `</think>` has already been sent as reasoning when the stream finds it never closes; only the
    non-streaming reply can move it to content (`split_reasoning` does).

The splitter is incremental so SSE streams reasoning deltas, then content deltas, and never emits a
half tag: a suffix that could still become a tag is held back until the next feed.
"""
from __future__ import annotations

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
ANSWER_TAGS = ("<answer>", "</answer>")


def partial_suffix(text: str, tags: tuple[str, ...]) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of one of `tags` (0 if none).

    >>> partial_suffix("abc</thi", ("</think>",))
    5
    >>> partial_suffix("abc", ("</think>",))
    0
    """
    best = 0
    for tag in tags:
        for k in range(min(len(tag) - 1, len(text)), best, -1):
            if text.endswith(tag[:k]):
                best = k
                break
    return best


class ReasoningSplitter:
    """Feed text deltas, get ("reasoning" | "content", text) pieces in order.

    >>> s = ReasoningSplitter()
    >>> s.feed("<thi") + s.feed("nk>2+2</th") + s.feed("ink>\\n<answer>4</answer>") + s.finish()
    [('reasoning', '2+2'), ('content', '4')]
    >>> s = ReasoningSplitter(prefill_think=True)
    >>> s.feed("add them</think>four") + s.finish()
    [('reasoning', 'add them'), ('content', 'four')]
    >>> s.reasoning_closed
    True
    """

    def __init__(self, prefill_think: bool = False, answer_only: bool = False):
        self.state = "reasoning" if prefill_think else "start"
        self.answer_only = answer_only
        self.reasoning_closed = False  # True once `</think>` was seen
        self._buf = ""
        self._started = {"reasoning": False, "content": False}

    def feed(self, text: str) -> list[tuple[str, str]]:
        self._buf += text
        return self._drain(final=False)

    def finish(self) -> list[tuple[str, str]]:
        """Flush held-back text at the end of the stream."""
        return self._drain(final=True)

    def _emit(self, out: list, kind: str, text: str) -> None:
        if not self._started[kind]:
            text = text.lstrip()  # the newline after a tag is layout, not text
        if text:
            self._started[kind] = True
            out.append((kind, text))

    def _drain(self, final: bool) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        while True:
            if self.state == "start":
                head = self._buf.lstrip()
                if head.startswith(THINK_OPEN):
                    self._buf, self.state = head[len(THINK_OPEN):], "reasoning"
                    continue
                if not final and THINK_OPEN.startswith(head):
                    return out  # still may become "<think>" (or is only whitespace so far)
                self.state = "content"
            elif self.state == "reasoning":
                i = self._buf.find(THINK_CLOSE)
                if i >= 0:
                    self._emit(out, "reasoning", self._buf[:i])
                    self._buf, self.state = self._buf[i + len(THINK_CLOSE):], "content"
                    self.reasoning_closed = True
                    continue
                keep = 0 if final else partial_suffix(self._buf, (THINK_CLOSE,))
                self._emit(out, "reasoning", self._buf[: len(self._buf) - keep])
                self._buf = self._buf[len(self._buf) - keep:]
                return out
            elif self.state == "content" and self.answer_only:
                i = self._buf.find(ANSWER_TAGS[0])
                if i >= 0:  # the answer starts: what came before it is not the answer
                    self._buf, self.state = self._buf[i + len(ANSWER_TAGS[0]):], "answer"
                    continue
                if final:  # no <answer> at all: the whole content is the answer
                    self.answer_only = False
                    continue
                return out
            elif self.state == "answer":
                i = self._buf.find(ANSWER_TAGS[1])
                if i >= 0:
                    self._emit(out, "content", self._buf[:i])
                    self._buf, self.state = "", "done"
                    return out
                keep = 0 if final else partial_suffix(self._buf, (ANSWER_TAGS[1],))
                self._emit(out, "content", self._buf[: len(self._buf) - keep])
                self._buf = self._buf[len(self._buf) - keep:]
                return out
            elif self.state == "done":  # after </answer>: not part of the answer
                self._buf = ""
                return out
            else:  # content
                for tag in ANSWER_TAGS:
                    self._buf = self._buf.replace(tag, "")
                keep = 0 if final else partial_suffix(self._buf, ANSWER_TAGS)
                self._emit(out, "content", self._buf[: len(self._buf) - keep])
                self._buf = self._buf[len(self._buf) - keep:]
                return out


def split_reasoning(text: str, prefill_think: bool = False, answer_only: bool = False) -> tuple[str, str]:
    """(reasoning_content, content) of a whole completion, both stripped.

    >>> split_reasoning("<think>\\n7 times 6</think>\\n<answer>42</answer>")
    ('7 times 6', '42')
    >>> split_reasoning("just an answer", prefill_think=True)
    ('', 'just an answer')
    >>> split_reasoning("<think>cut off by max_tokens")
    ('cut off by max_tokens', '')
    >>> split_reasoning("4 + 5 = 9</think>\\nSo: <answer> 9 </answer> done", prefill_think=True, answer_only=True)
    ('4 + 5 = 9', '9')
    """
    if prefill_think and THINK_CLOSE not in text:
        prefill_think = False  # the model ignored the prefilled <think>: all of it is the answer
    s = ReasoningSplitter(prefill_think, answer_only)
    parts = s.feed(text) + s.finish()
    reasoning = "".join(t for k, t in parts if k == "reasoning")
    content = "".join(t for k, t in parts if k == "content")
    return reasoning.strip(), content.strip()
