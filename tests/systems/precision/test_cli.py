"""``syslab precision plan`` and ``sweep`` (CLI in flows/cli/precision.py)."""

from typer.testing import CliRunner

from flows.cli.main import app

runner = CliRunner()


def test_plan_prints_table_and_memory_ratios():
    res = runner.invoke(app, ["precision", "plan", "--model", "resnet18", "--r", "0.7"])
    assert res.exit_code == 0, res.output
    assert "x FP32" in res.output and "x pi_op" in res.output and "| group |" in res.output
    assert "`layers.0.branch.0`" in res.output


def test_plan_bad_input_exits_2_without_traceback():
    res = runner.invoke(app, ["precision", "plan", "--model", "vgg"])
    assert res.exit_code == 2 and "unknown model" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["precision", "plan", "--r", "1.5"])
    assert res.exit_code == 2 and "--r must be in [0, 1]" in res.output


def test_sweep_runs_locally():
    res = runner.invoke(app, ["precision", "sweep", "--rs", "1.0", "--epochs", "1", "--no-baselines"])
    assert res.exit_code == 0, res.output
    assert "| ours | 1 |" in res.output


def test_sweep_bad_rs():
    res = runner.invoke(app, ["precision", "sweep", "--rs", "0.5,x"])
    assert res.exit_code == 2 and "--rs" in res.output
