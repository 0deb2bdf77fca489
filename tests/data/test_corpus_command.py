"""``bench data prepare CORPUS`` on a CinC tree and a WFDB folder with a planted leak."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.cli import main
from tests.data.corpus_layouts import write_corpus_layouts


@pytest.mark.slow  # writes and prepares two layouts: about 6 s on a quiet 2-core machine
def test_prepare_a_corpus_reports_exclusions_per_reason(
    fake_ptbxl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    fake = fake_ptbxl(n_records=20, rates=(100,))  # folds cycle 1-10: val 9, 19; test 10, 20
    planted = write_corpus_layouts(tmp_path, fake.signals, id_leaks=(9, 3), print_leaks=(20,))
    monkeypatch.setenv("BENCH_PTBXL_ROOT", str(fake.root))
    args = ["data", "prepare", "cinc2021+wfdb", "--rate", "100", "--cache", str(tmp_path / "c")]
    args += ["--dataset-root", f"cinc2021={planted.cinc}", "--dataset-root", f"wfdb={planted.wfdb}"]
    assert main([*args, "--exclude-for", "ptbxl-superdiagnostic"]) == 0
    out = capsys.readouterr().out
    # 12 JS + 2 HR records; 8 + 1 copied + 2 duplicates in the folder
    assert re.search(r"corpus cinc2021\+wfdb: 21 records \(0\.058 h of ECG at 100 Hz", out)
    assert "excluded: 1 by id, 1 by fingerprint, 2 duplicates" in out
    assert re.search(r"cinc2021\s+13 used of 14 .*excluded id 1 / fingerprint 0", out)
    assert re.search(r"wfdb\s+8 used of 11 .*fingerprint 1 / duplicate 2", out)
    assert "cinc2021:HR00009 = ptbxl:9 (id)" in out
    assert "wfdb:copied/ptbxl20 = ptbxl:20 (fingerprint)" in out
    assert "wfdb:site2/dupJS00001 = cinc2021:JS00001 (duplicate)" in out
    # without tasks to protect only the duplicates go; HR00003 (training fold) is kept anyway
    assert main([*args, "--records", "10"]) == 0
    out = capsys.readouterr().out
    assert "corpus cinc2021+wfdb: 10 records" in out and "a nested subset of 10" in out
    assert "excluded: 0 by id, 0 by fingerprint, 2 duplicates" in out
