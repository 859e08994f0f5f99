"""The real-dialect grammar: our compatibility corpus, production coverage, dialects, and an optional
comparison with a build of the real parser.

The expected verdicts in ``corpus/grammar/expected.json`` are those of DSLMapper's parser
(github.com/Anjiang-Wei/DSLMapper, commit c13b92e) on these files, which were written for this project.

Optional oracle check: set ``SYSLAB_DSLMAPPER_PARSER`` to an executable built from the real
``parser.y`` + ``scanner.l`` (it must exit 0 on success and print bison's ``Error at line N:`` on
stderr otherwise) and ``SYSLAB_MAPPER_FILES`` to a directory of mapper files; every file must get the
same verdict and error line from both.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from systems.mapper.dsl.lalr import load_grammar
from systems.mapper.dsl.parser import EXTENSION_FILE, GRAMMAR_FILE, check_syntax, parse_text, tables

CORPUS = Path(__file__).parent / "corpus" / "grammar"
EXPECTED = json.loads((CORPUS / "expected.json").read_text())["files"]


def _verdict(text: str, dialect: str = "real") -> dict:
    err = check_syntax(text, dialect)
    if err is None:
        return {"verdict": "ok"}
    return {"verdict": err.kind, "line": err.line, "message": err.message.split("\n")[0]}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_verdicts_match_the_real_parser(name):
    exp = EXPECTED[name]
    got = _verdict((CORPUS / name).read_text())
    assert got["verdict"] == exp["verdict"], got
    if exp["verdict"] != "ok":
        assert got["line"] == exp["line"]
    if exp["verdict"] == "syntax":
        # the real text, then our column (and the expected tokens when bison leaves them out)
        assert got["message"].startswith(exp["message"]), (got["message"], exp["message"])
        rest = got["message"][len(exp["message"]):]
        assert rest.startswith(" (column ") or rest.startswith(" (end of file") or rest == "", rest
    if "extended" in exp:
        assert _verdict((CORPUS / name).read_text(), "extended")["verdict"] == exp["extended"]["verdict"]


def test_every_corpus_file_has_an_expectation():
    assert sorted(p.name for p in CORPUS.glob("*.dsl")) == sorted(EXPECTED)


def test_ok_corpus_reduces_every_production_of_the_grammar():
    tabs, lexer = tables("real")
    seen: set[tuple[str, int]] = set()

    def hook(node):
        seen.add((node.rule, node.alt))
    from systems.mapper.dsl.lalr import parse

    for name, exp in EXPECTED.items():
        if exp["verdict"] == "ok":
            parse(tabs, lexer.tokens((CORPUS / name).read_text()), hook)
    # the asserting Region/Layout forms are reduced only by error files
    for name in ("err_region_word_proc.dsl", "err_layout_word_mem.dsl"):
        try:
            parse(tabs, lexer.tokens((CORPUS / name).read_text()), hook)
        except Exception:
            pass
    allp = {(p.lhs, p.alt) for p in tabs.grammar.productions[1:]}
    assert not (allp - seen), sorted(allp - seen)


def test_error_text_has_column_and_source_line():
    err = check_syntax("Task * GPU;\nInstanceLimit task_5 GPU 1;\n")
    assert err.kind == "syntax" and (err.line, err.column) == (2, 22)
    first, src = err.message.split("\n")
    assert first == "Error at line 2: syntax error, unexpected T_GPU, expecting T_IntConstant (column 22)"
    assert src.strip() == "InstanceLimit task_5 GPU 1;"


def test_long_expected_lists_are_ours_not_bisons():
    err = check_syntax("x = ;\n")
    first = err.message.split("\n")[0]
    assert first.startswith("Error at line 1: syntax error, unexpected ';' (column 5; expected one of: ")
    assert "T_Identifier" in first and "T_IntConstant" in first


def test_end_of_file_is_reported_on_the_line_after_the_last_newline():
    err = check_syntax("Task * GPU;\nRegion * * GPU FBMEM\n")
    assert err.line == 3 and err.message.startswith("Error at line 3: syntax error, unexpected $end")


def test_extended_dialect_is_off_by_default():
    text = "m = Machine(GPU);\nx = m.decompose(0, (1, 2));\nInstanceLimit t GPU 1;\n"
    assert check_syntax(text) is not None
    assert check_syntax(text, "extended") is None
    with pytest.raises(ValueError, match="unknown dialect"):
        check_syntax(text, "mapple")


def test_lark_reads_the_grammar_file():
    lark = pytest.importorskip("lark")
    text = GRAMMAR_FILE.read_text()
    parser = lark.Lark(text, start="program", parser="earley")
    for name, exp in EXPECTED.items():
        if exp["verdict"] == "ok":
            parser.parse((CORPUS / name).read_text())
    lark.Lark(text + EXTENSION_FILE.read_text(), start="program", parser="earley").parse("x = m.decompose(0, (1,2));")


def test_grammar_file_declares_bison_names_for_every_terminal():
    g = load_grammar(GRAMMAR_FILE)
    assert len(g.terminals) == 85  # bison names 85 tokens besides $end, error and $undefined
    assert g.display["T_TASKIPOINT"] == "T_TaskIPoint" and g.display["SEMICOLON"] == "';'"
    assert [p for p in g.productions if p.prec == "BANG"]  # %prec '!' on unary minus


def test_parse_tree_shape():
    tree = parse_text("Task * GPU;\nx = 1 + 2 * 3;\n")
    assert tree.rule == "program"


@pytest.mark.skipif(not (os.environ.get("SYSLAB_DSLMAPPER_PARSER") and os.environ.get("SYSLAB_MAPPER_FILES")),
                    reason="set SYSLAB_DSLMAPPER_PARSER and SYSLAB_MAPPER_FILES to compare with the real parser")
def test_agrees_with_the_real_parser_on_a_directory_of_files():
    exe = os.environ["SYSLAB_DSLMAPPER_PARSER"]
    files = sorted(p for p in Path(os.environ["SYSLAB_MAPPER_FILES"]).rglob("*") if p.is_file())
    assert files
    bad = []
    for f in files:
        p = subprocess.run([exe, str(f)], capture_output=True, text=True, errors="replace")
        real_ok = p.returncode == 0
        real_line = None
        if not real_ok and p.stderr.startswith("Error at line "):
            real_line = int(p.stderr.split(":")[0].split()[-1])
        ours = check_syntax(f.read_text(errors="surrogateescape"))
        if real_ok != (ours is None) or (real_line is not None and ours is not None and ours.line != real_line):
            bad.append((f.name, real_ok, real_line, None if ours is None else ours.line))
    assert not bad, bad
