"""Prompt building and reply parsing (the reply is parsed as DSL, never executed)."""

import re

import pytest

from systems.mapper.agent.prompt import DSL_REFERENCE, MalformedReply, build_messages, extract_dsl

MAPPER = "Task * GPU,CPU;\nRegion * * GPU FBMEM;\n"


def test_prompt_carries_reference_app_best_and_feedback():
    msgs = build_messages("app: tasks t1 t2", "2 nodes x 4 GPUs", best=[(1.5, MAPPER)],
                          history=[(0, "Task * CPU;", "FEEDBACK-ZERO"), (1, MAPPER, "FEEDBACK-ONE")])
    user = msgs[-1]["content"]
    assert msgs[0]["role"] == "system" and DSL_REFERENCE.splitlines()[0] in user
    assert "app: tasks t1 t2" in user and "2 nodes x 4 GPUs" in user
    assert "time 1.5 s" in user and "FEEDBACK-ZERO" in user and "FEEDBACK-ONE" in user
    assert user.index("FEEDBACK-ZERO") < user.index("FEEDBACK-ONE")


def test_history_is_bounded():
    hist = [(i, MAPPER, f"FB{i:02d}") for i in range(20)]
    user = build_messages("a", "", [], hist, max_history=3)[-1]["content"]
    assert "FB19" in user and "FB17" in user and "FB16" not in user


@pytest.mark.parametrize("reply", [
    f"Here is my mapper:\n```mapper\n{MAPPER}```\n",
    f"```\n{MAPPER}```",
    f"```python\nprint('hi')\n```\n```dsl\n{MAPPER}```",
    MAPPER,
])
def test_extract_dsl(reply):
    assert extract_dsl(reply).strip() == MAPPER.strip()


@pytest.mark.parametrize("reply", ["", "I cannot help with that.", "```python\nimport os\nos.system('x')\n```",
                                   "Sure! Task * GPU; would be good but I think\nmore text here\nand here\nand more"])
def test_malformed_replies(reply):
    with pytest.raises(MalformedReply):
        extract_dsl(reply)


def test_budget_drops_oldest_feedback_first_and_grammar_prompt_asks_for_the_bare_mapper():
    hist = [(i, MAPPER * 20, f"FB{i:02d}") for i in range(6)]
    full = build_messages("a", "", [(1.0, MAPPER)], hist)[-1]["content"]
    small = build_messages("a", "", [(1.0, MAPPER)], hist, max_chars=len(full) - 1000)[-1]["content"]
    assert len(small) <= len(full) - 1000 and "FB05" in small and "FB00" not in small and "time 1 s" in small
    g = build_messages("a", "", [], [], grammar=True)
    assert "```mapper" not in g[-1]["content"] and "no code fence" in g[0]["content"]
    assert extract_dsl("Task * GPU;", bare=True) == "Task * GPU;\n"


def _code_blocks(md: str) -> list[str]:
    """The reference's indented example blocks (syntax templates with <placeholders> excluded)."""
    blocks, cur = [], []
    for ln in md.splitlines() + [""]:
        if ln.startswith("    "):
            cur.append(ln[4:])
        elif cur:
            blocks.append("\n".join(cur) + "\n")
            cur = []
    return [b for b in blocks if not re.search(r"<[A-Za-z|*][^>]*>", b)]


def test_reference_examples_are_real_dialect_and_compile():
    """Every example in the DSL reference parses and compiles with the project's DSL compiler."""
    from systems.mapper.dsl import compile_mapper
    from systems.mapper.evaluate import evaluate_mapper

    blocks = _code_blocks(DSL_REFERENCE)
    assert len(blocks) >= 8
    for b in blocks:
        compile_mapper(b)
    full = blocks[-1]  # "A complete example" runs on a benchmark
    assert evaluate_mapper(full, "circuit").status == "ok"


def test_reference_is_versioned_and_hashed():
    from systems.mapper.agent.prompt import REFERENCE_SHA, REFERENCE_VERSION

    assert REFERENCE_VERSION == "v1" and len(REFERENCE_SHA) == 12
    for word in ("merge", "split", "swap", "slice", "reverse", "balance_split", "auto_split", "InstanceLimit",
                 "CollectMemory", "IndexTaskMap", "SingleTaskMap", "Layout", "Region", "index_out_of_bounds",
                 "no_variant", "stride", "oom", "syntax"):
        assert word in DSL_REFERENCE
