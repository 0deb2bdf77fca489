"""Named pretraining corpora (``bench list corpora``): the pools published methods used,
as far as the datasets this suite reads can rebuild them (each description says how far)."""

from __future__ import annotations

from bench.data.corpus.spec import CorpusPart, CorpusSpec

CHAPMAN_NINGBO = CorpusPart("cinc2021", ("chapman", "ningbo"))

PRESETS: dict[str, CorpusSpec] = {
    spec.name: spec
    for spec in (
        CorpusSpec(
            "jepa-paper",
            (CHAPMAN_NINGBO, CorpusPart("code15")),
            description="Chapman-Shaoxing + Ningbo (CinC 2021 JS tranche) + CODE-15%, the "
            "sources ECG-JEPA (Kim) pretrained on; the paper used a subset of CODE-15 "
            "(~180k ECGs in all), this takes all of CODE-15% (cap it in a YAML corpus)",
        ),
        CorpusSpec(
            "stmem-paper",
            (CHAPMAN_NINGBO, CorpusPart("code15")),
            description="Chapman-Shaoxing + Ningbo + CODE-15%, the sources ST-MEM names; "
            "its exact record selection is not reproduced",
        ),
        CorpusSpec(
            "cinc2021-all",
            (CorpusPart("cinc2021"),),
            description="every CinC 2021 tranche (88k records, PTB-XL's HR tranche included: "
            "the records in the run's PTB-XL val/test folds are excluded); CPC (Mehari) "
            "pretrained on the CinC 2020 pool plus others",
        ),
        CorpusSpec(
            "cinc2021-no-ptbxl",
            (
                CorpusPart(
                    "cinc2021",
                    ("cpsc", "cpsc-extra", "incart", "ptb", "georgia", "chapman", "ningbo"),
                ),
            ),
            description="CinC 2021 without the PTB-XL (HR) tranche: a corpus disjoint from "
            "PTB-XL by construction",
        ),
        CorpusSpec(
            "mimic-iv-ecg",
            (CorpusPart("mimic-iv-ecg"),),
            description="MIMIC-IV-ECG (~800k ECGs), the core of the JEPA of Weimann & Conrad "
            "(~1.0 M ECGs with other sources not included here)",
        ),
    )
}
