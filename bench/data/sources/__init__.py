"""The dataset plugins, one module per dataset, found by ``bench.data.loading.DATASETS``: PTB-XL
(with its tables), PhysioNet/CinC 2020-21, CPSC 2018, LUDB, MIMIC-IV-ECG, CODE-15%, any WFDB
folder and the synthetic set."""
