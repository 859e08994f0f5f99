"""Generation grammars derived from the DSL grammar file: everything they admit, the parser accepts."""

import importlib.util
import json

import pytest
from lark import Lark

from systems.mapper.agent import grammar as G
from systems.mapper.dsl.parser import parse_text


@pytest.mark.parametrize("minimal", [False, True])
def test_every_gbnf_sample_parses(minimal):
    """Soundness of the translation (incl. whitespace junctions): random derivations of the GBNF, with
    random or the least whitespace it allows, are accepted by the project's parser."""
    bad = []
    for s in G.sample_programs(150, seed=7, minimal_ws=minimal):
        try:
            parse_text(s)
        except Exception as exc:  # noqa: BLE001
            bad.append((s, str(exc)))
    # the grammar file is ambiguous and bison's precedence rules reject a few exotic expressions that
    # its productions derive (e.g. `a && **> b`); nothing else may fail
    assert len(bad) <= 2 and all("syntax error" in e for _s, e in bad), bad


def test_gbnf_shape():
    g = G.gbnf()
    rules = dict(ln.split(" ::= ", 1) for ln in g.splitlines() if " ::= " in ln)
    assert rules["root"] == "ws program" and all("_" not in k for k in rules)  # llama.cpp names: [a-z0-9-]
    assert G.file_hash()[:12] in g.splitlines()[0]
    # no left recursion survives: no rule's alternatives start with the rule itself
    for k, v in rules.items():
        assert not any(alt.strip().startswith(k + " ") for alt in v.split("|")), k
    # A -> A op A is rewritten without ambiguity: an operator is followed by a head, not a whole expression
    assert rules["expr"] == "expr-head expr-tail" and "t-plus ws expr-head expr-tail" in rules["expr-tail"]
    # a space is forced between two words (Task foo) but not before punctuation
    assert "t-t-task sp" in g and "t-t-identifier ws t-semicolon" in g


def test_json_string_form_round_trips_through_json():
    import random

    g = G.gbnf(json_string=True, prefix="d-")
    rules = {k.strip(): v.strip() for k, v in (ln.split("::=", 1) for ln in g.splitlines()
                                              if "::=" in ln and not ln.startswith("#"))}
    rng = random.Random(3)
    for _ in range(100):
        s = G._derive(rules, "d-root", rng, 9)
        assert '"' not in s.replace('\\"', "") and "\n" not in s  # a valid JSON string body
        try:
            parse_text(json.loads('"' + s + '"'))
        except Exception as exc:  # noqa: BLE001 - same precedence caveat as above
            assert "syntax error" in str(exc)


def test_identifiers_exclude_keywords():
    """A name spelling a keyword scans as the keyword: the GBNF's identifier rule cannot produce one."""
    import random

    rules = {k.strip(): v.strip() for k, v in (ln.split("::=", 1) for ln in G.gbnf().splitlines()
                                              if "::=" in ln and not ln.startswith("#"))}
    ident = rules["t-t-identifier"]  # -> the trie's root rule
    rng = random.Random(0)
    names = {G._derive(rules, ident, rng, 50) for _ in range(3000)}
    assert len(names) > 1000 and not names & {"in", "for", "def", "return", "tuple", "Task", "PY", "AOS", "GPU"}


def test_lark_tool_grammar_is_the_same_language():
    lk = Lark(G.lark_tool_grammar(), start="program")
    for s in G.sample_programs(60, seed=11):
        lk.parse(s)
    assert "COMMENT" not in G.lark_tool_grammar() and "%import" not in G.lark_tool_grammar()


def test_unsupported_regex_is_refused_by_name():
    with pytest.raises(G.GrammarConversionError, match="FOO"):
        G.regex_to_gbnf(r"(?<=a)b", "FOO")


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python not installed (make llm)")
def test_llama_cpp_accepts_the_gbnf():
    from llama_cpp import LlamaGrammar

    from systems.mapper.agent.optoprime import optoprime_gbnf

    LlamaGrammar.from_string(G.gbnf(), verbose=False)
    LlamaGrammar.from_string(optoprime_gbnf("mapper0"), verbose=False)
