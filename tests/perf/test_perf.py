"""``bench perf``: one row per method x size, parts that add up, FLOP counts, MFU, bad options."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from bench.cli import main
from bench.encoders.base import InputSpec
from bench.errors import ConfigError, UnknownNameError
from bench.method import METHODS
from bench.perf import matmul_peak
from bench.perf.flops import count_flops, device_peak_tflops, model_flop_utilisation, peak_tflops
from bench.perf.measure import PerfOptions, PerfRow, plan_cases, run_perf, run_step
from bench.perf.report import format_table
from bench.perf.timing import PeakMemory
from bench.training.config import TrainConfig
from bench.training.loop import TrainingLoop, pretrain
from bench.training.state import seed_everything

FAST = {"steps": 2, "warmup": 1, "batch_size": 4, "device": "cpu"}
SSL_METHODS = ("jepa", "hybrid", "cpc", "stmask")


def assert_parts_add_up(row: PerfRow) -> None:
    parts = row.data_s + row.forward_s + row.backward_s
    assert parts == pytest.approx(row.step_s, rel=0.1, abs=2e-3), row
    assert min(row.data_s, row.forward_s, row.backward_s) > 0


@pytest.fixture(scope="module")
def tiny_rows() -> list[PerfRow]:
    """The four SSL methods at tiny size on the CPU (measured once for the module)."""
    rows, skipped = run_perf(PerfOptions(methods=SSL_METHODS, sizes=("tiny",), **FAST))
    assert skipped == []
    return rows


def test_one_row_per_method_and_size_with_positive_figures(tiny_rows: list[PerfRow]) -> None:
    # cpc has no `size` field: it runs once, at its profile config
    assert [(row.method, row.size) for row in tiny_rows] == [
        ("jepa", "tiny"), ("hybrid", "tiny"), ("cpc", "-"), ("stmask", "tiny"),
    ]  # fmt: skip
    for row in tiny_rows:
        assert row.samples_per_s == pytest.approx(4 / row.step_s) and row.samples_per_s > 0
        assert_parts_add_up(row)
        assert row.params > 0 and row.flops_per_step > 0 and row.peak_memory_bytes >= 0
        assert row.device == "cpu" and row.precision == "fp32" and row.steps == 2
        assert row.mfu is None and row.peak_tflops is None  # no known peak on a CPU
    table = format_table(tiny_rows).splitlines()
    assert table[0].split()[:3] == ["method", "size", "params_M"] and len(table) == 5
    header, jepa = table[0].split(), table[1].split()
    assert jepa[:2] == ["jepa", "tiny"] and jepa[header.index("MFU%")] == "-"
    for row in tiny_rows:  # one measured matmul peak per run, shared by the rows
        assert row.matmul_tflops == tiny_rows[0].matmul_tflops > 0
        assert row.matmul_share == pytest.approx(row.achieved_tflops / row.matmul_tflops)
    assert float(jepa[header.index("of_mm%")]) == pytest.approx(
        100 * tiny_rows[0].matmul_share, abs=0.06
    )


def test_parameters_are_the_trainable_ones(tiny_rows: list[PerfRow]) -> None:
    jepa = tiny_rows[0]
    method = METHODS.get("jepa")(METHODS.get("jepa").config_class(), InputSpec(12, 250, 100))
    trainable = sum(p.numel() for p in method.parameters() if p.requires_grad)
    assert jepa.params == trainable < sum(p.numel() for p in method.parameters())  # EMA target
    assert jepa.flops_per_sample == jepa.flops_per_step / 4


def test_cases_are_built_as_the_profile_builds_them() -> None:
    options = PerfOptions(methods=("jepa", "cpc"), profile="paper", device="cpu")
    cases, skipped = plan_cases(options)
    assert skipped == []
    assert [(case.method, case.size) for case in cases] == [("jepa", "base"), ("cpc", "-")]
    # the paper profile feeds each method its paper's input (input: native)
    assert [case.input_spec for case in cases] == [
        InputSpec(8, 2500, 250),
        InputSpec(12, 1000, 100),
    ]
    assert [case.train.batch_size for case in cases] == [64, 32]  # cpc's own paper batch
    assert all(case.train.device == "cpu" for case in cases)
    (small,), _ = plan_cases(PerfOptions(methods=("jepa",), sizes=("small",), batch_size=8))
    assert small.size == small.setup.method_config.size == "small"
    assert small.input_spec == InputSpec(12, 250, 100) and small.train.batch_size == 8


def test_mfu_uses_the_given_peak() -> None:
    options = PerfOptions(methods=("stmask",), peak_tflops=0.5, **FAST)
    (row,), _ = run_perf(options)
    assert row.peak_tflops == 0.5
    assert row.mfu == pytest.approx(row.flops_per_step / row.step_s / 0.5e12)


def test_flops_of_a_linear_model_match_the_analytic_count() -> None:
    batch, d_in, hidden, d_out = 8, 16, 32, 4
    model = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))
    x = torch.randn(batch, d_in)  # no gradient: the first layer computes no input gradient
    assert count_flops(lambda: model(x)) == 2 * batch * (d_in * hidden + hidden * d_out)
    flops = count_flops(lambda: model(x).sum().backward())
    # forward 2BIH + 2BHO; backward: layer 2 input + weight gradients 4BHO, layer 1 weights 2BIH
    assert flops == 4 * batch * d_in * hidden + 6 * batch * hidden * d_out


def test_lstm_flops_are_counted() -> None:
    batch, steps, d_in, hidden = 3, 20, 8, 16
    lstm = nn.LSTM(d_in, hidden, batch_first=True)
    x = torch.randn(batch, steps, d_in)
    forward = count_flops(lambda: lstm(x))
    assert forward == 2 * batch * steps * 4 * hidden * (d_in + hidden)
    both = count_flops(lambda: lstm(x)[0].sum().backward())
    assert 2.5 * forward < both <= 3 * forward


def test_peak_table_and_mfu() -> None:
    assert peak_tflops("NVIDIA H100 80GB HBM3", torch.bfloat16) == 989.0
    assert peak_tflops("NVIDIA H100 PCIe", torch.bfloat16) == 756.0
    assert peak_tflops("NVIDIA H200", torch.bfloat16) == 989.0
    assert peak_tflops("NVIDIA A100-SXM4-80GB", torch.bfloat16) == 312.0
    assert peak_tflops("NVIDIA A100-SXM4-80GB", None) == 19.5
    assert peak_tflops("NVIDIA GeForce GTX 1080", torch.bfloat16) is None
    assert device_peak_tflops(torch.device("cpu"), None) is None
    assert device_peak_tflops(torch.device("cpu"), None, override=100.0) == 100.0
    assert model_flop_utilisation(4 * 10**14, 1.0, 1000.0) == pytest.approx(0.4)
    assert model_flop_utilisation(4 * 10**14, 1.0, None) is None


def test_cpu_peak_memory_is_reset_per_measurement() -> None:
    memory = PeakMemory(torch.device("cpu"))
    if memory.source != "vmhwm":
        pytest.skip("the peak resident set cannot be reset on this platform")
    memory.start()
    block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
    del block
    assert memory.peak_bytes() >= 60 * 2**20
    memory.start()  # the earlier peak is forgotten
    assert memory.peak_bytes() < 16 * 2**20


def test_perf_steps_are_the_training_loop_steps(tmp_path: Path, toys: Any) -> None:
    config = TrainConfig(
        epochs=1, batch_size=8, lr=1e-2, warmup_epochs=0.5, grad_clip=1.0, seed=5, device="cpu"
    )
    signals = toys.signals()
    trained = toys.build()
    pretrain(trained, signals, config, tmp_path / "run", progress=False)
    timed = toys.build()
    loop = TrainingLoop(timed, signals, config, tmp_path / "unused.pt", {})
    seed_everything(config.seed)
    while loop.step < loop.total_steps:
        run_step(loop)
    assert timed.steps_seen == trained.steps_seen
    for key, value in trained.state_dict().items():
        torch.testing.assert_close(timed.state_dict()[key], value, rtol=0, atol=0, msg=key)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"steps": 0}, "--steps"),
        ({"warmup": -1}, "--warmup"),
        ({"batch_size": 0}, "--batch-size"),
        ({"peak_tflops": -1.0}, "--peak-tflops"),
        ({"methods": ("random_init",)}, "baseline"),
        ({"sizes": ("huge",)}, "no method accepts size 'huge'"),
        ({"profile": "smok"}, "did you mean 'smoke'"),
    ],
)
def test_bad_options_fail_clearly(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        run_perf(PerfOptions(**{**FAST, **options}))


def test_cuda_graphs_option_reaches_the_train_config() -> None:
    options = {**FAST, "methods": ("cpc",), "compile": True}
    (case,), _ = plan_cases(PerfOptions(**options, cuda_graphs="never"))
    assert case.train.compile and case.train.cuda_graphs == "never"
    with pytest.raises(ConfigError, match=r"train\.cuda_graphs = 'always' needs"):
        plan_cases(PerfOptions(**options, cuda_graphs="always"))  # on a CPU


def test_unknown_method_suggests_a_name() -> None:
    with pytest.raises(UnknownNameError, match="jepa"):
        run_perf(PerfOptions(methods=("jepaa",), **FAST))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_fails_clearly() -> None:
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        run_perf(PerfOptions(**{**FAST, "methods": ("cpc",), "device": "cuda"}))


def test_command_prints_the_table_and_writes_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "perf.csv"
    argv = ["perf", "--methods", "stmask", "--steps", "2", "--warmup", "0", "--batch-size", "4"]
    assert main([*argv, "--device", "cpu", "--csv", str(path)]) == 0
    out = capsys.readouterr().out
    assert "bench perf: profile smoke, CPU, fp32" in out
    assert any(line.split()[:2] == ["stmask", "tiny"] for line in out.splitlines())
    assert "at 40 % MFU on an H100 (989 TFLOP/s bf16 dense)" in out
    with path.open() as handle:
        (record,) = list(csv.DictReader(handle))
    assert record["method"] == "stmask" and float(record["samples_per_s"]) > 0
    parts = sum(float(record[f"{part}_ms"]) for part in ("data", "forward", "backward"))
    assert parts == pytest.approx(float(record["step_ms"]), rel=0.1, abs=2.0)
    assert record["mfu"] == "" and int(record["flops_per_step"]) > 0
    assert record["cuda_graphs"] == "False"  # never on a CPU
    assert float(record["matmul_share"]) == pytest.approx(
        float(record["achieved_tflops"]) / float(record["matmul_tflops"])
    )


def test_matmul_peak_is_the_best_timed_product(monkeypatch: pytest.MonkeyPatch) -> None:
    times = iter([0.4, 0.1, 0.3, 0.2, 0.5])
    monkeypatch.setattr(matmul_peak, "_timed", lambda a, b: next(times))
    tflops = matmul_peak.measure_matmul_tflops(torch.device("cpu"), None, size=64)
    assert matmul_peak.matmul_flops(64) == 2 * 64**3
    assert tflops == pytest.approx(2 * 64**3 / 0.1 / 1e12)


def test_matmul_peak_on_this_cpu_is_a_plausible_rate() -> None:
    tflops = matmul_peak.measure_matmul_tflops(torch.device("cpu"), None, size=256)
    assert 1e-4 < tflops < 100  # between 0.1 GFLOP/s and 100 TFLOP/s on any CPU


def test_command_rejects_a_csv_in_a_missing_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "perf.csv"
    assert main(["perf", "--methods", "cpc", "--csv", str(missing)]) == 2
    assert "--csv" in capsys.readouterr().err
    assert not missing.parent.exists()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_rows_in_bf16_with_events() -> None:
    options = PerfOptions(methods=("jepa",), steps=3, warmup=2, batch_size=8, device="cuda")
    (row,), _ = run_perf(options)
    assert row.precision == "bf16" and row.device == torch.cuda.get_device_name()
    assert_parts_add_up(row)
    assert row.peak_memory_bytes > 0
    known = peak_tflops(row.device, torch.bfloat16)
    assert (row.mfu is None) == (known is None)
