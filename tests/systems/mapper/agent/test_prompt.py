"""Prompt building and reply parsing (the reply is parsed as DSL, never executed)."""

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
