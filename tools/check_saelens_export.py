"""One-off check that an `ocular export harvest --format saelens` folder loads the way SAELens's
ActivationsStore.load_cached_activation_dataset loads a cache: datasets.load_from_disk, torch
format on the hook (and token_ids) columns, feature shape == (context_size, d_in).

  python tools/check_saelens_export.py DIR HOOK CONTEXT_SIZE D_IN
"""

import sys

import datasets
import torch

path, hook, ctx, d_in = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ds = datasets.load_from_disk(path)
columns = [hook] + (["token_ids"] if "token_ids" in ds.column_names else [])
ds.set_format(type="torch", columns=columns, dtype=torch.float32)
assert ds.features[hook].shape == (ctx, d_in), ds.features[hook].shape
acts = ds[0 : len(ds)][hook]
print(type(ds.features[hook]).__name__, ds.features[hook].dtype, tuple(acts.shape), acts.flatten()[:6].tolist())
if "token_ids" in columns:
    print("token_ids", ds[0 : len(ds)]["token_ids"].flatten().tolist())
