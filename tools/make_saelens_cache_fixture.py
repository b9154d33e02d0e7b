"""Write a tiny cached-activation dataset exactly as SAELens's CacheActivationsRunner does
(sae_lens/cache_activations_runner.py: Features {hook_name: Array2D((context_size, d_in), dtype),
"token_ids": Sequence(Value("int32"), length=context_size)}, Dataset.from_dict(...).save_to_disk),
so Ocular's `export harvest --format saelens` can be compared with the real library's layout.

  python tools/make_saelens_cache_fixture.py OUT_DIR
"""

import sys

import numpy as np
from datasets import Array2D, Dataset, Features, Sequence, Value

out = sys.argv[1]
hook, ctx, d_in, n_seq = "blocks.1.hook_resid_post", 2, 3, 2
features = Features(
    {
        hook: Array2D(shape=(ctx, d_in), dtype="float16"),
        "token_ids": Sequence(Value(dtype="int32"), length=ctx),
    }
)
acts = (np.arange(n_seq * ctx * d_in, dtype=np.float32) / 4 - 1).reshape(n_seq, ctx, d_in).astype(np.float16)
tokens = np.arange(n_seq * ctx, dtype=np.int32).reshape(n_seq, ctx) + 100
Dataset.from_dict({hook: acts, "token_ids": tokens}, features=features).save_to_disk(out, num_shards=1)
