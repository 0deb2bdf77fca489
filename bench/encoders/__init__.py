"""Shared backbones, found through ``bench.encoders.base.ENCODERS``.

- ``patch_transformer`` (``bench.encoders.patch_transformer``): ViT over (lead x time) patch
  tokens with 2-D sin-cos positions (``bench.encoders.pos_embed``) and full or Cross-Pattern
  attention (``bench.encoders.cropa``: the mask; ``cropa_sparse``: the exact sparse kernel;
  ``cropa_path``: which of the two runs, ``auto`` by device); sizes tiny, small, base.
- ``xresnet1d`` (``bench.encoders.xresnet1d``): the PTB-XL benchmark's 1-D xresnet; sizes tiny,
  xresnet1d50, xresnet1d101.
- ``unet1d`` (``bench.encoders.unet1d``): a small 1-D U-Net, the delineation literature's
  supervised reference (features at stride 1); sizes tiny, small.

``onednn_linear``: an execution option for any module, its ``nn.Linear`` layers' products on
oneDNN on CPU (faster there; equal to float32 rounding), ``train.linear``.

Every encoder has ``embed`` (pooled, [B, embed_dim]) and ``features`` (time-resolved,
[B, T', feature_dim], one step per ``feature_stride`` input samples).

Build one with ``ENCODERS.get(name).from_size(size, input_spec, **overrides)``. The concrete
modules are imported on first registry use, so importing this package stays light. May import
only the ground floor (config, registry, errors, paths, hashing, atomic); never the data layer,
the plugin contracts or any stage above.
"""
